"""Shared fixtures: the offline dataset mirror, a data root with CIFAR-10, VOC and KTH trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fixtures import write_kth, write_voc

from agreement_core.data import CIFAR10
from agreement_core.locations import Locations


@pytest.fixture(autouse=True)
def _no_checkout_settings(monkeypatch):
    """The tests say where the data is: the checkout's .agreement.json (written by make for
    notebooks run by hand) must not stand in for an unset variable a test asks about."""
    monkeypatch.setenv("AGREEMENT_SETTINGS", "0")


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The offline mirror: $AGREEMENT_MIRROR, else ../shared/datasets beside the checkout."""
    default = Path(__file__).parents[2] / "shared" / "datasets"
    path = Path(os.environ.get("AGREEMENT_MIRROR") or default)
    if not (path / "cifar10-jpeg.tar.gz").is_file():
        pytest.fail(f"the offline dataset mirror is missing: no cifar10-jpeg.tar.gz in {path}. "
                    f"The tests need it; set AGREEMENT_MIRROR to the folder holding it.",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def data_root(tmp_path_factory, mirror) -> Path:
    """A fresh data root with the CIFAR-10 mirror extracted once for the session."""
    root = tmp_path_factory.mktemp("data")
    CIFAR10("test", root=root, mirror=mirror)
    return root


@pytest.fixture(scope="session")
def locations(data_root, mirror) -> Locations:
    """The session's data root with the mirror, as every layer above the datasets takes them."""
    return Locations(data_root, mirror)


@pytest.fixture(scope="session")
def voc_root(tmp_path_factory) -> Path:
    """A small VOC tree (the folder holding VOCdevkit/); see ``fixtures.VOC_FIXTURE``."""
    return write_voc(tmp_path_factory.mktemp("voc"))


@pytest.fixture(scope="session")
def kth_root(tmp_path_factory) -> Path:
    """A small KTH-TIPS2-b tree: 2 materials x 4 samples x 3 images."""
    return write_kth(tmp_path_factory.mktemp("kth"))


@pytest.fixture(scope="session")
def paper_text(mirror) -> str:
    """The paper's text (../shared/reference beside the mirror), whitespace collapsed."""
    path = mirror.parent / "reference" / "when-deep-classifiers-agree.txt"
    if not path.is_file():
        pytest.fail(f"the paper's text is missing: {path}", pytrace=False)
    return " ".join(path.read_text(encoding="utf-8").split())

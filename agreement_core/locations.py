"""Where things live: the data root, the optional offline mirror, and the results root.

Resolution order for each: an explicit value, then the environment variable, then the
checkout's settings file (``.agreement.json`` in the study's checkout, written by ``make``:
what the set-up chose, so that ``papermill notebooks/... out.ipynb`` typed after ``make
study`` finds the same data without environment variables), then the default.

- ``AGREEMENT_DATA_ROOT``: where datasets are stored or extracted
  (default ``~/.cache/agreement_core/data``).
- ``AGREEMENT_MIRROR``: a directory with the offline mirror archives
  (``cifar10-jpeg.tar.gz``, ``imagenette-128-*.tar.gz``, ``cifar10h-probs.npy``).
  Unset means "no mirror": datasets come from the data root or, where
  torchvision can, are downloaded.
- ``AGREEMENT_RESULTS``: the root of the study's results (default: ``results/`` of the
  repository).

The datasets (:mod:`agreement_core.data`) take ``root`` and ``mirror`` like torchvision's;
everything above them takes one :class:`Locations` instead of threading both (and a results
directory) through every signature.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

DATA_ROOT_ENV = "AGREEMENT_DATA_ROOT"
MIRROR_ENV = "AGREEMENT_MIRROR"
RESULTS_ENV = "AGREEMENT_RESULTS"
PROJECT_ENV = "AGREEMENT_PROJECT"
DEFAULT_DATA_ROOT = Path("~/.cache/agreement_core/data")
#: The checkout's settings file (JSON: ``data_root``, ``mirror``), beside ``_config.yml``.
SETTINGS_FILE = ".agreement.json"
#: Set to "0" to ignore the settings file (the tests do: they say where the data is).
SETTINGS_ENV = "AGREEMENT_SETTINGS"
# The checkout this package was imported from (an installed package: site-packages).
_CHECKOUT = Path(__file__).resolve().parent.parent


def _is_project(path: Path) -> bool:
    return (path / "notebooks").is_dir() and (path / "_config.yml").is_file()


def project_root(project: str | os.PathLike | None = None) -> Path | None:
    """The checkout of the study (``notebooks/``, ``book/``, ``_config.yml``): ``project``,
    else ``$AGREEMENT_PROJECT``, else the checkout this package was imported from, else the
    working directory; None when none of them is one (an installed package used alone).

    Raises
    ------
    ConfigError
        ``project`` or ``$AGREEMENT_PROJECT`` names a folder that is not a checkout.
    """
    for given in (project, os.environ.get(PROJECT_ENV)):
        if given:
            path = Path(given).expanduser().resolve()
            if not _is_project(path):
                raise ConfigError(f"{path} is not a checkout of the study: it has no "
                                  "notebooks/ folder and _config.yml")
            return path
    for path in (_CHECKOUT, Path.cwd()):
        if _is_project(path):
            return path.resolve()
    return None




def project_settings() -> dict[str, str]:
    """The checkout's settings file (:data:`SETTINGS_FILE`), {} when there is none (or
    ``$AGREEMENT_SETTINGS`` is ``0``).

    Raises
    ------
    ConfigError
        The file is not a JSON object of strings (named, with what to do).
    """
    if os.environ.get(SETTINGS_ENV) == "0":
        return {}
    root = project_root()
    path = root / SETTINGS_FILE if root is not None else None
    if path is None or not path.is_file():
        return {}
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path} is not readable JSON ({error}); delete it or rerun "
                          "'make install'") from None
    if not isinstance(settings, dict) or not all(isinstance(v, str) for v in settings.values()):
        raise ConfigError(f"{path} must hold a JSON object of paths (data_root, mirror); "
                          "delete it or rerun 'make install'")
    return settings


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Return the data root: ``root``, else ``$AGREEMENT_DATA_ROOT``, else the checkout's
    settings file, else the default."""
    value = (root if root is not None else os.environ.get(DATA_ROOT_ENV)
             or project_settings().get("data_root") or DEFAULT_DATA_ROOT)
    return Path(value).expanduser()


def mirror_dir(mirror: str | os.PathLike | None = None) -> Path | None:
    """Return the mirror directory: ``mirror``, else ``$AGREEMENT_MIRROR``, else the
    checkout's settings file, else ``None``."""
    value = (mirror if mirror is not None else os.environ.get(MIRROR_ENV)
             or project_settings().get("mirror"))
    return Path(value).expanduser() if value else None


def results_root(results: str | os.PathLike | None = None) -> Path:
    """Return the results root: ``results``, else ``$AGREEMENT_RESULTS``, else ``results/`` of
    the study's checkout (:func:`project_root`), else ``./results``."""
    value = results if results is not None else os.environ.get(RESULTS_ENV)
    if not value:  # a checkout keeps its results in results/; a bare install in ./results
        value = (project_root() or Path.cwd()) / "results"
    return Path(value).expanduser()


@dataclass(frozen=True)
class Locations:
    """Where datasets come from and where results go, carried as one value.

    ``None`` fields resolve from the environment when used (see the module
    docstring), so a notebook or a build that was given nothing shows no
    machine-specific path.

    Examples
    --------
    >>> Locations(data_root="/data").root
    PosixPath('/data')
    """

    data_root: str | os.PathLike | None = None
    mirror: str | os.PathLike | None = None
    results: str | os.PathLike | None = None

    @property
    def root(self) -> Path:
        """The resolved data root."""
        return data_root(self.data_root)

    @property
    def mirror_dir(self) -> Path | None:
        """The resolved mirror directory, or None."""
        return mirror_dir(self.mirror)

    @property
    def results_root(self) -> Path:
        """The resolved results root."""
        return results_root(self.results)

    def explicit(self) -> dict[str, str]:
        """The fields that were given, as absolute path strings (for papermill parameters)."""
        return {name: str(Path(value).resolve())
                for name, value in (("data_root", self.data_root), ("mirror", self.mirror),
                                    ("results_dir", self.results))
                if value is not None}

"""The Describable Textures Dataset (DTD), with its own train / validation / test splits.

A real texture dataset: the offline stand-in for KTH-TIPS2-b (as Imagenette stands in for
ImageNet), without KTH's illumination, pose and scale factors.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .. import locations
from ..errors import ConfigError, DatasetError
from .archive import extract_from_mirror
from .base import ImageDataset, Subset

MIRROR_ARCHIVE = "dtd10.tar.gz"
#: Where the mirror's archive is extracted, under the data root (a user's full DTD at
#: ``<data root>/dtd`` is read first).
MIRROR_FOLDER = "dtd10"
#: The image lists of each split of fold ``i`` (DTD ships ten folds, 1..10).
SPLIT_FILES = {"train": ("train{fold}.txt", "val{fold}.txt"), "test": ("test{fold}.txt",)}
FOLDS = range(1, 11)
_MIRROR_MANIFEST_COLUMNS = ("path", "class", "split")
DTD_URL = "https://www.robots.ox.ac.uk/~vgg/data/dtd/ (dtd-r1.0.1.tar.gz)"
MIRROR_CAVEAT = (
    "DTD from the offline mirror: 10 of DTD's 47 classes (banded, blotchy, braided, bubbly, "
    "bumpy, chequered, cobwebbed, cracked, crosshatched, crystalline), 120 images each, "
    "DTD's split 1 (train = train1 + val1, 80 per class; test = test1, 40 per class); "
    "images resized to short side 256 (manifest.csv keeps the original sizes). A stand-in "
    "for KTH-TIPS2-b: no illumination, pose or scale factors.")


class DTD(ImageDataset):
    """DTD: ``<folder>/images/<class>/<name>.jpg`` with ``labels/{train,val,test}<fold>.txt``.

    The label is the texture class; ``classes`` are the class folders of
    ``images/``, sorted (47 in the official DTD, 10 in the mirror's). ``"train"``
    is ``train<fold>.txt`` followed by ``val<fold>.txt``, ``"test"`` is
    ``test<fold>.txt``; the example id is the position in that order (the order
    of the lines). Images differ in size: train with ``image_size`` (or pass
    ``size=`` to :meth:`load_array`).

    Columns besides the label: ``class_name`` and ``image_set`` (the list file the
    image comes from, e.g. ``"val1"``). There are no other factors.

    Where the images come from, in order: ``root`` itself when it holds
    ``images/`` and ``labels/``, ``root/dtd`` (a user's DTD, e.g. the official
    ``dtd-r1.0.1.tar.gz`` extracted into the data root), ``root/dtd10`` (the
    extracted mirror), then ``dtd10.tar.gz`` in ``mirror``, extracted there once.
    :attr:`source` is ``"dtd"`` for a user's copy, ``"mirror-dtd10"`` for the mirror's.

    Parameters
    ----------
    split : {"train", "test"}
    root : path, optional
        The data root or a DTD folder (default :func:`agreement_core.locations.data_root`).
    mirror : path, optional
        Offline mirror directory (default ``$AGREEMENT_MIRROR``), holding ``dtd10.tar.gz``.
    transform : callable, optional
        Applied to the PIL image in ``__getitem__``.
    subset : int, float or None
        See :func:`~agreement_core.data.select_subset`.
    fold : int
        DTD's split number, 1..10 (the mirror ships fold 1 only).
    """

    splits = ("train", "test")

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None,
                 mirror: str | os.PathLike | None = None, transform: Callable | None = None,
                 subset: Subset = None, fold: int = 1):
        split = self.check_split(split)
        if isinstance(fold, bool) or fold not in FOLDS:
            raise ConfigError(f"fold must be one of DTD's splits 1..10, got {fold!r}")
        folder = find_dtd(locations.data_root(root), mirror)
        from_mirror = is_mirror_dtd(folder)
        classes = sorted(p.name for p in (folder / "images").iterdir() if p.is_dir())
        if not classes:
            raise DatasetError(f"{folder / 'images'} holds no class folders")
        index = {name: k for k, name in enumerate(classes)}
        rows = []
        for pattern in SPLIT_FILES[split]:
            list_file = folder / "labels" / pattern.format(fold=fold)
            if not list_file.is_file():
                raise DatasetError(f"{list_file} not found: {folder} is not a DTD folder "
                                   f"(images/<class>/*.jpg, labels/train<i>.txt, val<i>.txt, "
                                   f"test<i>.txt)")
            for number, line in enumerate(list_file.read_text().splitlines(), start=1):
                name = line.strip()
                if not name:
                    continue
                class_name = name.split("/")[0]
                if name.count("/") != 1 or class_name not in index:
                    raise DatasetError(f"{list_file}, line {number}: {name!r} is not "
                                       f"<class>/<image> with a class folder of images/")
                rows.append((f"images/{name}", index[class_name], class_name, list_file.stem))
        examples = pd.DataFrame(rows, columns=["path", "label", "class_name", "image_set"])
        if examples["path"].duplicated().any():
            twice = examples["path"][examples["path"].duplicated()].iloc[0]
            raise DatasetError(f"{twice} is listed twice in the {split} split of {folder}")
        missing = [p for p in examples["path"] if not (folder / p).is_file()]
        if missing:
            raise DatasetError(f"{len(missing)} images of the {split} split are missing "
                               f"under {folder}, e.g. {folder / missing[0]}")
        examples.insert(0, "example_id", np.arange(len(examples), dtype=np.int64))
        examples.insert(1, "split", split)
        self.fold = fold
        super().__init__(split, folder, classes, examples,
                         source="mirror-dtd10" if from_mirror else "dtd",
                         caveat=MIRROR_CAVEAT if from_mirror else None,
                         transform=transform, subset=subset)


def _is_dtd(folder: Path) -> bool:
    return (folder / "images").is_dir() and (folder / "labels").is_dir()


def find_dtd(base: Path, mirror: str | os.PathLike | None = None) -> Path:
    """The DTD folder to read: ``base``, ``base/dtd``, ``base/dtd10``, or the mirror's archive.

    Raises
    ------
    DatasetError
        Nothing found, saying what to download; or the archive is corrupt.
    """
    extracted = base / MIRROR_FOLDER
    for candidate in (base, base / "dtd", extracted):
        if _is_dtd(candidate):
            return candidate
    found, tried = extract_from_mirror(mirror, MIRROR_ARCHIVE, extracted, "dtd")
    if found is not None:
        return found
    raise DatasetError(
        f"DTD not found: no {base / 'dtd'} (images/, labels/), no {extracted}, {tried}. "
        f"Download {DTD_URL} and extract it into {base} (giving {base / 'dtd'}), or set "
        f"AGREEMENT_MIRROR to a folder holding {MIRROR_ARCHIVE}.")


def is_mirror_dtd(folder: Path) -> bool:
    """Whether ``folder`` is the offline mirror's 10-class DTD (by its manifest)."""
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        return False
    with open(manifest) as fh:
        header = fh.readline().strip().split(",")
    return tuple(header[:len(_MIRROR_MANIFEST_COLUMNS)]) == _MIRROR_MANIFEST_COLUMNS

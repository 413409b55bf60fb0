"""ImageNet from any ImageFolder tree, and Imagenette (the offline stand-in) through it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .. import locations
from ..errors import DatasetError
from .archive import extract_archive
from .base import ImageDataset, Subset

IMAGENETTE_MANIFEST = "imagenette-128-manifest.csv"


class ImageNet(ImageDataset):
    """ImageNet (or any ImageFolder tree): ``<root>/{train,val}/<wnid>/<image>``.

    The canonical order is ImageFolder's: sorted class folders, then sorted file
    names; the example id is the position in that order. ``classes`` are the
    class folder names (wnids); the ``class_name`` column holds readable names
    where the mirror's Imagenette manifest knows them, else the wnid.

    Parameters
    ----------
    split : {"train", "val", "test"}
        ``"test"`` is an alias of ``"val"`` (studies use train/test).
    root : path, optional
        The folder holding ``train/`` and ``val/``, or a data root holding
        ``imagenet/`` (default :func:`agreement_core.locations.data_root`).
    mirror : path, optional
        Offline mirror directory (default ``$AGREEMENT_MIRROR``), read only for
        class names (``imagenette-128-manifest.csv``).
    transform : callable, optional
        Applied to the PIL image in ``__getitem__``.
    subset : int, float or None
        See :func:`~agreement_core.data.select_subset`.
    """

    splits = ("train", "val", "test")

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None,
                 mirror: str | os.PathLike | None = None, transform: Callable | None = None,
                 subset: Subset = None):
        split = _canonical_split(self.check_split(split))
        base = locations.data_root(root)
        folder = base
        if not (base / split).is_dir() and (base / "imagenet").is_dir():
            folder = base / "imagenet"  # root is a data root holding imagenet/
        split_dir = folder / split
        if not split_dir.is_dir():
            raise DatasetError(f"{split_dir} not found: an ImageNet root holds train/ and val/, "
                               f"each with one folder of images per class")
        # torchvision's own helpers guarantee ImageFolder's order; imported here because
        # importing torchvision costs a second that the other datasets need not pay.
        from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

        try:
            wnids, class_to_idx = find_classes(str(split_dir))
            samples = make_dataset(str(split_dir), class_to_idx, extensions=IMG_EXTENSIONS)
        except FileNotFoundError as exc:
            raise DatasetError(f"{split_dir}: {exc}") from exc
        names = _imagenette_names(locations.mirror_dir(mirror))
        labels = np.array([label for _, label in samples], dtype=np.int64)
        examples = pd.DataFrame({
            "example_id": np.arange(len(samples), dtype=np.int64), "split": split,
            "label": labels, "wnid": [wnids[k] for k in labels],
            "class_name": [names.get(wnids[k], wnids[k]) for k in labels],
            "path": [Path(path).relative_to(folder).as_posix() for path, _ in samples]})
        super().__init__(split, folder, wnids, examples, source="imagefolder",
                         transform=transform, subset=subset)


def imagenette(split: str = "train", root: str | os.PathLike | None = None,
               mirror: str | os.PathLike | None = None, transform: Callable | None = None,
               subset: Subset = None) -> ImageNet:
    """Imagenette (10 ImageNet classes, 128x128) as an :class:`ImageNet` over ``<root>/imagenette``.

    A missing split is extracted once from ``imagenette-128-<split>.tar.gz`` in
    the mirror. Parameters as for :class:`ImageNet`; ``root`` is the data root.
    """
    split = _canonical_split(ImageNet.check_split(split))
    folder = locations.data_root(root) / "imagenette"
    if not (folder / split).is_dir():
        mirror_dir = locations.mirror_dir(mirror)
        archive = f"imagenette-128-{split}.tar.gz"
        if mirror_dir is None:
            raise DatasetError(f"{folder / split} not found and no mirror given: set "
                               f"AGREEMENT_MIRROR or pass mirror= (a folder holding {archive})")
        extract_archive(mirror_dir / archive, folder / split, f"imagenette/{split}")
    return ImageNet(split, root=folder, mirror=mirror, transform=transform, subset=subset)


def _canonical_split(split: str) -> str:
    return "val" if split == "test" else split


def _imagenette_names(mirror_dir: Path | None) -> dict[str, str]:
    """wnid -> class name from the mirror's Imagenette manifest; empty without one."""
    manifest = mirror_dir / IMAGENETTE_MANIFEST if mirror_dir is not None else None
    if manifest is None or not manifest.is_file():
        return {}
    table = pd.read_csv(manifest, usecols=["wnid", "class_name"]).drop_duplicates("wnid")
    return dict(zip(table["wnid"], table["class_name"], strict=True))

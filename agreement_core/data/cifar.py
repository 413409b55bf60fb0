"""CIFAR-10 from torchvision's python batches or from the offline JPEG mirror."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .. import locations
from .._io import atomic_path
from ..errors import DatasetError
from .archive import extract_archive
from .base import ImageDataset, Subset, check_size, open_rgb, stack_images, to_array

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
TORCHVISION_FOLDER = "cifar-10-batches-py"
MIRROR_FOLDER = "cifar10"
MIRROR_ARCHIVE = "cifar10-jpeg.tar.gz"
MIRROR_CAVEAT = (
    "CIFAR-10 from the offline JPEG mirror: images are JPEG re-encodings (quality ~75) of the "
    "original pixels and every train image is shifted one pixel to the left, so high-frequency "
    "image statistics (DCT share, entropy, edges) are biased and differ between train and "
    "test; results to compare with published numbers need the original CIFAR-10.")


class CIFAR10(ImageDataset):
    """CIFAR-10, 50,000 train and 10,000 test 32x32 images of 10 classes.

    The example id is the position in the original python batches (train:
    ``data_batch_1..5`` concatenated; test: ``test_batch``), as in
    ``torchvision.datasets.CIFAR10`` and the rows of CIFAR-10H.

    Parameters
    ----------
    split : {"train", "test"}
    root : path, optional
        Data root (default :func:`agreement_core.locations.data_root`). Sources, in
        order: ``<root>/cifar-10-batches-py/`` (torchvision), ``<root>/cifar10/``
        (extracted mirror), ``cifar10-jpeg.tar.gz`` in ``mirror`` (extracted
        once into ``<root>/cifar10/``), a torchvision download if ``download``.
    mirror : path, optional
        Offline mirror directory (default ``$AGREEMENT_MIRROR``).
    download : bool
        Let torchvision download CIFAR-10 into ``root`` (needs internet).
    transform : callable, optional
        Applied to the PIL image in ``__getitem__``.
    subset : int, float or None
        See :func:`~agreement_core.data.select_subset`.
    """

    splits = ("train", "test")

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None,
                 mirror: str | os.PathLike | None = None, download: bool = False,
                 transform: Callable | None = None, subset: Subset = None):
        split = self.check_split(split)
        data_root = locations.data_root(root)
        mirror_dir = locations.mirror_dir(mirror)
        extracted = data_root / MIRROR_FOLDER
        archive = mirror_dir / MIRROR_ARCHIVE if mirror_dir is not None else None
        self._pixels: np.ndarray | None = None  # the full split, when it comes as an array
        if (data_root / TORCHVISION_FOLDER).is_dir():
            examples = self._read_torchvision(data_root, split, download=False)
            dataset_root, source, caveat = data_root, "torchvision", None
        elif extracted.is_dir() or (archive is not None and archive.is_file()):
            if not extracted.is_dir():
                extract_archive(archive, extracted, MIRROR_FOLDER)
            examples = _read_manifest(extracted, split)
            dataset_root, source, caveat = extracted, "mirror-jpeg", MIRROR_CAVEAT
        elif download:
            examples = self._read_torchvision(data_root, split, download=True)
            dataset_root, source, caveat = data_root, "torchvision", None
        else:
            tried = f"no {archive}" if archive else "no mirror given (AGREEMENT_MIRROR unset)"
            raise DatasetError(
                f"CIFAR-10 not found: no {data_root / TORCHVISION_FOLDER}, no {extracted}, "
                f"{tried}. Set AGREEMENT_MIRROR or pass mirror= (a folder holding "
                f"{MIRROR_ARCHIVE}), or pass download=True on a machine with internet access.")
        self._full_paths = examples["path"].tolist()
        super().__init__(split, dataset_root, CIFAR10_CLASSES, examples, source=source,
                         caveat=caveat, transform=transform, subset=subset)

    def _read_torchvision(self, data_root: Path, split: str, download: bool) -> pd.DataFrame:
        import torchvision  # imported here: it costs a second and the mirror does not need it

        try:
            tv = torchvision.datasets.CIFAR10(str(data_root), train=split == "train",
                                              download=download)
        except RuntimeError as exc:
            raise DatasetError(f"cannot read CIFAR-10 from {data_root / TORCHVISION_FOLDER}: "
                               f"{exc}") from exc
        self._pixels = tv.data
        labels = np.asarray(tv.targets, dtype=np.int64)
        return pd.DataFrame({
            "example_id": np.arange(len(labels), dtype=np.int64), "split": split,
            "label": labels, "class_name": [CIFAR10_CLASSES[k] for k in labels], "path": None})

    def load_image(self, index: int) -> Image.Image:
        if self._pixels is not None:
            return Image.fromarray(self._pixels[self.example_ids[index]])
        return super().load_image(index)

    def load_array(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """Decoded images in the order of ``examples``, uint8 (N, 32, 32, 3) or ``size``.

        From the mirror, the whole split is decoded once and cached as
        ``<root>/cifar10/<split>_uint8.npy``; later calls only index it.
        """
        size = check_size(size)
        images = self.load_batch(np.arange(len(self)))
        if size is None or size == images.shape[1:3]:
            return images
        return np.stack([to_array(Image.fromarray(image), size) for image in images])

    def load_batch(self, rows) -> np.ndarray:
        """Images of ``rows`` (positions in ``examples``), uint8 (n, 32, 32, 3), from the cache."""
        full = self._pixels if self._pixels is not None else self._cached_split()
        return np.asarray(full[self.example_ids[np.asarray(rows, dtype=np.int64)]])

    def _cached_split(self) -> np.ndarray:
        cache = self.root / f"{self.split}_uint8.npy"
        expected = (len(self._full_paths), 32, 32, 3)
        try:
            full = np.load(cache, mmap_mode="r")
            if full.shape == expected and full.dtype == np.uint8:
                return full
        except (OSError, ValueError, EOFError):
            pass  # missing or damaged: decode again below
        paths_ = self._full_paths
        full = stack_images((open_rgb(self.root / p) for p in paths_), paths_, None)
        if full.shape != expected:
            raise DatasetError(f"images under {self.root} are not all 32x32")
        with atomic_path(cache) as tmp, open(tmp, "wb") as fh:
            np.save(fh, full)
        return full


def _read_manifest(folder: Path, split: str) -> pd.DataFrame:
    """The rows of ``split`` in the mirror's manifest.csv, checked and in id order."""
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        raise DatasetError(f"{manifest} not found; {folder} is not an extracted CIFAR-10 "
                           f"mirror (remove it to extract {MIRROR_ARCHIVE} again)")
    table = pd.read_csv(manifest)
    missing = {"split", "index", "label", "class_name", "path"} - set(table.columns)
    if missing:
        raise DatasetError(f"{manifest} lacks the columns {sorted(missing)}")
    table = table[table["split"] == split].sort_values("index", kind="stable")
    ids = table["index"].to_numpy(dtype=np.int64)
    if not np.array_equal(ids, np.arange(len(ids))):
        raise DatasetError(f"{manifest}: the {split} indices are not 0..{len(ids) - 1}")
    if any(CIFAR10_CLASSES[k] != name for k, name in zip(table["label"], table["class_name"],
                                                        strict=True)):
        raise DatasetError(f"{manifest}: labels do not follow the standard CIFAR-10 class order")
    return pd.DataFrame({
        "example_id": ids, "split": split, "label": table["label"].to_numpy(dtype=np.int64),
        "class_name": table["class_name"].to_numpy(), "path": table["path"].to_numpy()})

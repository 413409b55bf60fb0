"""The dataset base class, subset selection and image decoding shared by all datasets."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import ConfigError, DatasetError

Subset = int | float | None


def check_subset(subset: Subset, name: str = "subset") -> Subset:
    """Return ``subset`` if it is a valid subset, else raise :class:`ConfigError` naming ``name``.

    Valid: ``None`` (all), an int ``>= 1`` (examples per class) or a float in (0, 1]
    (a fraction of each class). Only the form is checked here; :func:`select_subset`
    also checks an int against the class sizes.
    """
    if subset is None:
        return None
    # bool is an int subclass; a stray True must not mean "one per class".
    is_int = isinstance(subset, numbers.Integral) and not isinstance(subset, bool)
    is_fraction = isinstance(subset, numbers.Real) and not isinstance(subset, numbers.Integral)
    if not ((is_int and subset >= 1) or (is_fraction and 0 < subset <= 1)):
        raise ConfigError(f"{name} must be 'all' (None), a number of images per class >= 1 "
                          f"or a fraction of each class in (0, 1]; got {subset!r}")
    return subset


def select_subset(examples: pd.DataFrame, subset: Subset) -> np.ndarray:
    """Return the row positions of ``examples`` kept by ``subset``, in ascending order.

    Parameters
    ----------
    examples : pandas.DataFrame
        One row per example in id order, with a ``label`` column (single-label)
        or a ``labels`` column (multi-label).
    subset : int, float or None
        ``None`` keeps everything. An int ``n`` keeps the first ``n`` examples of
        each class, all of a class that has fewer (multi-label: the first ``n``
        examples). A float ``f`` in (0, 1] keeps the first ``ceil(f * n_class)``
        examples of each class (multi-label: the first ``ceil(f * N)``).

    Returns
    -------
    numpy.ndarray
        int64 row positions.

    Raises
    ------
    ConfigError
        (a ``ValueError``) If ``subset`` is not None, a positive int or a float in (0, 1],
        or if an int ``n`` is more than the largest class holds (multi-label: more than
        the split holds): that ``n`` would silently mean "all", which is spelled ``None``.
    """
    n_rows = len(examples)
    subset = check_subset(subset)
    if subset is None:
        return np.arange(n_rows, dtype=np.int64)
    if isinstance(subset, numbers.Integral):
        def keep(n):
            return min(int(subset), n)
    else:
        def keep(n):
            # The tolerance stops float noise (0.1 * 30 = 3.0000000000000004) adding one.
            return math.ceil(float(subset) * n - 1e-9)

    if "label" not in examples.columns:
        if isinstance(subset, numbers.Integral) and subset > n_rows:
            raise ConfigError(f"subset {subset} is more than the split holds ({n_rows} "
                              f"examples); use 'all' (None) for every example")
        return np.arange(keep(n_rows), dtype=np.int64)
    rank = examples.groupby("label", sort=False).cumcount().to_numpy()
    sizes = examples.groupby("label", sort=False)["label"].transform("size").to_numpy()
    if isinstance(subset, numbers.Integral) and n_rows and subset > sizes.max():
        raise ConfigError(f"subset {subset} per class is more than the largest class holds "
                          f"({sizes.max()} examples); use 'all' (None) for every example")
    limit = np.array([keep(n) for n in sizes], dtype=np.int64)
    return np.flatnonzero(rank < limit).astype(np.int64)


def open_rgb(path: Path) -> Image.Image:
    """Decode the image at ``path`` as RGB; an unreadable file is a :class:`DatasetError`."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from exc


def to_array(image: Image.Image, size: tuple[int, int] | None) -> np.ndarray:
    """RGB image -> uint8 (H, W, 3), resized to ``size = (h, w)`` when given."""
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def check_size(size) -> tuple[int, int] | None:
    """Validate a ``(h, w)`` size argument."""
    if size is None:
        return None
    if len(size) != 2 or not all(isinstance(s, numbers.Integral) and s > 0 for s in size):
        raise ValueError(f"size must be (height, width) with positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def stack_images(images, paths: Sequence[str], size: tuple[int, int] | None) -> np.ndarray:
    """Stack RGB images into uint8 (N, H, W, 3); mixed sizes need ``size``."""
    arrays = []
    for image, path in zip(images, paths, strict=True):
        array = to_array(image, size)
        if arrays and array.shape != arrays[0].shape:
            raise ValueError(
                f"images have different sizes ({arrays[0].shape[:2]} and {array.shape[:2]} "
                f"at {path}); pass size=(h, w) to load_array")
        arrays.append(array)
    if not arrays:
        h, w = size or (0, 0)
        return np.zeros((0, h, w, 3), dtype=np.uint8)
    return np.stack(arrays)


class ImageDataset(Dataset):
    """A split of an image classification dataset with stable example ids.

    Subclasses build the table of the full split and pass it to ``__init__``,
    which applies the subset. ``ds[i]`` is ``(image, target, example_id)``.

    Attributes
    ----------
    examples : pandas.DataFrame
        One row per example, in id order: ``example_id``, ``split``, ``label``
        (or ``labels`` when multi-label), ``path`` and dataset-specific factors.
    classes : list of str
        Class names; a label is an index into this list.
    split, root, source, caveat
        The split name, the folder ``path`` is relative to, where the images
        come from, and a warning about the data (or ``None``).
    """

    splits: tuple[str, ...] = ()
    multilabel = False

    def __init__(self, split: str, root: Path, classes: Sequence[str], examples: pd.DataFrame,
                 *, source: str, caveat: str | None = None,
                 transform: Callable | None = None, subset: Subset = None):
        try:
            keep = select_subset(examples, subset)
        except ConfigError as error:  # say which dataset and split the subset was for
            raise ConfigError(f"{type(self).__name__} {split} split: {error}") from None
        self.split = split
        self.root = Path(root)
        self.classes = list(classes)
        self.source = source
        self.caveat = caveat
        self.transform = transform
        self.examples = examples.iloc[keep].reset_index(drop=True)
        self.examples["example_id"] = self.examples["example_id"].astype(np.int64)
        # Own copies: pandas hands out read-only views, which torch warns about.
        self.example_ids = np.array(self.examples["example_id"], dtype=np.int64)
        if self.multilabel:
            self.targets = np.zeros((len(self.examples), len(self.classes)), dtype=bool)
            for row, labels in enumerate(self.examples["labels"]):
                self.targets[row, list(labels)] = True
        else:
            self.targets = np.array(self.examples["label"], dtype=np.int64)

    @classmethod
    def check_split(cls, split: str) -> str:
        """Return ``split`` if valid, else raise :class:`ConfigError` listing the valid ones."""
        if split not in cls.splits:
            raise ConfigError(f"{cls.__name__} has no split {split!r}; valid: {list(cls.splits)}")
        return split

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int):
        image = self.load_image(index)
        if self.transform is not None:
            image = self.transform(image)
        if self.multilabel:
            target = torch.from_numpy(self.targets[index].astype(np.float32))
        else:
            target = int(self.targets[index])
        return image, target, int(self.example_ids[index])

    def load_image(self, index: int) -> Image.Image:
        """The RGB image of row ``index``, without the transform."""
        return open_rgb(self.root / self.examples["path"].iat[index])

    def load_array(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """Decode every image of the split at once, in the order of ``examples``.

        Parameters
        ----------
        size : (int, int), optional
            Resize every image to ``(h, w)``. Required when the images differ in size.

        Returns
        -------
        numpy.ndarray
            uint8 (N, H, W, 3).
        """
        size = check_size(size)
        paths = list(self.examples["path"])
        return stack_images((open_rgb(self.root / p) for p in paths), paths, size)

    def load_batch(self, rows: Sequence[int]) -> np.ndarray | list[np.ndarray]:
        """Decode the images of ``rows`` (positions in ``examples``) at their original size.

        Returns a uint8 (n, H, W, 3) array when all have one size, else a list of
        uint8 (H_i, W_i, 3) arrays. Used by the statistics engine, which needs the
        original, uncropped images.
        """
        arrays = [np.asarray(self.load_image(int(row)), dtype=np.uint8) for row in rows]
        if len({a.shape for a in arrays}) <= 1 and arrays:
            return np.stack(arrays)
        return arrays

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, n={len(self)}, "
                f"classes={self.num_classes}, source={self.source!r}, root={str(self.root)!r})")

"""Any map-style dataset as one of ours: stable example ids without writing a loader class.

:func:`wrap_dataset` takes a torchvision-style dataset (``ds[i]`` is ``(input, label)``) or a
table of records (``ds[i]`` is a mapping, as a Hugging Face ``datasets.Dataset`` gives) and
returns an :class:`~agreement_core.data.ImageDataset`: ``ds[i]`` is ``(input, target,
example_id)``, with ``example_ids``, ``targets`` and ``classes``, so the recorder and every
analysis work on it.

The input is handed on exactly as the dataset gives it (then through ``transform``): a
normalised float tensor stays that tensor, with its channels; a text or a row of features
too. Only :meth:`WrappedDataset.load_image` (what the image statistics read) turns images
into 8-bit RGB, and it refuses inputs that are not 8-bit images instead of guessing a scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..errors import ConfigError
from .base import ImageDataset, stack_images


def _column(dataset, key: str) -> np.ndarray | None:
    """A whole column of a table dataset (Hugging Face: ``ds["label"]``), or None."""
    try:
        values = dataset[key]
    except (KeyError, TypeError, IndexError, ValueError):
        return None
    return None if isinstance(values, Mapping) else np.asarray(values)


def _as_image(value, where: str) -> Image.Image:
    """An 8-bit image (PIL, or an HWC/CHW uint8 array) as RGB, for the image statistics;
    anything else is an error, not a guessed conversion."""
    if isinstance(value, Image.Image):
        return value.convert("RGB")
    array = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ConfigError(f"{where} is a {array.dtype} array of shape {array.shape}, not an "
                          "8-bit image: the image statistics need the images before "
                          "ToTensor/Normalize (wrap the dataset without its transform, and "
                          "pass the transform to wrap_dataset)")
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)  # CHW -> HWC
    if array.ndim == 2 or array.shape[-1] == 1:
        array = np.repeat(array.reshape(array.shape[0], array.shape[1], 1), 3, axis=2)
    return Image.fromarray(array, "RGB")


class WrappedDataset(ImageDataset):
    """A map-style dataset with stable example ids (made by :func:`wrap_dataset`)."""

    def __init__(self, dataset, *, split: str, classes: Sequence[str], ids: np.ndarray,
                 labels: np.ndarray, image_key, id_key: str | None, transform=None,
                 name: str = "custom", label_key=None):
        self.splits = (split,)
        self.name = name
        self.dataset = dataset
        self.image_key = image_key
        self.label_key = label_key
        self.id_key = id_key
        examples = pd.DataFrame({"example_id": ids, "split": split, "label": labels,
                                 "path": None})
        super().__init__(split, Path("."), classes, examples, source=f"wrapped:{name}",
                         transform=transform)

    def _item(self, index: int):
        item = self.dataset[int(index)]
        if self.id_key is not None:
            found = item[self.id_key]
            if int(found) != int(self.example_ids[index]):
                raise ConfigError(f"{self.name}: row {index} now has id {found}, but had "
                                  f"{self.example_ids[index]} when it was wrapped: the "
                                  "dataset's order is not stable")
        return item

    def _input(self, item):
        if self.image_key is not None:
            return item[self.image_key]
        # A row without one input column: its features (all but the label and the id).
        rest = {k: v for k, v in item.items() if k not in (self.label_key, self.id_key)}
        return next(iter(rest.values())) if len(rest) == 1 else rest

    def __getitem__(self, index: int):
        """``(input, target, example_id)``: the dataset's input unchanged (a float tensor
        keeps its values and channels), through ``transform`` if one was given."""
        value = self._input(self._item(index))
        if self.transform is not None:
            value = self.transform(value)
        return value, int(self.targets[index]), int(self.example_ids[index])

    def load_image(self, index: int) -> Image.Image:
        """The 8-bit RGB image of row ``index`` (the image statistics); an error for
        inputs that are not 8-bit images."""
        return _as_image(self._input(self._item(index)), f"{self.name}[{index}]")

    def load_array(self, size: tuple[int, int] | None = None) -> np.ndarray:
        names = [f"{self.name}[{i}]" for i in range(len(self))]
        return stack_images((self.load_image(i) for i in range(len(self))), names, size)


def wrap_dataset(dataset, *, classes: Sequence[str] | None = None, ids=None,
                 image_key: str | int | None = None, label_key: str | int | None = None,
                 id_key: str | None = None, split: str = "train", transform=None,
                 name: str = "custom") -> WrappedDataset:
    """Wrap a map-style dataset into the library's dataset interface, with stable ids.

    Parameters
    ----------
    dataset
        ``len(dataset)`` and ``dataset[i]``: a tuple ``(image, label, ...)`` (torchvision)
        or a mapping (a Hugging Face ``datasets.Dataset`` row). The input may be anything
        (a PIL image, a float tensor, a text, a feature vector); ``ds[i]`` hands it on
        unchanged.
    classes : sequence of str, optional
        Class names; default ``dataset.classes``, or the Hugging Face label feature's
        names, or ``"0"``, ``"1"``, ...
    ids : array_like of int, optional
        One id per row; default a column ``id_key`` of the table, else the row index
        (stable as long as the dataset's order is).
    image_key, label_key : str or int, optional
        Where the input (image, text, features) and the label are in an item: defaults 0
        and 1 for tuples; for mappings ``"image"``/``"img"`` and ``"label"``, and a row
        without an image column gives its other columns (the one value when only one is
        left, e.g. ``"text"``; else a dict), leaving out the label and ``id_key``.
    id_key : str, optional
        A column of ids in a table; checked again on every read (a reordered dataset is an
        error, not silently wrong records).
    split, name : str
        How the wrapped split is named in messages and captions.

    Raises
    ------
    ConfigError
        Ids not unique, not integers, or not one per row; labels that are not integers.
    """
    n = len(dataset)
    if n == 0:
        raise ConfigError(f"{name}: the dataset is empty")
    first = dataset[0]
    table = isinstance(first, Mapping)
    if table:
        image_key = image_key or next((k for k in ("image", "img") if k in first), None)
        label_key = label_key or "label"
        if label_key not in first or (image_key is not None and image_key not in first):
            raise ConfigError(f"{name}: items have keys {sorted(first)}; name the input and "
                              "label with image_key= and label_key=")
        if image_key is None and not set(first) - {label_key, id_key}:
            raise ConfigError(f"{name}: items have keys {sorted(first)}: no input besides the "
                              "label and the id")
    else:
        image_key = 0 if image_key is None else image_key
        label_key = 1 if label_key is None else label_key
    labels = getattr(dataset, "targets", None)
    if labels is None and table:
        labels = _column(dataset, label_key)
    if labels is None:  # decode every item once: slow for images, but always possible
        labels = [dataset[i][label_key] for i in range(n)]
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(f"{name}: labels must be one integer class per row, got "
                          f"{labels.dtype} {labels.shape}")
    if ids is None and id_key is not None:
        ids = _column(dataset, id_key)
        if ids is None:
            ids = [dataset[i][id_key] for i in range(n)]
    ids = np.arange(n) if ids is None else np.asarray(ids)
    if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
        raise ConfigError(f"{name}: ids must be one integer per row ({n}), got "
                          f"{ids.dtype} {ids.shape}")
    unique, counts = np.unique(ids, return_counts=True)
    if len(unique) != n:
        repeated = unique[counts > 1][:5].tolist()
        raise ConfigError(f"{name}: example ids are not unique (e.g. {repeated} appear more "
                          "than once); records are keyed by id")
    if classes is None:
        classes = getattr(dataset, "classes", None)
    if classes is None and table:
        feature = getattr(dataset, "features", {}).get(label_key)
        classes = getattr(feature, "names", None)
    if classes is None:
        classes = [str(c) for c in range(int(labels.max()) + 1)]
    if labels.min() < 0 or labels.max() >= len(classes):
        raise ConfigError(f"{name}: labels outside [0, {len(classes)})")
    return WrappedDataset(dataset, split=split, classes=classes, ids=ids, labels=labels,
                          image_key=image_key, id_key=id_key if table else None,
                          transform=transform, name=name, label_key=label_key)


__all__ = ["WrappedDataset", "wrap_dataset"]

"""Any map-style dataset as one of ours: stable example ids without writing a loader class.

:func:`wrap_dataset` takes a torchvision-style dataset (``ds[i]`` is ``(image, label)``) or a
table of records (``ds[i]`` is a mapping, as a Hugging Face ``datasets.Dataset`` gives) and
returns an :class:`~agreement_core.data.ImageDataset`: ``ds[i]`` is ``(image, target,
example_id)``, with ``example_ids``, ``targets`` and ``classes``, so the trainer, the
statistics engine, the recorder and every analysis work on it.
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


def _as_image(value) -> Image.Image:
    if isinstance(value, Image.Image):
        return value.convert("RGB")
    array = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)  # CHW tensor -> HWC
    if array.dtype != np.uint8:
        array = np.clip(array * 255 if array.max() <= 1.0 else array, 0, 255).astype(np.uint8)
    if array.ndim == 2 or array.shape[-1] == 1:
        array = np.repeat(array.reshape(array.shape[0], array.shape[1], 1), 3, axis=2)
    return Image.fromarray(array, "RGB")


class WrappedDataset(ImageDataset):
    """A map-style dataset with stable example ids (made by :func:`wrap_dataset`)."""

    def __init__(self, dataset, *, split: str, classes: Sequence[str], ids: np.ndarray,
                 labels: np.ndarray, image_key, id_key: str | None, transform=None,
                 name: str = "custom"):
        self.splits = (split,)
        self.name = name
        self.dataset = dataset
        self.image_key = image_key
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

    def load_image(self, index: int) -> Image.Image:
        return _as_image(self._item(index)[self.image_key])

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
        or a mapping (a Hugging Face ``datasets.Dataset`` row). Images may be PIL images,
        HWC uint8 arrays or CHW float tensors.
    classes : sequence of str, optional
        Class names; default ``dataset.classes``, or the Hugging Face label feature's
        names, or ``"0"``, ``"1"``, ...
    ids : array_like of int, optional
        One id per row; default a column ``id_key`` of the table, else the row index
        (stable as long as the dataset's order is).
    image_key, label_key : str or int, optional
        Where the image and the label are in an item: defaults 0 and 1 for tuples,
        ``"image"``/``"img"`` and ``"label"`` for mappings.
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
        if image_key not in first or label_key not in first:
            raise ConfigError(f"{name}: items have keys {sorted(first)}; name the image and "
                              "label with image_key= and label_key=")
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
                          transform=transform, name=name)


__all__ = ["WrappedDataset", "wrap_dataset"]

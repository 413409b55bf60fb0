"""Datasets with stable example ids: CIFAR-10, ImageNet/Imagenette, Pascal VOC, KTH-TIPS2-b, DTD.

Every dataset is a ``torch.utils.data.Dataset`` whose items are
``(image, target, example_id)``, with an ``examples`` table (one row per
example, in id order, with the dataset's factors) and ``load_array`` to decode
a whole split at once. Use :func:`get_dataset` to build one by name, and
:func:`wrap_dataset` to give any map-style dataset (torchvision-style or a Hugging Face
``datasets`` table) the same interface with stable ids.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..locations import Locations
    from .base import ImageDataset

# The datasets load lazily (PEP 562): ``agreement_core.data.labels``, which the record store
# imports, must not import PIL, pandas and every dataset module with it.
_WHERE = {
    "extract_archive": ".archive", "ImageDataset": ".base", "select_subset": ".base",
    "CIFAR10": ".cifar", "CIFAR10_CLASSES": ".cifar", "DTD": ".dtd",
    "ImageNet": ".imagefolder", "imagenette": ".imagefolder", "KTH_MATERIALS": ".kth",
    "KTHTIPS2b": ".kth", "VOC_CLASSES": ".voc", "PascalVOC": ".voc",
    "WrappedDataset": ".wrap", "wrap_dataset": ".wrap",
}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    if name == "DATASETS":
        value = globals()["DATASETS"] = {
            "cifar10": __getattr__("CIFAR10"), "imagenet": __getattr__("ImageNet"),
            "imagenette": __getattr__("imagenette"), "voc": __getattr__("PascalVOC"),
            "kth": __getattr__("KTHTIPS2b"), "dtd": __getattr__("DTD")}
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_WHERE, "DATASETS"])


def get_dataset(name: str, split: str, locations: Locations | None = None,
                **kwargs) -> ImageDataset:
    """Build the dataset registered as ``name`` (see :data:`DATASETS`) for ``split``.

    ``locations`` supplies the data root and the mirror (default: the environment);
    ``kwargs`` go to the dataset (``root``, ``mirror``, ``transform``, ``subset``, ...).
    An unknown name or split raises :class:`~agreement_core.errors.ConfigError`.
    """
    from ..errors import ConfigError

    datasets: dict[str, Callable[..., ImageDataset]] = __getattr__("DATASETS")
    if name not in datasets:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(datasets)}")
    if locations is not None:
        kwargs = {"root": locations.data_root, "mirror": locations.mirror, **kwargs}
    return datasets[name](split, **kwargs)


__all__ = [
    "CIFAR10", "CIFAR10_CLASSES", "DATASETS", "DTD", "ImageDataset", "ImageNet", "KTHTIPS2b",
    "KTH_MATERIALS", "PascalVOC", "VOC_CLASSES", "extract_archive", "get_dataset",
    "WrappedDataset", "imagenette", "select_subset", "wrap_dataset",
]

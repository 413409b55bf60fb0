"""Datasets with stable example ids: CIFAR-10, ImageNet/Imagenette, Pascal VOC, KTH-TIPS2-b, DTD.

Every dataset is a ``torch.utils.data.Dataset`` whose items are
``(image, target, example_id)``, with an ``examples`` table (one row per
example, in id order, with the dataset's factors) and ``load_array`` to decode
a whole split at once. Use :func:`get_dataset` to build one by name, and
:func:`wrap_dataset` to give any map-style dataset (torchvision-style or a Hugging Face
``datasets`` table) the same interface with stable ids.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from ..locations import Locations
from .archive import extract_archive
from .base import ImageDataset, select_subset
from .cifar import CIFAR10, CIFAR10_CLASSES
from .dtd import DTD
from .imagefolder import ImageNet, imagenette
from .kth import KTH_MATERIALS, KTHTIPS2b
from .voc import VOC_CLASSES, PascalVOC
from .wrap import WrappedDataset, wrap_dataset

DATASETS: dict[str, Callable[..., ImageDataset]] = {
    "cifar10": CIFAR10,
    "imagenet": ImageNet,
    "imagenette": imagenette,
    "voc": PascalVOC,
    "kth": KTHTIPS2b,
    "dtd": DTD,
}


def get_dataset(name: str, split: str, locations: Locations | None = None,
                **kwargs) -> ImageDataset:
    """Build the dataset registered as ``name`` (see :data:`DATASETS`) for ``split``.

    ``locations`` supplies the data root and the mirror (default: the environment);
    ``kwargs`` go to the dataset (``root``, ``mirror``, ``transform``, ``subset``, ...).
    An unknown name or split raises :class:`~agreement_core.errors.ConfigError`.
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if locations is not None:
        kwargs = {"root": locations.data_root, "mirror": locations.mirror, **kwargs}
    return DATASETS[name](split, **kwargs)


__all__ = [
    "CIFAR10", "CIFAR10_CLASSES", "DATASETS", "DTD", "ImageDataset", "ImageNet", "KTHTIPS2b",
    "KTH_MATERIALS", "PascalVOC", "VOC_CLASSES", "extract_archive", "get_dataset",
    "WrappedDataset", "imagenette", "select_subset", "wrap_dataset",
]

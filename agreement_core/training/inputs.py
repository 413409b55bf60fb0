"""A split's images and targets on the training device, and the image transforms.

After airbench: the whole split lives on the device as one uint8 tensor (or, for
ImageNet-sized datasets, is decoded per batch by :class:`StreamingImages`), and cropping and
normalisation are batched tensor operations.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from ..data import get_dataset
from ..data.base import to_array
from ..errors import ConfigError
from ..locations import Locations
from .config import TrainConfig


def resolve_device(device=None) -> torch.device:
    """``device``, or CUDA when available, else the CPU."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def load_dataset(config: TrainConfig, split: str, locations: Locations | None = None):
    """The dataset of one split, with the configured subset."""
    return get_dataset(config.dataset, split, locations, subset=config.subset(split))


def random_labels(num_examples: int, num_classes: int, seed: int) -> np.ndarray:
    """The fixed random relabelling of the random-label ablation (uniform over classes)."""
    return np.random.default_rng(seed).integers(0, num_classes, size=num_examples)


def training_targets(config: TrainConfig, dataset) -> np.ndarray:
    """The labels a split is trained on: the dataset's, or the random-label ablation's."""
    if not config.random_labels:
        return np.asarray(dataset.targets)
    if dataset.multilabel:
        raise ConfigError("random_labels is defined for single-label datasets only")
    return random_labels(len(dataset), dataset.num_classes, config.label_seed)


class StreamingImages:
    """A split's images decoded on demand, indexed like the in-memory uint8 tensor.

    For datasets too large to hold in memory (ImageNet: 1.28M images are 250 GB
    at 256x256): ``images[idx]`` (a tensor of rows, or a slice) decodes those
    rows with a thread pool, resizes them to ``size`` exactly as
    ``dataset.load_array(size)`` does, and returns a uint8 (B, H, W, 3) tensor
    on ``device``. Training, cropping and recording use it unchanged.
    """

    def __init__(self, dataset, size: tuple[int, int], device, threads: int = 8):
        self.dataset, self.size, self.device = dataset, size, torch.device(device)
        self.shape = (len(dataset), size[0], size[1], 3)
        self._pool = ThreadPoolExecutor(threads)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, slice):
            rows = range(*index.indices(len(self)))
            shape = (len(rows),)
        else:
            index = torch.as_tensor(index)
            rows, shape = index.reshape(-1).tolist(), tuple(index.shape)
        arrays = list(self._pool.map(self._decode, rows))
        batch = np.stack(arrays) if arrays else np.zeros((0, *self.shape[1:]), np.uint8)
        # A (K, B) index (a group's batches) gives (K, B, H, W, 3), as a tensor's would.
        return torch.from_numpy(batch.reshape(*shape, *self.shape[1:])).to(self.device)

    def _decode(self, row: int) -> np.ndarray:
        return to_array(self.dataset.load_image(row), self.size)


@dataclass
class SplitTensors:
    """One split as training holds it: uint8 (N, H, W, 3) images and targets on the device."""

    images: torch.Tensor | StreamingImages
    targets: torch.Tensor

    def __len__(self) -> int:
        return len(self.images)


def split_tensors(config: TrainConfig, dataset, device, targets=None) -> SplitTensors:
    """``dataset`` on ``device``, resized as configured; ``targets`` replace the dataset's."""
    size = (config.image_size, config.image_size) if config.image_size else None
    if config.stream:
        images = StreamingImages(dataset, size, device)
    else:
        images = torch.from_numpy(dataset.load_array(size=size)).to(device)
    labels = dataset.targets if targets is None else targets
    return SplitTensors(images, torch.as_tensor(labels, device=device))


def to_float(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float (N, 3, H, W)."""
    return (images.permute(0, 3, 1, 2).float() / 255 - mean) / std


def random_crop(images: torch.Tensor, size: int | None, generator: torch.Generator):
    """A random ``size`` x ``size`` crop of every image (one offset per image)."""
    n, height, width, _ = images.shape
    if size is None or (size == height and size == width):
        return images
    top = torch.randint(0, height - size + 1, (n, 1, 1), generator=generator)
    left = torch.randint(0, width - size + 1, (n, 1, 1), generator=generator)
    offsets = torch.arange(size)
    rows = (top + offsets.view(1, -1, 1)).to(images.device)
    cols = (left + offsets.view(1, 1, -1)).to(images.device)
    return images[torch.arange(n, device=images.device).view(-1, 1, 1), rows, cols]


def center_crop(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """The central ``size`` x ``size`` crop of every image (None: unchanged)."""
    height, width = images.shape[1:3]
    if size is None or (size == height and size == width):
        return images
    top, left = (height - size) // 2, (width - size) // 2
    return images[:, top:top + size, left:left + size]


def channel_stats(images, max_images: int = 10_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of uint8 (N, H, W, 3) images, shaped (1, 3, 1, 1).

    Estimated from at most ``max_images`` evenly spaced images (all of them when
    there are fewer), so that streamed and in-memory splits normalise alike.
    """
    n = len(images)
    rows = torch.linspace(0, n - 1, min(n, max_images)).round().long() if n > max_images \
        else slice(None)
    x = images[rows].float().div_(255)
    return x.mean(dim=(0, 1, 2)).view(1, 3, 1, 1), x.std(dim=(0, 1, 2)).view(1, 3, 1, 1)

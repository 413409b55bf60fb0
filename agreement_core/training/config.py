"""What defines a training run: :class:`TrainConfig`, the named presets, and the seed rule.

Protocols (STUDY.md, paper appendix A) are expressed by :class:`TrainConfig`: optimizer
(SGD with momentum, or Adam), schedule (cosine annealing, step decay, one-cycle, constant;
all per optimization step), weight decay, batch size, epochs, resize and crop (random crop
for training, center crop for testing), and the random-label ablation (one fixed
relabelling of the training set from ``label_seed``, the same for all K networks).

A *preset* (:data:`PRESETS`, ``train --preset NAME``) is one named TrainConfig; a *profile*
(:mod:`agreement_core.study.profiles`) is the set of studies behind the book.

Seeds: network k is initialised from :func:`network_seed` and draws its data order, crops
and (curriculum) pacing from :func:`data_seed`; both depend only on the configuration's
``seed``, the network index and the epoch (or curriculum mode), so a resumed run replays
them exactly.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass

from ..errors import ConfigError
from ..models import MODELS

RECORDING_MODES = ("online", "eval")
SCHEDULES = ("cosine", "step", "onecycle", "constant")
OPTIMIZERS = ("sgd", "adam")
PRECISIONS = ("float32", "bfloat16")

#: Fields added after studies were first committed, with the value every earlier study
#: implicitly had. :meth:`TrainConfig.to_dict` leaves them out at that value, so the stored
#: configurations and the hash-named study directories of earlier studies stay valid.
LATER_FIELDS = {"precision": "float32"}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a study; stored in the record store's metadata.

    Defaults follow the paper's CIFAR-10 protocol (SGD, momentum 0.9, batch
    128, weight decay 5e-4, cosine annealing from 0.1 to 5e-4, no
    augmentation) with a small network and few epochs, sized for a CPU.

    ``step_size`` is in epochs (the step schedule multiplies the learning rate
    by ``gamma`` every ``step_size`` epochs); ``onecycle`` follows PyTorch's
    ``OneCycleLR`` defaults with ``lr`` as the maximum (and cycles the momentum,
    or Adam's beta1, between 0.85 and 0.95). ``image_size`` resizes every image
    to a square of that side (None: keep the native size, which must be common
    to all images); ``crop`` takes a random crop of that side for training and
    the center crop for evaluation. ``stream`` decodes the images of every
    batch on demand instead of holding the split in memory (ImageNet-sized
    datasets; see :class:`~agreement_core.training.inputs.StreamingImages`).
    ``concurrent`` trains the networks as one grouped network where the
    architecture allows it (:mod:`agreement_core.training.grouped`); ``"auto"`` does so only
    on devices where that is faster (a GPU; on the CPU one network at a time is faster:
    :data:`agreement_core.training.trainer.GROUPING_WINS_ON`).
    ``precision`` ``"bfloat16"`` runs the forward passes (training and evaluation)
    under ``torch.autocast`` with bfloat16 (weights, gradients and the optimizer stay
    float32); ``"float32"`` runs everything in float32.
    """

    dataset: str = "cifar10"
    arch: str = "fastnet_small"
    num_networks: int = 5
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    min_lr: float = 5e-4
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    step_size: int = 30
    gamma: float = 0.1
    train_subset: int | float | None = 500
    test_subset: int | float | None = 100
    image_size: int | None = None
    crop: int | None = None
    random_labels: bool = False
    label_seed: int = 0
    seed: int = 0
    recording: str = "online"
    concurrent: bool | str = False
    stream: bool = False
    precision: str = "float32"

    def __post_init__(self):
        object.__setattr__(self, "betas", tuple(self.betas))  # JSON gives a list
        choices = {"arch": MODELS, "recording": RECORDING_MODES, "schedule": SCHEDULES,
                   "optimizer": OPTIMIZERS, "precision": PRECISIONS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                kind = "architecture" if name == "arch" else name
                raise ConfigError(f"unknown {kind} {getattr(self, name)!r}; "
                                  f"known: {', '.join(sorted(allowed))}")
        if self.concurrent not in (True, False, "auto"):
            raise ConfigError(f"concurrent must be True, False or 'auto', "
                              f"got {self.concurrent!r}")
        for name in ("num_networks", "epochs", "batch_size", "step_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("image_size", "crop"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be a positive size or None, got {value}")
        if self.crop and self.image_size and self.crop > self.image_size:
            raise ConfigError(f"crop {self.crop} is larger than image_size {self.image_size}")
        if self.stream and not self.image_size:
            raise ConfigError("stream=True needs image_size (streamed images are resized)")

    def to_dict(self) -> dict:
        """The fields as a dict, without :data:`LATER_FIELDS` at their original values."""
        return {name: value for name, value in dataclasses.asdict(self).items()
                if not (name in LATER_FIELDS and value == LATER_FIELDS[name])}

    def subset(self, split: str) -> int | float | None:
        """The configured subset of ``split`` (train or test)."""
        return self.train_subset if split == "train" else self.test_subset

    def check_networks(self, networks=None) -> list[int]:
        """The network indices to train: all of them, or ``networks`` checked against K."""
        networks = list(range(self.num_networks) if networks is None else networks)
        bad = [k for k in networks if not 0 <= k < self.num_networks]
        if bad:
            raise ConfigError(f"network indices {bad} outside [0, {self.num_networks})")
        return [int(k) for k in networks]


#: Named configurations (``train --preset NAME``): the paper's protocols (STUDY.md, appendix
#: A) and small CPU-sized studies. Pascal VOC and ImageNet resize to a 256 square (the paper:
#: short side 256) and crop 224; ImageNet streams its images, the others are held in memory.
PRESETS: dict[str, dict] = {
    "default": dict(dataset="cifar10", arch="fastnet_small", num_networks=5, epochs=10,
                    train_subset=500, test_subset=100),
    "tiny": dict(dataset="cifar10", arch="fastnet_small", num_networks=3, epochs=3,
                 train_subset=100, test_subset=50),
    "cifar10-fast": dict(dataset="cifar10", arch="fastnet", num_networks=5, epochs=10,
                         batch_size=512, lr=0.2, train_subset=None, test_subset=None,
                         concurrent="auto"),
    "cifar10": dict(dataset="cifar10", arch="densenet121", num_networks=5, epochs=60,
                    batch_size=128, lr=0.1, min_lr=5e-4, momentum=0.9, weight_decay=5e-4,
                    schedule="cosine", train_subset=None, test_subset=None),
    "cifar10-random-labels": dict(dataset="cifar10", arch="densenet121", num_networks=5,
                                  epochs=60, lr=0.001, random_labels=True, train_subset=None,
                                  test_subset=None),
    "kth": dict(dataset="kth", arch="densenet121", num_networks=5, epochs=60, batch_size=64,
                optimizer="adam", lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-5,
                schedule="onecycle", image_size=200, crop=190, train_subset=None,
                test_subset=None),
    "voc": dict(dataset="voc", arch="densenet121", num_networks=5, epochs=150, batch_size=128,
                lr=0.1, weight_decay=5e-4, schedule="step", step_size=50, gamma=0.2,
                image_size=256, crop=224, train_subset=None, test_subset=None),
    "imagenet": dict(dataset="imagenet", arch="densenet121", num_networks=5, epochs=100,
                     batch_size=128, lr=0.1, weight_decay=1e-5, schedule="step", step_size=30,
                     gamma=0.1, image_size=256, crop=224, train_subset=None, test_subset=None,
                     stream=True),
}


def preset(name: str, **overrides) -> TrainConfig:
    """The TrainConfig of preset ``name`` with ``overrides``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return TrainConfig(**{**PRESETS[name], **overrides})


def network_seed(config: TrainConfig, k: int) -> int:
    """The seed of network ``k``'s initial weights: ``config.seed + k``."""
    return config.seed + k


def data_seed(config: TrainConfig, k: int, stream: int | str) -> int:
    """The seed of network ``k``'s data order and crops in one ``stream`` of batches.

    ``stream`` is the epoch (1-based) for ordinary epochs, or a curriculum mode name:
    ``(network_seed * 1_000_003 + stream) mod 2**63``, a string counting as its CRC-32.
    """
    salt = zlib.crc32(stream.encode()) if isinstance(stream, str) else int(stream)
    return (network_seed(config, k) * 1_000_003 + salt) % (2 ** 63)

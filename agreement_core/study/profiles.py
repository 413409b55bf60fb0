"""Profiles: the named sets of studies the book is built from.

A *profile* names the studies behind the book's figures. ``default`` is sized for a 2-core
CPU (CIFAR-10 and Imagenette subsets, small networks); ``paper`` is the paper's protocols
(STUDY.md, appendix A) for GPU machines. Each study is one
:class:`~agreement_core.training.TrainConfig`, built from the training presets
(:data:`~agreement_core.training.PRESETS`: one named configuration each) with the fields a
figure varies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from ..training import PRESETS, TrainConfig
from .layout import study_slug


@dataclass(frozen=True)
class Profile:
    """The studies of one profile.

    ``studies`` maps a role (the figure's view of a study: ``"cifar10"``,
    ``"cifar10-random-labels"``, ``"imagenet"``, ...) to TrainConfig fields;
    ``architectures`` and ``batch_sizes`` are the CIFAR-10 ablations (the
    ``cifar10`` study with that one field changed); ``statistics`` maps a
    dataset to ``compute_statistics`` options (``subset``, ``downsample``);
    ``curriculum`` holds the curriculum experiment's settings.
    """

    name: str
    description: str
    studies: dict[str, dict]
    architectures: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    statistics: dict[str, dict]
    curriculum: dict = field(default_factory=dict)

    def config(self, role: str, **overrides) -> TrainConfig:
        """The TrainConfig of ``role`` with ``overrides`` (None values are ignored)."""
        if role not in self.studies:
            raise ConfigError(f"profile {self.name!r} has no study {role!r}; "
                              f"it has {', '.join(self.studies)}")
        fields = {**self.studies[role], **{k: v for k, v in overrides.items() if v is not None}}
        return TrainConfig(**fields)

    def configs(self) -> dict[str, TrainConfig]:
        """Every study the profile trains: the roles, then the CIFAR-10 ablations."""
        out = {role: self.config(role) for role in self.studies}
        for arch in self.architectures:
            out.setdefault(f"cifar10-{arch}", self.config("cifar10", arch=arch))
        for batch in self.batch_sizes:
            out.setdefault(f"cifar10-batch{batch}", self.config("cifar10", batch_size=batch))
        # One directory per distinct configuration, whatever role asked for it.
        seen, unique = set(), {}
        for role, config in out.items():
            if study_slug(config) not in seen:
                seen.add(study_slug(config))
                unique[role] = config
        return unique


_CPU = dict(PRESETS["default"])  # fastnet_small, K=5, 10 epochs, 500/100 images per class
PROFILES: dict[str, Profile] = {
    "default": Profile(
        name="default",
        description="sized for a 2-core CPU: CIFAR-10 subsets (500 train / 100 test images per "
                    "class) and an Imagenette subset, small networks, 10 epochs",
        studies={
            "cifar10": _CPU,
            "cifar10-random-labels": {**_CPU, "random_labels": True, "epochs": 20, "lr": 0.02},
            "cifar10-eval": {**_CPU, "recording": "eval"},
            "imagenet": dict(dataset="imagenette", arch="fastnet_small", num_networks=5,
                             epochs=10, image_size=64, crop=56, train_subset=260,
                             test_subset=50),
            "voc": dict(dataset="voc", arch="fastnet_small", num_networks=5, epochs=10,
                        batch_size=128, image_size=64, crop=56, train_subset=None,
                        test_subset=None),
            "kth": dict(dataset="kth", arch="fastnet_small", num_networks=5, epochs=10,
                        batch_size=64, optimizer="adam", lr=2e-3, betas=(0.9, 0.999),
                        weight_decay=1e-5, schedule="onecycle", image_size=64, crop=56,
                        train_subset=None, test_subset=None),
        },
        # fastnet (2M parameters) would take about 40 minutes on 2 cores; it is the GPU
        # profile's speed-run network (`train --profile cifar10-fast`).
        architectures=("lenet5_bn", "fastnet_small"),
        batch_sizes=(64, 128, 512),
        statistics={"cifar10": dict(subset=500), "imagenette": dict(subset=260, downsample=128),
                    "voc": dict(subset=None, downsample=128),
                    "kth": dict(subset=None, downsample=None)},
        curriculum=dict(train_subset=100, test_subset=100, num_networks=3, epochs=12,
                        modes=("curriculum", "anti", "random", "standard")),
    ),
    "paper": Profile(
        name="paper",
        description="the paper's protocols (appendix A) on full datasets; for GPU machines",
        studies={
            "cifar10": PRESETS["cifar10"],
            "cifar10-random-labels": PRESETS["cifar10-random-labels"],
            "cifar10-eval": {**PRESETS["cifar10"], "recording": "eval"},
            "imagenet": PRESETS["imagenet"],
            "voc": PRESETS["voc"],
            "kth": PRESETS["kth"],
        },
        architectures=("lenet5_bn", "vgg16", "resnet50", "densenet121"),
        batch_sizes=(64, 128, 256),
        statistics={"cifar10": dict(subset=None), "imagenet": dict(subset=None, downsample=128),
                    "voc": dict(subset=None, downsample=128),
                    "kth": dict(subset=None, downsample=None)},
        curriculum=dict(train_subset=None, test_subset=None, num_networks=3, epochs=30,
                        arch="fastnet", batch_size=512, lr=0.2,
                        modes=("curriculum", "anti", "random", "standard")),
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
    return PROFILES[name]



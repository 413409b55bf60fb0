"""Profiles: the named sets of studies the book is built from.

A *profile* names the studies behind the book's figures. ``default`` is sized for a 2-core
CPU (CIFAR-10 and Imagenette subsets, small networks); ``paper`` is the paper's protocols
(STUDY.md, appendix A) for GPU machines. Each study is one
:class:`~agreement_core.training.TrainConfig`, built from the training presets
(:data:`~agreement_core.training.PRESETS`: one named configuration each) with the fields a
figure varies.
"""

from __future__ import annotations

import dataclasses
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

    ``seed_groups`` are further seeds of the ``cifar10`` study (roles
    ``cifar10-seed<s>``): independent groups of K networks, for intervals over network
    seeds; each must be at least K away from every other (network k uses ``seed + k``).
    ``arch_settings`` holds fields an architecture of the ablation changes besides
    ``arch`` (fewer epochs for a slow network). ``scaled_lr_batch_sizes`` are batch sizes
    trained a second time with the learning rate scaled linearly from the ``cifar10``
    study's (roles ``cifar10-batch<b>-scaled-lr``), beside the fixed-rate ablation.
    ``encoding`` is the record stores' (:data:`~agreement_core.records.ENCODINGS`).
    ``voc_architectures`` are further architectures of the ``voc`` study (Fig. 18: ResNet-50
    beside Fig. 4's DenseNet-121), trained as roles ``voc-<arch>``. ``own_loop`` holds the
    settings of the "Your own model and data" run (a plain PyTorch loop with the recorder;
    ``every``: every how many CIFAR-10 images it takes); ``pruning`` those of the pruning
    experiment on the same data, ordered by that run's scores. ``seeded_roles`` are roles
    of :meth:`configs` (an ablation such as ``"cifar10-lenet5_bn"``) trained once more per
    seed group (roles ``<role>-seed<s>``), so their claims get intervals over seed groups
    too; a claim's verdict needs at least three.
    """

    name: str
    description: str
    studies: dict[str, dict]
    architectures: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    statistics: dict[str, dict]
    curriculum: dict = field(default_factory=dict)
    seed_groups: tuple[int, ...] = ()
    arch_settings: dict[str, dict] = field(default_factory=dict)
    scaled_lr_batch_sizes: tuple[int, ...] = ()
    encoding: str = "plain"
    voc_architectures: tuple[str, ...] = ()
    own_loop: dict = field(default_factory=dict)
    pruning: dict = field(default_factory=dict)
    seeded_roles: tuple[str, ...] = ()

    def __post_init__(self):
        main = self.studies.get("cifar10", {})
        seeds = sorted({main.get("seed", 0), *self.seed_groups})
        k = main.get("num_networks", 5)
        if any(b - a < k for a, b in zip(seeds, seeds[1:], strict=False)):
            raise ConfigError(f"profile {self.name!r}: seed groups {seeds} must be at least "
                              f"K={k} apart (network k is seeded seed + k)")

    def config(self, role: str, **overrides) -> TrainConfig:
        """The TrainConfig of ``role`` with ``overrides`` (None values are ignored).

        An ``arch`` override also applies that architecture's :attr:`arch_settings`.
        """
        if role not in self.studies:
            raise ConfigError(f"profile {self.name!r} has no study {role!r}; "
                              f"it has {', '.join(self.studies)}")
        given = {k: v for k, v in overrides.items() if v is not None}
        settings = self.arch_settings.get(given.get("arch"), {})
        return TrainConfig(**{**self.studies[role], **settings, **given})

    def seed_group_configs(self) -> dict[int, TrainConfig]:
        """The ``cifar10`` study once per seed group (seed -> config), its own seed first."""
        main = self.config("cifar10")
        return {main.seed: main,
                **{seed: self.config("cifar10", seed=seed) for seed in self.seed_groups}}

    def seed_variants(self, config: TrainConfig) -> dict[int, TrainConfig]:
        """``config`` once per further seed group (seed -> config), its own seed left out:
        the seed groups are offsets from the ``cifar10`` study's seed."""
        base = self.config("cifar10").seed
        return {config.seed + s - base: dataclasses.replace(config, seed=config.seed + s - base)
                for s in self.seed_groups}

    def scaled_lr(self, batch_size: int, role: str = "cifar10") -> float:
        """The learning rate of ``role``'s study scaled linearly to ``batch_size``."""
        main = self.config(role)
        return main.lr * batch_size / main.batch_size

    def scaled_lr_config(self, batch_size: int) -> TrainConfig:
        """The ``cifar10`` study at ``batch_size`` with the learning rate scaled linearly."""
        return self.config("cifar10", batch_size=batch_size, lr=self.scaled_lr(batch_size))

    def configs(self) -> dict[str, TrainConfig]:
        """Every study the profile trains, in the order they are trained: the ``cifar10``
        study and its seed groups, the architecture ablation, the other roles, the batch
        sizes (fixed, then scaled learning rate)."""
        out = {f"cifar10-seed{seed}" if seed != self.config("cifar10").seed else "cifar10":
               config for seed, config in self.seed_group_configs().items()}
        for arch in self.architectures:
            out.setdefault(f"cifar10-{arch}", self.config("cifar10", arch=arch))
        out.update({role: self.config(role) for role in self.studies if role not in out})
        for batch in self.batch_sizes:
            out.setdefault(f"cifar10-batch{batch}", self.config("cifar10", batch_size=batch))
        for batch in self.scaled_lr_batch_sizes:
            out.setdefault(f"cifar10-batch{batch}-scaled-lr", self.scaled_lr_config(batch))
        for arch in self.voc_architectures:
            out.setdefault(f"voc-{arch}", self.config("voc", arch=arch))
        for role in self.seeded_roles:
            for seed, config in self.seed_variants(out[role]).items():
                out.setdefault(f"{role}-seed{seed}", config)
        # One directory per distinct configuration, whatever role asked for it.
        seen, unique = set(), {}
        for role, config in out.items():
            if study_slug(config) not in seen:
                seen.add(study_slug(config))
                unique[role] = config
        return unique


_CPU = dict(PRESETS["default"])  # fastnet_small, K=5, 10 epochs, 500/100 images per class
# The recorder on a plain loop: 5,000 / 1,000 CIFAR-10 images, 3 x LeNet5-BN, 12 epochs,
# margins, EL2N and true-class probabilities kept (AUM, EL2N, the data map): 2.6 MB of
# records, three and a half minutes on 2 cores beside other work.
_OWN_LOOP = dict(every=10, arch="lenet5_bn", num_networks=3, epochs=12, batch_size=128,
                 lr=0.05, keep="scores", with_true_prob=True)
# Keep 50 / 70 / 90 % by the agreed-from epoch, AUM, EL2N or forgetting (easiest, hardest)
# or at random: 27 runs of 3 networks, the own loop's training settings (measured: 12.5
# minutes on one thread of this CPU, beside another training on the other).
_PRUNING = dict(score_names=("agreed_from_epoch", "aum", "el2n", "forgetting_events"),
                fractions=(0.5, 0.7, 0.9), num_networks=3)
_DEFAULT_STUDIES = {
    "imagenet": dict(dataset="imagenette", arch="fastnet_small", num_networks=5, epochs=10,
                     image_size=64, crop=56, train_subset=260, test_subset=50),
    # The paper's Pascal protocol shape (SGD, lr 0.1 x 0.2 at a third and two thirds of
    # training, resize + random crop) with the real torchvision DenseNet-121 / ResNet-50 at a
    # resolution a 2-core CPU can train (the ImageNet variants: crop > 64).
    "voc": dict(dataset="voc", arch="densenet121", num_networks=5, epochs=30, batch_size=64,
                lr=0.1, weight_decay=5e-4, schedule="step", step_size=10, gamma=0.2,
                image_size=80, crop=72, train_subset=None, test_subset=None,
                precision="bfloat16"),
    # The texture stand-in for KTH-TIPS2-b, with the KTH protocol shape (DenseNet-121, Adam,
    # one-cycle, batch 64, resize + random crop); a larger maximum rate than the paper's 1e-4
    # for training from scratch on 800 images.
    "dtd": dict(dataset="dtd", arch="densenet121", num_networks=5, epochs=40, batch_size=64,
                optimizer="adam", lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-5,
                schedule="onecycle", image_size=80, crop=72, train_subset=None,
                test_subset=None, precision="bfloat16"),
    "kth": dict(dataset="kth", arch="fastnet_small", num_networks=5, epochs=10, batch_size=64,
                optimizer="adam", lr=2e-3, betas=(0.9, 0.999), weight_decay=1e-5,
                schedule="onecycle", image_size=64, crop=56, train_subset=None,
                test_subset=None),
}
# VOC and DTD: the paper's edge statistic (crisp boundaries) beside the others; every
# statistic on the original (uncropped) images of the mirror, as the paper computes them
# (appendix A: only ImageNet's entropy and DCT are downsampled, to 128 x 128); small batches,
# as crisp edges cost seconds an image.
_PAPER_SCALE_STATISTICS = dict(subset=None, downsample=None, batch_size=50,
                               statistics=("entropy", "segments", "dct_share", "dct_largest",
                                           "sobel_edges", "crisp_edges"))
# The paper's CIFAR-10 protocol (SGD 0.9, wd 5e-4, cosine 0.1 -> 5e-4, batch 128, no
# augmentation) on all 60,000 images, in bfloat16 (docs/training.md: same results as float32).
_FULL = dict(dataset="cifar10", arch="vgg11_narrow", num_networks=5, epochs=15,
             train_subset=None, test_subset=None, precision="bfloat16")
PROFILES: dict[str, Profile] = {
    "default": Profile(
        name="default",
        description="sized for a 2-core CPU: CIFAR-10 subsets (500 train / 100 test images per "
                    "class) and an Imagenette subset, small networks, 10 epochs",
        studies={
            "cifar10": _CPU,
            "cifar10-random-labels": {**_CPU, "random_labels": True, "epochs": 20, "lr": 0.02},
            "cifar10-eval": {**_CPU, "recording": "eval"},
            **_DEFAULT_STUDIES,
        },
        # fastnet (2M parameters) would take about 40 minutes on 2 cores; it is the GPU
        # profile's speed-run network (`train --profile cifar10-fast`).
        architectures=("lenet5_bn", "fastnet_small"),
        batch_sizes=(64, 128, 512),
        statistics={"cifar10": dict(subset=500), "imagenette": dict(subset=260, downsample=128),
                    "voc": _PAPER_SCALE_STATISTICS, "dtd": _PAPER_SCALE_STATISTICS,
                    "kth": dict(subset=None, downsample=None)},
        curriculum=dict(train_subset=100, test_subset=100, num_networks=3, epochs=12,
                        modes=("curriculum", "anti", "random", "standard")),
        voc_architectures=("resnet50",),
        own_loop=_OWN_LOOP,
        pruning=_PRUNING,
    ),
    "full": Profile(
        name="full",
        description="CIFAR-10 in full (50,000 train / 10,000 test images) on a 2-core CPU: "
                    "four architecture families of K=5 networks, three seed groups, random "
                    "labels, batch sizes with fixed and scaled learning rates; bfloat16",
        studies={
            "cifar10": _FULL,
            "cifar10-random-labels": {**_FULL, "random_labels": True, "lr": 0.001,
                                      "epochs": 60},
            "cifar10-eval": {**_FULL, "recording": "eval"},
            "imagenet": _DEFAULT_STUDIES["imagenet"],
            "voc": _DEFAULT_STUDIES["voc"],
            "dtd": _DEFAULT_STUDIES["dtd"],
            "kth": _DEFAULT_STUDIES["kth"],
        },
        seed_groups=(5, 10),
        # The four families; vgg11_narrow is the main study. DenseNet-BC-40 trains at ~180
        # images/s here (4.6 min per network-epoch), so it gets 10 epochs, not 15.
        architectures=("lenet5_bn", "vgg11_narrow", "resnet20", "densenet_bc_40"),
        arch_settings={"densenet_bc_40": {"epochs": 10}},
        batch_sizes=(64, 128, 512),
        scaled_lr_batch_sizes=(64, 512),
        # Committed results must stay small (60,000 examples x 5 networks x 15 epochs each).
        encoding="compact",
        # CIFAR-10: the paper's edge statistic (crisp boundaries, 0.04 s an image) beside Sobel.
        statistics={"cifar10": dict(subset=None, statistics=(
                        "entropy", "segments", "dct_share", "dct_largest", "sobel_edges",
                        "crisp_edges")),
                    "imagenette": dict(subset=260, downsample=128),
                    "voc": _PAPER_SCALE_STATISTICS, "dtd": _PAPER_SCALE_STATISTICS,
                    "kth": dict(subset=None, downsample=None)},
        voc_architectures=("resnet50",),
        # The main study's lr 0.1 (cosine, no warm-up) diverges for unpaced training on the
        # whole 1,000-image subset (loss peaks at 1.7-2.5 ln C, final train accuracy 0.165;
        # curriculum.loss_peaks, docs/curriculum.md), so every mode runs at 0.05, where it
        # fits; float32, as the 12 small networks always ran (minutes on any CPU).
        curriculum=dict(train_subset=100, test_subset=100, num_networks=3, epochs=12,
                        lr=0.05, precision="float32",
                        modes=("curriculum", "anti", "random", "standard")),
        own_loop=_OWN_LOOP,
        pruning=_PRUNING,  # the same experiment as the default profile's: run once, shared
        # The cheap ablations get the main study's seed groups (claims need >= 3 groups),
        # those whose networks fit their train set first (the others stay inconclusive
        # whatever their seeds: LeNet-5 reaches a final train accuracy of about 0.8 in 15
        # epochs, batch 512 at lr 0.4 0.77-0.93), cheapest first among them.
        seeded_roles=("cifar10-batch512", "cifar10-batch64", "cifar10-batch64-scaled-lr",
                      "cifar10-random-labels", "cifar10-lenet5_bn",
                      "cifar10-batch512-scaled-lr"),
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



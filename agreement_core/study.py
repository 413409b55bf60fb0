"""The whole study as data: profiles, where results live, and how a notebook finds them.

A *profile* names the studies behind the book's figures. ``default`` is sized
for a 2-core CPU (CIFAR-10 and Imagenette subsets, small networks); ``paper``
is the paper's protocols (STUDY.md, appendix A) for GPU machines. A study is
one :class:`~agreement_core.training.TrainConfig`; its record store lives in
``<results>/<profile>/studies/<dataset>-<arch>-<hash>``, where the hash is of
the whole configuration, so a notebook that asks for ``arch="resnet50"`` finds
exactly the study trained with that configuration and nothing else.

Layout of ``<results>/<profile>/``::

    studies/<slug>/               record stores (meta.json + one npz per network/split/epoch)
    statistics/<dataset>-<split>.parquet
    dynamics/<slug>.parquet       learning-dynamics tables (one row per example)
    curriculum/                   curriculum learning curves
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import AgreementError, ConfigError, DatasetError
from .records import RecordStore
from .training import PROTOCOLS, TrainConfig

#: Where results are kept unless told otherwise: ``results/`` of the repository.
RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"

#: How to get each dataset onto a machine (shown when one is missing).
DATASET_SOURCES = {
    "cifar10": "CIFAR-10: with internet, torchvision downloads it (download=True); offline, "
               "point --mirror / $AGREEMENT_MIRROR at a directory holding cifar10-jpeg.tar.gz "
               "(the repository's ../shared/datasets).",
    "imagenette": "Imagenette (ImageNet stand-in): point --mirror / $AGREEMENT_MIRROR at a "
                  "directory holding imagenette-128-train.tar.gz and imagenette-128-val.tar.gz, "
                  "or put an ImageFolder at <data root>/imagenette/{train,val}/.",
    "imagenet": "ImageNet (ILSVRC 2012): licensed, not downloadable automatically; put the "
                "ImageFolder layout at <data root>/imagenet/{train,val}/<wnid>/*.JPEG "
                "(https://image-net.org/download.php).",
    "voc": "Pascal VOC 2007+2012: download VOCtrainval_06-Nov-2007.tar, VOCtest_06-Nov-2007.tar "
           "and VOCtrainval_11-May-2012.tar from http://host.robots.ox.ac.uk/pascal/VOC/ and "
           "extract them into <data root> (giving <data root>/VOCdevkit/VOC2007 and VOC2012); "
           "see data_scripts/README.md.",
    "kth": "KTH-TIPS2-b: download KTH-TIPS2-b_col_200x200.tar from "
           "https://www.csc.kth.se/cvap/databases/kth-tips/ and extract it into "
           "<data root> (giving <data root>/KTH-TIPS2-b/<material>/sample_<x>/*.png); "
           "see data_scripts/README.md.",
}


def _wrapped(message: str) -> list[str]:
    """The lines IPython shows for one of our stops: the message, wrapped, no traceback."""
    return textwrap.wrap(message, 88, break_long_words=False, break_on_hyphens=False)


class DatasetUnavailable(AgreementError):
    """A dataset a figure needs is not on this machine.

    IPython shows only the message (no traceback), so an executed notebook states
    plainly what is missing and how to get it.
    """

    def _render_traceback_(self):
        return _wrapped(f"DatasetUnavailable: {self}")


class StudyMissing(AgreementError):
    """The results a figure needs have not been computed (and training was not asked for)."""

    def _render_traceback_(self):
        return _wrapped(f"StudyMissing: {self}")


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


_CPU = dict(PROTOCOLS["default"])  # fastnet_small, K=5, 10 epochs, 500/100 images per class
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
            "cifar10": PROTOCOLS["cifar10"],
            "cifar10-random-labels": PROTOCOLS["cifar10-random-labels"],
            "cifar10-eval": {**PROTOCOLS["cifar10"], "recording": "eval"},
            "imagenet": PROTOCOLS["imagenet"],
            "voc": PROTOCOLS["voc"],
            "kth": PROTOCOLS["kth"],
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


def profile_dir(profile: str, results_dir: str | os.PathLike | None = None) -> Path:
    get_profile(profile)
    return Path(results_dir or os.environ.get("AGREEMENT_RESULTS") or RESULTS_DIR) / profile


def study_slug(config: TrainConfig) -> str:
    """``<dataset>-<arch>-<8 hex digits of the configuration's hash>``."""
    text = json.dumps(config.to_dict(), sort_keys=True, default=list)
    return f"{config.dataset}-{config.arch}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def study_dir(config: TrainConfig, profile: str, results_dir=None) -> Path:
    return profile_dir(profile, results_dir) / "studies" / study_slug(config)


def is_complete(path: str | os.PathLike) -> bool:
    """Whether a record store exists at ``path`` with every network's every epoch."""
    try:
        store = RecordStore.open(path)
    except (AgreementError, OSError):
        return False
    return all(store.completed_epochs(k) >= store.num_epochs for k in range(store.num_networks))


def dataset_available(name: str, data_root=None, mirror=None) -> bool:
    """Whether both splits of ``name`` can be opened (extracting a mirror archive if needed)."""
    try:
        require_dataset(name, data_root=data_root, mirror=mirror)
    except DatasetUnavailable:
        return False
    return True


def require_dataset(name: str, data_root=None, mirror=None) -> str:
    """Raise :class:`DatasetUnavailable`, saying how to get it, unless ``name`` can be opened.

    Returns the dataset's :attr:`~agreement_core.data.ImageDataset.source` on this
    machine (e.g. ``"mirror-jpeg"``), for captions.
    """
    from .data import get_dataset

    for split in ("train", "test"):
        try:
            data = get_dataset(name, split, root=data_root, mirror=mirror)
        except (DatasetError, FileNotFoundError) as error:
            how = DATASET_SOURCES.get(name, "")
            raise DatasetUnavailable(f"the {name} dataset is not available on this machine "
                                     f"({error}). {how}") from None
    return data.source


def load_study(config: TrainConfig, profile: str = "default", *, results_dir=None,
               train: bool = False, data_root=None, mirror=None, progress: bool = True
               ) -> RecordStore:
    """The record store of ``config`` in ``profile``'s results; trains it when ``train``.

    Without ``train``, a missing or unfinished study raises :class:`StudyMissing`
    naming the command that computes it.
    """
    path = study_dir(config, profile, results_dir)
    if is_complete(path):
        return RecordStore.open(path)
    if not train:
        raise StudyMissing(
            f"no finished results for this study ({config.dataset}, {config.arch}, "
            f"{config.num_networks} networks, {config.epochs} epochs) under {path}. Run "
            f"'python -m agreement_core build --profile {profile}' for the profile's studies, "
            f"or pass -p train_missing True to the notebook to train this one here.")
    require_dataset(config.dataset, data_root, mirror)
    from .training import train_study

    store = train_study(config, path, data_root=data_root, mirror=mirror, progress=progress)
    shutil.rmtree(path / "checkpoints", ignore_errors=True)  # resume state; not a result
    return store


def statistics_path(dataset: str, split: str, profile: str, results_dir=None) -> Path:
    return profile_dir(profile, results_dir) / "statistics" / f"{dataset}-{split}.parquet"


def load_statistics(dataset: str, profile: str = "default", *, results_dir=None,
                    splits=("train", "test")) -> dict[str, pd.DataFrame]:
    """The profile's statistics tables of ``dataset`` (split -> table), as computed by ``build``.

    Raises :class:`StudyMissing` when a split's table has not been computed.
    """
    from .report import statistics_tables

    directory = profile_dir(profile, results_dir) / "statistics"
    tables = statistics_tables(directory, dataset, splits)
    missing = [s for s in splits if s not in tables]
    if missing:
        raise StudyMissing(f"no {dataset} statistics for {missing} under {directory}; run "
                           f"'python -m agreement_core build --profile {profile}'")
    return tables


def compute_profile_statistics(dataset: str, profile: str = "default", *, results_dir=None,
                               data_root=None, mirror=None, progress: bool = True) -> None:
    """Compute (what is missing of) the profile's statistics tables of ``dataset``."""
    from .data import get_dataset
    from .statistics import compute_statistics

    options = get_profile(profile).statistics[dataset]
    for split in ("train", "test"):
        data = get_dataset(dataset, split, root=data_root, mirror=mirror,
                           subset=options.get("subset"))
        compute_statistics(data, statistics_path(dataset, split, profile, results_dir),
                           downsample=options.get("downsample"), mirror=mirror,
                           progress=progress)


def covering_statistics(store: RecordStore, tables: dict) -> dict:
    """The statistics tables (split -> table) that hold every example of the store's split."""
    return {split: table for split, table in tables.items()
            if split in store.splits
            and set(store.example_ids(split)) <= set(table["example_id"])}


def dynamics_path(config: TrainConfig, profile: str, results_dir=None) -> Path:
    return profile_dir(profile, results_dir) / "dynamics" / f"{study_slug(config)}.parquet"


def dataset_label(config: TrainConfig | dict, source: str | None = None) -> str:
    config = config.to_dict() if isinstance(config, TrainConfig) else config
    names = {"cifar10": "CIFAR-10", "imagenette": "Imagenette", "imagenet": "ImageNet",
             "voc": "Pascal VOC", "kth": "KTH-TIPS2-b"}
    name = names.get(config["dataset"], config["dataset"])
    return f"{name} (offline JPEG mirror)" if source == "mirror-jpeg" else name


def _subset_text(value) -> str:
    if value is None:
        return "all"
    return f"{value:.0%} per class" if isinstance(value, float) else f"{value} per class"


#: The caveat every CIFAR-10 mirror figure carries (../shared/datasets/README.md).
JPEG_CAVEAT = ("CIFAR-10 mirror: JPEG re-encodings of the original images (lossy; the train "
               "set is shifted by one pixel), so absolute statistics differ from the paper's")


def study_caption(store: RecordStore, source: str | None = None, varied: dict | None = None
                  ) -> str:
    """What a figure was computed from: dataset, subset, architecture, epochs, recording.

    ``source`` is the dataset's :attr:`~agreement_core.data.ImageDataset.source`;
    ``"mirror-jpeg"`` adds the JPEG caveat. ``varied`` maps config fields that
    differ between a figure's panels to the text shown instead (e.g.
    ``{"arch": "lenet5_bn / fastnet"}``).
    """
    # Stores written outside TrainConfig (tests, other tools) may lack fields: leave them out.
    defaults = {"dataset": "unknown dataset", "arch": "unknown architecture"}
    config = {**defaults, **store.config, **(varied or {})}
    sizes = ", ".join(f"{split} {store.num_examples(split)} images" for split in store.splits)
    subsets = ""
    if "train_subset" in config:
        subsets = (f", subset train {_subset_text(config['train_subset'])} / test "
                   f"{_subset_text(config.get('test_subset'))}")
    training = [f"{store.num_networks} x {config['arch']}", f"{store.num_epochs} epochs"]
    if "batch_size" in config:
        training.append(f"batch {config['batch_size']}")
    if "optimizer" in config:
        training.append(f"{config['optimizer']} lr {config.get('lr')}")
    if "recording" in config:
        training.append(f"{config['recording']} recording")
    parts = [f"{dataset_label(config, source)}{subsets} ({sizes})", ", ".join(training)]
    if config.get("random_labels"):
        parts.append(f"random labels (seed {config.get('label_seed', 0)})")
    if config.get("image_size"):
        parts.append(f"images resized to {config['image_size']}"
                     + (f", crop {config['crop']}" if config.get("crop") else ""))
    text = "; ".join(parts) + "."
    if source == "mirror-jpeg":
        text += f" {JPEG_CAVEAT}."
    return text


@dataclass
class FigureStudy:
    """What a figure needs of one study: its records, statistics and a caption."""

    role: str
    profile: str
    config: TrainConfig
    store: RecordStore
    statistics: dict[str, pd.DataFrame]
    source: str | None
    data_root: str | None = None
    mirror: str | None = None

    @property
    def caption(self) -> str:
        return study_caption(self.store, self.source)

    def caption_varying(self, **varied) -> str:
        """The caption with the given fields replaced by the values the panels vary over."""
        return study_caption(self.store, self.source,
                             {k: " / ".join(map(str, v)) for k, v in varied.items()})

    def dataset(self, split: str):
        """The split's dataset with the study's subset, in the store's example order."""
        from .training import load_dataset

        data = load_dataset(self.config, split, self.data_root, self.mirror)
        if not (data.example_ids == self.store.example_ids(split)).all():
            raise StudyMissing(f"the {split} examples on this machine differ from the study's "
                               f"records ({self.store.path})")
        return data


def open_study(role: str, profile: str = "default", *, results_dir=None, data_root=None,
               mirror=None, train_missing: bool = False, subset=None, **overrides
               ) -> FigureStudy:
    """The study behind a figure: ``profile``'s ``role`` with ``overrides`` (None: unchanged).

    Raises :class:`DatasetUnavailable` when the dataset is not on this machine and
    :class:`StudyMissing` when the study has no results and ``train_missing`` is
    false. ``subset`` overrides the train subset; other keywords are
    :class:`~agreement_core.training.TrainConfig` fields (``arch``,
    ``num_networks``, ``epochs``, ``batch_size``, ...).
    """
    config = get_profile(profile).config(role, train_subset=subset, **overrides)
    source = require_dataset(config.dataset, data_root, mirror)
    store = load_study(config, profile, results_dir=results_dir, train=train_missing,
                       data_root=data_root, mirror=mirror)
    from .report import statistics_tables

    tables = covering_statistics(store, statistics_tables(
        profile_dir(profile, results_dir) / "statistics", config.dataset, store.splits))
    return FigureStudy(role=role, profile=profile, config=config, store=store,
                       statistics=tables, source=source,
                       data_root=data_root, mirror=mirror)


__all__ = [
    "DATASET_SOURCES", "DatasetUnavailable", "FigureStudy", "JPEG_CAVEAT", "PROFILES", "Profile",
    "RESULTS_DIR", "StudyMissing", "compute_profile_statistics", "covering_statistics",
    "dataset_available", "dataset_label", "dynamics_path", "get_profile",
    "is_complete", "load_statistics", "load_study", "open_study", "profile_dir",
    "require_dataset", "statistics_path", "study_caption", "study_dir", "study_slug",
]

"""Computing the study's results: training into record stores, statistics, dynamics tables,
and the curriculum experiment.

:func:`train_study` is the study trainer: it connects the training loop
(:func:`agreement_core.training.train_networks`) to a
:class:`~agreement_core.records.RecordStore`. The ``*_profile`` functions compute what a
:class:`~agreement_core.study.workspace.Workspace` lacks, and nothing else, so every step of
the build resumes.
"""

from __future__ import annotations

import contextlib
import json
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._io import (
    file_digest,
    is_current,
    read_table,
    remove_stale_temporaries,
    write_json,
    write_table,
)
from .._locks import FileLock
from ..agreement import true_positive_agreement
from ..data import get_dataset
from ..data.labels import is_correct
from ..errors import DatasetError, DatasetUnavailable, StudyMissing
from ..locations import Locations
from ..records import RecordStore, store_fingerprint
from ..report import learning_dynamics_table
from ..statistics import DEFAULT_STATISTICS, compute_statistics, read_statistics_tables
from ..training import (
    TrainConfig,
    TrainingData,
    load_dataset,
    resolve_device,
    split_tensors,
    train_networks,
    training_targets,
)
from ..training.curriculum import agreement_scores, compare_curricula, summarize_curricula
from ..training.trainer import checkpoint_epoch, checkpoint_path, plan_groups
from .workspace import Workspace

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
    "voc": "Pascal VOC: offline, point --mirror / $AGREEMENT_MIRROR at a directory holding "
           "voc2012-subset.tar.gz (a class-biased VOC2012 subset: train on VOC2012 train, test "
           "on VOC2012 val, no VOC2007); for the paper's protocol download "
           "VOCtrainval_06-Nov-2007.tar, VOCtest_06-Nov-2007.tar and "
           "VOCtrainval_11-May-2012.tar from http://host.robots.ox.ac.uk/pascal/VOC/ and "
           "extract them into <data root> (giving <data root>/VOCdevkit/VOC2007 and VOC2012); "
           "see data_scripts/README.md.",
    "dtd": "DTD (the KTH-TIPS2-b stand-in): point --mirror / $AGREEMENT_MIRROR at a directory "
           "holding dtd10.tar.gz (10 classes), or download dtd-r1.0.1.tar.gz from "
           "https://www.robots.ox.ac.uk/~vgg/data/dtd/ and extract it into <data root> (giving "
           "<data root>/dtd/images and labels); see data_scripts/README.md.",
    "kth": "KTH-TIPS2-b: download KTH-TIPS2-b_col_200x200.tar from "
           "https://www.csc.kth.se/cvap/databases/kth-tips/ and extract it into "
           "<data root> (giving <data root>/KTH-TIPS2-b/<material>/sample_<x>/*.png); "
           "see data_scripts/README.md.",
}


# ------------------------------------------------------------------ datasets
def require_dataset(name: str, locations: Locations | None = None) -> str:
    """Raise :class:`DatasetUnavailable`, saying how to get it, unless ``name`` can be opened.

    Returns the dataset's :attr:`~agreement_core.data.ImageDataset.source` on this
    machine (e.g. ``"mirror-jpeg"``), for captions.
    """
    for split in ("train", "test"):
        try:
            data = get_dataset(name, split, locations)
        except (DatasetError, FileNotFoundError) as error:
            how = DATASET_SOURCES.get(name, "")
            raise DatasetUnavailable(f"the {name} dataset is not available on this machine. "
                                     f"{how}", detail=str(error)) from None
    return data.source


def dataset_source(name: str, locations: Locations | None = None) -> str | None:
    """The source of ``name`` (:func:`require_dataset`), or None where it is not on this
    machine: what a caption names, and whether it adds the source's caveat."""
    try:
        return require_dataset(name, locations)
    except DatasetUnavailable:
        return None


def dataset_available(name: str, locations: Locations | None = None) -> bool:
    """Whether both splits of ``name`` can be opened (extracting a mirror archive if needed)."""
    try:
        require_dataset(name, locations)
    except DatasetUnavailable:
        return False
    return True


# ------------------------------------------------------------------ the study trainer
def epoch_summary_line(store: RecordStore, k: int, epoch: int, loss: float) -> str:
    """One line per epoch: loss, train and test accuracy, test TPa of the networks so far."""
    def correct(j: int, split: str) -> np.ndarray:
        return is_correct(store.read_predictions(j, split, epoch), store.targets(split))

    accuracy = {split: correct(k, split).mean() for split in ("train", "test")}
    line = (f"net {k} epoch {epoch:3d}/{store.num_epochs}  loss {loss:.3f}  "
            f"train {accuracy['train']:6.1%}  test {accuracy['test']:6.1%}")
    done = [j for j in range(k + 1) if store.has_epoch(j, "test", epoch)]
    if len(done) > 1:  # one network agrees with itself: TPa would be a trivial 100%
        tpa = true_positive_agreement(np.stack([correct(j, "test") for j in done]))
        line += f"  test TPa(nets {','.join(map(str, done))}) {tpa:6.1%}"
    return line


def timings_path(store_path: str | Path, k: int) -> Path:
    """Where the wall time of network ``k``'s epochs is kept (``timings/net<k>.json``)."""
    return Path(store_path) / "timings" / f"net{k:03d}.json"


def record_epoch_time(store_path: str | Path, k: int, epoch: int, seconds: float) -> None:
    """Add the wall time of one epoch (training, evaluation, recording) to its network's
    timings file, atomically: what the profile's training budget is measured from."""
    path = timings_path(store_path, k)
    data = json.loads(path.read_text()) if path.is_file() else {
        "host": platform.node(), "epoch_seconds": {}}
    data["epoch_seconds"][str(epoch)] = round(float(seconds), 2)
    write_json(path, data)


def training_seconds(store_path: str | Path) -> float:
    """The wall time recorded for a study's epochs (all networks), in seconds."""
    return float(sum(_epoch_seconds(Path(store_path))))


def _epoch_seconds(store_path: Path) -> list[float]:
    return [seconds for p in sorted((store_path / "timings").glob("net*.json"))
            for seconds in json.loads(p.read_text())["epoch_seconds"].values()]


def training_budget(workspace: Workspace) -> pd.DataFrame:
    """What the profile's training has cost on this machine, and what is left, per study.

    Returns
    -------
    pandas.DataFrame
        One row per study of the profile, in training order: ``role``, ``arch``,
        ``network_epochs`` (networks x epochs), ``done`` (network-epochs recorded),
        ``measured_s`` (the wall time recorded for them, :func:`training_seconds`; NaN
        for a study trained before timings were kept),
        ``epoch_s`` (median seconds per network-epoch: this study's, else those of the
        profile's other studies of the same network and dataset), ``left_s`` (the
        network-epochs left times ``epoch_s``; NaN when no such epoch was measured) and
        ``status`` (``done``, ``in progress``, ``queued``, or ``<dataset> absent``: the
        build skips it on this machine).
    """
    columns = ["role", "arch", "network_epochs", "done", "measured_s", "epoch_s", "left_s",
               "status"]
    rows, measured = [], {}
    for role, config in workspace.profile.configs().items():
        path = workspace.layout.study_dir(config)
        seconds = _epoch_seconds(path) if path.is_dir() else []
        measured.setdefault((config.dataset, config.arch), []).extend(seconds)
        done = 0
        if (path / "meta.json").is_file():
            store = RecordStore.open(path, verify=False)
            done = sum(store.completed_epochs(k) for k in range(store.num_networks))
        total = config.num_networks * config.epochs
        status = "done" if done >= total else "in progress" if done else "queued"
        if status == "queued":
            try:
                require_dataset(config.dataset, workspace.locations)
            except DatasetUnavailable:
                status = f"{config.dataset} absent"
        rows.append([role, config.arch, total, done,
                     sum(seconds) if seconds or not done else np.nan,
                     float(np.median(seconds)) if seconds else np.nan, status, config.dataset])
    table = pd.DataFrame(rows, columns=["role", "arch", "network_epochs", "done", "measured_s",
                                        "epoch_s", "status", "dataset"])
    for i, row in table.iterrows():
        if np.isnan(row["epoch_s"]) and measured[row["dataset"], row["arch"]]:
            table.loc[i, "epoch_s"] = float(np.median(measured[row["dataset"], row["arch"]]))
    table["left_s"] = (table["network_epochs"] - table["done"]) * table["epoch_s"]
    table.loc[table["status"] == "done", "left_s"] = 0.0
    table.loc[table["status"].str.endswith(" absent"), "left_s"] = np.nan
    return table[columns]


def store_recorder(store: RecordStore):
    """The trainer's per-epoch callback: write the epoch's records and its wall time (since
    the previous epoch recorded; a group's epoch counts at its first network), print its
    summary line."""
    last = [time.perf_counter()]

    def record(k: int, epoch: int, predictions: dict, loss: float) -> None:
        for split, (pred, prob) in predictions.items():
            prob = prob.float().cpu().numpy().astype(np.float16) if store.with_true_prob else None
            store.write_epoch(k, split, epoch, pred.cpu().numpy(), true_prob=prob)
        now = time.perf_counter()
        record_epoch_time(store.path, k, epoch, now - last[0])
        last[0] = now
        tqdm.write(epoch_summary_line(store, k, epoch, loss))
    return record


def network_lock(out: str | Path, k: int) -> FileLock:
    """The lock of network ``k`` of the store at ``out`` (held while it trains)."""
    return FileLock(Path(out) / f".net{k:03d}.lock", f"net {k} of {out}", say=tqdm.write)


def train_study(config: TrainConfig, out: str | Path, *, locations: Locations | None = None,
                device: str | None = None, networks=None, progress: bool = True,
                encoding: str = "plain") -> RecordStore:
    """Train the study's networks (all, or the given indices) and return its record store.

    Rerunning the same command resumes: finished networks are skipped and an
    interrupted one continues from its last finished epoch. Separate jobs may
    train different networks of the same study into the same store.

    Every network is trained under its lock (:func:`network_lock`; with
    ``config.concurrent``, all networks of the group): a network that another live
    process is training is skipped with a message naming that process, and looked at
    again once this call's other networks are done: finished by the other process,
    taken over if that process has stopped, or reported as still in progress. The
    store returned may then lack that network; rerun to complete it.

    ``encoding`` is the store's (:data:`~agreement_core.records.ENCODINGS`): ``"plain"``
    records every prediction and the true-class probability, ``"compact"`` the same
    predictions in about a fifth of the bytes, without the probability.
    """
    out = Path(out)
    device = resolve_device(device)
    train_set = load_dataset(config, "train", locations)
    test_set = load_dataset(config, "test", locations)
    y_train = training_targets(config, train_set)
    networks = config.check_networks(networks)
    store = RecordStore.create(
        out, num_networks=config.num_networks, num_epochs=config.epochs,
        splits={"train": (train_set.example_ids, y_train),
                "test": (test_set.example_ids, test_set.targets)},
        num_classes=train_set.num_classes, multilabel=train_set.multilabel,
        with_true_prob=encoding == "plain", encoding=encoding, config=config.to_dict(),
        seeds=[config.seed + k for k in range(config.num_networks)], exist_ok=True)
    data = None

    def device_data() -> TrainingData:
        """Both splits on the device: loaded once, and only if a network trains here."""
        nonlocal data
        if data is None:
            data = TrainingData(split_tensors(config, train_set, device, y_train),
                                split_tensors(config, test_set, device), train_set.num_classes)
        return data

    def train(todo: list[int], first: bool) -> dict[int, FileLock]:
        """Train ``todo`` under their locks; return the locks other processes hold."""
        busy = {}
        # Locked as trained: a group together, other networks one at a time (plan_groups
        # is the one place that decides which), so no lock is held for a network waiting.
        for group in plan_groups(config, todo, out / "checkpoints", device):
            with contextlib.ExitStack() as held:
                mine = []
                for k in group:
                    lock = network_lock(out, k)
                    if not lock.acquire(timeout=0):
                        busy[k] = lock
                        if first:
                            tqdm.write(f"net {k}: skipped for now, {lock.describe_holder()} "
                                       f"is training it (lock {lock.path})")
                        continue
                    held.callback(lock.release)
                    # Under its lock, whatever temporaries of this network's files are
                    # left were left by a writer that died (kill -9): remove them.
                    remove_network_temporaries(out, k, store.splits)
                    # Looked at again under the lock: another process may just have finished it.
                    if store.completed_epochs(k) < config.epochs:
                        drop_stale_checkpoint(store, k, out / "checkpoints")
                        mine.append(k)
                if mine:
                    train_networks(config, mine, device_data(), store_recorder(store),
                                   out / "checkpoints", device, progress)
        return busy

    busy = train([k for k in networks if store.completed_epochs(k) < config.epochs], True)
    if busy:
        # Our other networks are done: did their holders finish them, or stop and free them?
        skipped = list(busy)
        busy = train([k for k in skipped if store.completed_epochs(k) < config.epochs], False)
        for k in skipped:
            if k in busy:
                tqdm.write(f"net {k}: NOT finished: still being trained by "
                           f"{busy[k].describe_holder()}; rerun this command once that has "
                           f"ended, to check or resume it")
            else:
                tqdm.write(f"net {k}: finished ({store.completed_epochs(k)}/{config.epochs} "
                           f"epochs recorded)")
    return store


def remove_network_temporaries(out: Path, k: int, splits) -> list[Path]:
    """Remove the temporaries of network ``k``'s checkpoint, records and timings that an
    interrupted write left (e.g. an empty ``.net001.pt.<random>.tmp`` after kill -9).

    Only while holding the network's lock (:func:`network_lock`): no live writer of them
    can exist then, whatever their names say.
    """
    out = Path(out)
    removed = remove_stale_temporaries(out / "checkpoints", f"net{k:03d}.pt", owned=True)
    removed += remove_stale_temporaries(out / "timings", f"net{k:03d}.json", owned=True)
    for split in splits:
        removed += remove_stale_temporaries(out / f"net{k:03d}" / split, owned=True)
    return removed


def drop_stale_checkpoint(store: RecordStore, k: int, checkpoint_dir) -> None:
    """Delete network ``k``'s checkpoint when it is past its last recorded epoch.

    That happens when a record file was deleted (e.g. a corrupt one, as the store's error
    message advises): resuming from the checkpoint would never recompute the missing epoch,
    so the network is trained again from its seed, which on the CPU rewrites the epochs it
    had recorded with identical predictions.
    """
    recorded, saved = store.completed_epochs(k), checkpoint_epoch(checkpoint_dir, k)
    if saved > recorded:
        tqdm.write(f"net {k}: records end at epoch {recorded} but its checkpoint is at epoch "
                   f"{saved}: training it again from the start to recompute the missing epochs")
        checkpoint_path(checkpoint_dir, k).unlink()


def is_complete(path) -> bool:
    """Whether a record store exists at ``path`` with every network's every epoch.

    No store (no ``meta.json``) is False; a store that cannot be read (corrupt, an old
    schema) raises its :class:`~agreement_core.errors.RecordStoreError`, which says what to
    do, rather than passing for unfinished.
    """
    if not (Path(path) / "meta.json").is_file():
        return False
    store = RecordStore.open(path)
    return all(store.completed_epochs(k) >= store.num_epochs for k in range(store.num_networks))


def load_study(config: TrainConfig, workspace: Workspace, *, train: bool = False,
               progress: bool = True) -> RecordStore:
    """The record store of ``config`` in ``workspace``'s results; trains it when ``train``.

    Without ``train``, a missing or unfinished study raises :class:`StudyMissing`
    naming the command that computes it.
    """
    path = workspace.layout.study_dir(config)
    if is_complete(path):
        return RecordStore.open(path)
    if not train:
        raise StudyMissing(
            f"no finished results for this study ({config.dataset}, {config.arch}, "
            f"{config.num_networks} networks, {config.epochs} epochs) under <results>/"
            f"{path.relative_to(workspace.locations.results_root).as_posix()}. Run "
            f"'python -m agreement_core build --profile {workspace.profile.name}' for the "
            f"profile's studies, or pass -p train_missing True to the notebook to train this "
            f"one here.")
    require_dataset(config.dataset, workspace.locations)
    store = train_study(config, path, locations=workspace.locations, progress=progress,
                        encoding=workspace.profile.encoding)
    if is_complete(path):  # not while another job still trains one of its networks
        shutil.rmtree(path / "checkpoints", ignore_errors=True)  # resume state; not a result
    return store


# ------------------------------------------------------------------ a profile's results
def train_profile(workspace: Workspace, present: dict, *, retrain: bool = False,
                  progress: bool = True, say=print) -> list[str]:
    """Train the profile's studies that lack finished results; returns the trained roles."""
    trained = []
    for role, config in workspace.profile.configs().items():
        path = workspace.layout.study_dir(config)
        if not present.get(config.dataset):
            say(f"  {role}: skipped ({config.dataset} absent)")
            continue
        if retrain and path.exists():
            shutil.rmtree(path)
            if role == "cifar10":  # the curriculum is ordered by this study's agreement
                shutil.rmtree(workspace.layout.curriculum_dir, ignore_errors=True)
        if is_complete(path):
            say(f"  {role}: finished results in {path.name}")
            continue
        say(f"  {role}: training {config.num_networks} x {config.arch} for {config.epochs} "
            f"epochs into {path}")
        load_study(config, workspace, train=True, progress=progress)
        trained.append(role)
    return trained


def compute_profile_statistics(workspace: Workspace, dataset: str, *,
                               progress: bool = True) -> None:
    """Compute (what is missing of) the profile's statistics tables of ``dataset``, reusing
    the values other profiles computed with the same definitions."""
    options = workspace.profile.statistics[dataset]
    for split in ("train", "test"):
        data = workspace.dataset(dataset, split, subset=options.get("subset"))
        compute_statistics(data, workspace.layout.statistics_path(dataset, split),
                           options.get("statistics", DEFAULT_STATISTICS),
                           reuse=workspace.layout.statistics_elsewhere(dataset, split),
                           downsample=options.get("downsample"),
                           batch_size=options.get("batch_size", 500),
                           mirror=workspace.locations.mirror, progress=progress)


def covering_statistics(store: RecordStore, tables: dict) -> dict:
    """The statistics tables (split -> table) that hold every example of the store's split."""
    return {split: table for split, table in tables.items()
            if split in store.splits
            and set(store.example_ids(split)) <= set(table["example_id"])}


def study_statistics(workspace: Workspace, store: RecordStore, dataset: str) -> dict:
    """The profile's statistics tables of ``dataset`` that cover ``store`` (split -> table)."""
    return covering_statistics(store, read_statistics_tables(workspace.layout.statistics_dir,
                                                             dataset, store.splits))


def dynamics_inputs(workspace: Workspace, config: TrainConfig) -> dict:
    """What a study's learning-dynamics table is derived from: its store's fingerprint and
    the digests of the statistics tables of its dataset (its provenance)."""
    layout = workspace.layout
    statistics = {path.name: file_digest(path)
                  for path in sorted(layout.statistics_dir.glob(f"{config.dataset}-*.parquet"))}
    return {"store": store_fingerprint(layout.study_dir(config)), "statistics": statistics}


def write_dynamics(workspace: Workspace, say=print) -> None:
    """The learning-dynamics table of every finished study, rewritten when what it was
    derived from (its store, its dataset's statistics tables) changed, or when it is
    unreadable or records no provenance."""
    layout = workspace.layout
    for config in workspace.profile.configs().values():
        store_path, out = layout.study_dir(config), layout.dynamics_path(config)
        if not is_complete(store_path):
            continue
        inputs = dynamics_inputs(workspace, config)
        if is_current(out, inputs):
            continue  # up to date with its records and statistics
        store = RecordStore.open(store_path)
        write_table(learning_dynamics_table(store, study_statistics(workspace, store,
                                                                    config.dataset)), out,
                    provenance=inputs)
        say(f"  wrote {out}")


def run_curriculum(workspace: Workspace, *, progress: bool = True) -> pd.DataFrame:
    """The curriculum experiment, ordered by the agreed-from epochs of the CIFAR-10 study."""
    settings = dict(workspace.profile.curriculum)
    modes = settings.pop("modes")
    base = workspace.profile.config("cifar10")
    # Derived from the study as it is now, or refused in one line naming the table.
    dynamics = read_table(workspace.layout.dynamics_path(base),
                          inputs=dynamics_inputs(workspace, base))
    dynamics = dynamics[dynamics["split"] == "train"]
    config = TrainConfig(**{**base.to_dict(), **settings, "seed": 100})
    ids = load_dataset(config, "train", workspace.locations).example_ids
    scores = agreement_scores(dynamics, ids, num_epochs=base.epochs)
    layout = workspace.layout
    curves = compare_curricula(config, scores, layout.curriculum_dir, modes=modes, eval_every=4,
                               locations=workspace.locations, progress=progress)
    derived_from = {"dynamics": file_digest(layout.dynamics_path(base)),
                    "settings": {**settings, "modes": modes}}
    write_table(curves, layout.curriculum_curves_path, provenance=derived_from)
    write_table(summarize_curricula(curves), layout.curriculum_summary_path,
                provenance=derived_from)
    return curves

"""Command line: ``python -m agreement_core <command>`` (console script ``agreement``).

Commands:
  train   train K networks and record their predictions every epoch
  agree   per-epoch agreement table of a record store
  scores  per-example scores of a record store (AUM, EL2N, forgetting, data map) as a table
  stats   image statistics of a dataset split
  report  learning-dynamics table and correlations
  upgrade rewrite record stores of an older schema in the current format
  claims  the paper's (and Hacohen et al.'s) claims: our numbers, intervals, verdicts
  budget  a profile's training time: measured so far, estimated to go
  learning-order  Hacohen et al.'s claims, the noise ceiling of learning order
  build   the whole study: data, training, statistics, notebooks and the book

Each command is two small functions: ``add_<command>`` declares its options and
``run_<command>`` does the work.

Errors: a wrong input (option, path, store, dataset) stops before the work with one line
``error: ...`` on stderr naming it, and exit status 2; ``--debug`` (before the command)
shows the traceback instead. Ctrl-C stops with one line saying what is kept and the command
that resumes, and exit status 130. A full disk (or quota), whichever layer reports it, stops
with ``error: no space left on device writing PATH; finished work is kept in STORE; free
space and rerun: COMMAND`` and exit status 2. argparse's own usage errors are argparse's
(status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import __version__
from ._io import atomic_path, check_table_path, file_digest, is_disk_full, write_table
from ._locks import LockHeld
from .agreement import agreement_table, common_epochs, recorded_epochs
from .errors import AgreementError, ConfigError, DiskFull, RecordStoreError, StudyMissing, one_line
from .locations import Locations
from .records import ENCODINGS, RecordStore, compact_store, store_fingerprint, upgrade_store
from .specification import VERDICTS

if TYPE_CHECKING:
    from .training import TrainConfig

# The study's commands import the study (statistics, plots, training) when they are built
# or run: the core install (pip install agreement-core) has the record-store commands
# (agree, scores, upgrade, compact), and names the extra the others need.

# ------------------------------------------------------------------ argument types
def parse_subset(value: str) -> int | float | None:
    """``all`` -> None, ``500`` -> first 500 per class, ``0.1`` -> 10% of each class.

    Only the syntax is argparse's business; the range (``0``, ``-3``, ``1.5``) is checked by
    :func:`~agreement_core.data.base.check_subset` and the class sizes by the dataset, each a
    one-line ``error:``.
    """
    if value.lower() in ("all", "none"):
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"subset must be 'all', an integer per class or a fraction in (0, 1], got {value!r}"
        ) from None


def parse_downsample(value: str, dataset: str) -> int | None:
    if value == "auto":
        return 128 if dataset in ("imagenet", "imagenette") else None
    if value.lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(
            f"--downsample must be 'auto', 'none' or an integer, got {value!r}") from None


def add_profile_option(parser: argparse.ArgumentParser,
                       help: str = "(default: %(default)s)") -> None:
    from .study import PROFILES
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default", help=help)


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", type=Path,
                        help="dataset root (default: $AGREEMENT_DATA_ROOT, "
                             "else ~/.cache/agreement_core/data)")
    parser.add_argument("--mirror", type=Path,
                        help="offline mirror directory with the dataset archives "
                             "(default: $AGREEMENT_MIRROR)")


def check_output(path: Path | None, option: str, *, directory: bool = False) -> None:
    """Fail before any work when ``path`` cannot be written, naming ``option`` and the path.

    The command creates ``path`` (a folder when ``directory``, else a file) and its missing
    parents later; here the nearest existing ancestor must be a writable folder, and
    ``path``, if it exists, of the kind asked for. (Otherwise the command would stop,
    possibly after hours, with an OS error from deep inside.)
    """
    if path is None:
        return
    try:
        if path.exists() and path.is_dir() != directory:
            what = "a directory" if path.is_dir() else "a file, not a directory"
            raise ConfigError(f"{option} {path}: it is {what}")
        ancestor = path if directory and path.exists() else path.parent
        while not ancestor.exists():
            ancestor = ancestor.parent
    except OSError as error:
        raise ConfigError(f"{option} {path}: cannot be used ({error.strerror})") from None
    if not ancestor.is_dir():
        raise ConfigError(f"{option} {path}: cannot be created, {ancestor} is a file, "
                          f"not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: cannot be written, no write permission in "
                          f"{ancestor}")


def locations_of(args) -> Locations:
    return Locations(data_root=args.data_root, mirror=args.mirror,
                     results=getattr(args, "results_dir", None))


# ------------------------------------------------------------------ train
#: TrainConfig fields settable by an option of their own (``--batch-size`` -> batch_size).
_TRAIN_FIELDS = {
    "--dataset": dict(help="dataset name (cifar10, imagenette, ...)"),
    "--arch": dict(help="architecture from the model registry"),
    "--networks": dict(dest="num_networks", type=int, help="number of networks K"),
    "--epochs": dict(type=int, help="epochs per network"),
    "--batch-size": dict(type=int),
    "--lr": dict(type=float, help="initial learning rate"),
    "--min-lr": dict(type=float, help="final learning rate of the cosine schedule"),
    "--weight-decay": dict(type=float),
    "--train-subset": dict(type=parse_subset,
                           help="'all', first N per class, or a fraction of each class"),
    "--test-subset": dict(type=parse_subset),
    "--seed": dict(type=int, help="base seed; network k uses seed + k"),
    "--recording": dict(choices=["online", "eval"],
                        help="online: predictions from the training pass (paper); "
                             "eval: separate eval-mode pass"),
    "--optimizer": dict(choices=["sgd", "adam"]),
    "--schedule": dict(choices=["cosine", "step", "onecycle", "constant"]),
    "--image-size": dict(type=int, help="resize images to this square size"),
    "--crop": dict(type=int, help="random crop (train) / center crop (test) of this size"),
    "--random-labels": dict(action="store_true", default=None,
                            help="random-label ablation: one fixed relabelling of the train set"),
    "--stream": dict(action="store_true", default=None,
                     help="decode images per batch instead of holding the split in memory "
                          "(needs --image-size; for ImageNet-sized datasets)"),
    "--precision": dict(choices=["float32", "bfloat16"],
                        help="bfloat16: forward passes under torch.autocast (float32 weights)"),
    "--concurrent": dict(action="store_true", default=None,
                         help="train the K networks at once (fastnet family; fastest on a GPU)"),
}


def add_train(commands) -> None:
    from .study.launch import LAUNCHERS
    from .training import PRESETS
    train = commands.add_parser(
        "train", help="train K networks and record predictions every epoch",
        description="Train K networks on one dataset and record, after every epoch, every "
                    "network's prediction for every train and test example. Rerunning the same "
                    "command resumes an interrupted study.")
    train.add_argument("--out", type=Path, required=True, help="record store directory")
    train.add_argument("--preset", choices=sorted(PRESETS), default="default",
                       help="named base configuration, overridden by the options below "
                            "(default: %(default)s)")
    train.add_argument("--config", type=Path,
                       help="JSON file of TrainConfig fields (overrides the preset)")
    for flag, options in _TRAIN_FIELDS.items():
        train.add_argument(flag, **options)
    train.add_argument("--encoding", choices=ENCODINGS, default="plain",
                       help="record encoding: plain (every prediction and the true-class "
                            "probability) or compact (the same predictions in about a fifth of "
                            "the bytes, no probability); default: %(default)s")
    train.add_argument("--network", type=int, action="append", dest="only_networks",
                       help="train only this network index (repeatable); for one job per network")
    train.add_argument("--grid", type=Path,
                       help="JSON grid of studies ({'base': {...}, 'grid': {field: [values]}, "
                            "'studies': {name: {...}}}); one job per (study, network); "
                            "--out is then the root of the stores")
    train.add_argument("--launcher", choices=LAUNCHERS, default="local",
                       help="how grid jobs run (default: %(default)s)")
    train.add_argument("--parallel", type=int, default=1,
                       help="local launcher: jobs at once (default: %(default)s)")
    add_data_options(train)
    train.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")


def train_config(args) -> TrainConfig:
    """The preset, then the ``--config`` file, then the options given; subsets checked."""
    from .data.base import check_subset
    from .training import PRESETS, TrainConfig
    fields = dict(PRESETS[args.preset])
    if args.config is not None:
        if not args.config.is_file():
            raise ConfigError(f"config file not found: {args.config}")
        try:
            given = json.loads(args.config.read_text())
        except ValueError as error:
            raise ConfigError(f"--config {args.config}: not valid JSON ({error})") from None
        if not isinstance(given, dict):
            raise ConfigError(f"--config {args.config}: expected a JSON object of TrainConfig "
                              f"fields, got {type(given).__name__}")
        fields.update(given)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    fields.update({name: getattr(args, name) for name in known
                   if getattr(args, name, None) is not None})
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(known)}")
    for name in ("train_subset", "test_subset"):
        # Named as the user gave it: the option, else the field of the preset or --config.
        option = "--" + name.replace("_", "-")
        check_subset(fields.get(name), option if getattr(args, name) is not None else name)
    return TrainConfig(**fields)


def run_train(args) -> int:
    from .study import train_study
    from .study.launch import load_grid, run_grid
    check_output(args.out, "--out", directory=True)
    if args.grid is not None:
        stores = run_grid(load_grid(args.grid), args.out, launcher=args.launcher,
                          parallel=args.parallel, locations=locations_of(args),
                          device=args.device)
        for name, store in stores.items():
            print(f"\n== {name}")
            print_agreement(store, "all", None, partial_ok=True)
        return 0
    config = train_config(args)
    print(f"training {config.num_networks} x {config.arch} on {config.dataset} "
          f"for {config.epochs} epochs -> {args.out}", flush=True)
    store = train_study(config, args.out, locations=locations_of(args), device=args.device,
                        networks=args.only_networks, progress=not args.no_progress,
                        encoding=args.encoding)
    # Other jobs may still be training other networks of the store: a note, not an error.
    print_agreement(store, "all", None, partial_ok=True)
    return 0


# ------------------------------------------------------------------ agree
def add_agree(commands) -> None:
    agree = commands.add_parser(
        "agree", help="per-epoch agreement table of a record store",
        description="Compute, for every recorded epoch, true-positive agreement (TPa), its lower "
                    "bound, mean and std of accuracy, Hacohen et al.'s agreement and true-positive "
                    "agreement, and false-positive agreement; print it and optionally save it.")
    agree.add_argument("store", type=Path, help="record store directory")
    agree.add_argument("--split", default="all", help="train, test or all (default: %(default)s)")
    agree.add_argument("--out", type=Path,
                       help="write the table here; .csv or .parquet (by extension)")


def print_agreement(store, split: str, out: Path | None, *, partial_ok: bool = False) -> None:
    """Print (and write to ``out``) the agreement table of ``split`` (``"all"``: every split).

    A split without an epoch recorded for all networks (a half-written store) is a
    :class:`RecordStoreError` saying what each network has, or with ``partial_ok`` (right
    after training, other jobs may be busy) a note; epochs recorded by only some networks
    are left out of the table, with a note (:func:`~agreement_core.agreement.common_epochs`,
    the rule every consumer of a store shares).
    """
    if out is not None:
        check_table_path(out)  # before the work, not after it
        check_output(out, "--out")
    splits = store.splits if split == "all" else [split]
    unknown = [s for s in splits if s not in store.splits]
    if unknown:
        raise ConfigError(f"unknown split {unknown[0]!r}; the store has {store.splits}")
    available, note = common_epochs(store, splits, partial_ok=partial_ok)
    if note:
        print(f"note: {note}")
    if min(available.values()) == 0:
        return
    tables = []
    for name in splits:
        table = agreement_table(store, name)
        table.insert(0, "split", name)
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    with pd.option_context("display.max_rows", None, "display.width", 200,
                           "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    if out is not None:
        print(f"wrote {write_table(table, out)}")


def run_agree(args) -> int:
    print_agreement(RecordStore.open(args.store), args.split, args.out)
    return 0


# ------------------------------------------------------------------ scores
def add_scores(commands) -> None:
    scores = commands.add_parser(
        "scores", help="per-example scores of a record store, written as a table",
        description="Write one row per example with every score the store allows: agreed-from "
                    "epoch, forgetting events (never-learned examples counted as the most "
                    "forgettable), correctness and, where the store keeps what they need, the "
                    "data map's confidence and variability, AUM and EL2N. A score the store "
                    "cannot give is named on stderr with what to record to get it.")
    scores.add_argument("store", type=Path, help="record store directory")
    scores.add_argument("--out", type=Path, required=True,
                        help="the table to write: .parquet or .csv (by extension)")
    scores.add_argument("--split", default="train", help="(default: %(default)s)")
    scores.add_argument("--el2n-epoch", type=int,
                        help="epoch of EL2N (default: a tenth of the recorded epochs)")


def run_scores(args) -> int:
    import warnings

    from .scores import MissingScoreWarning, example_scores, export_scores

    check_table_path(args.out)  # before the work, not after it
    check_output(args.out, "--out")
    store = RecordStore.open(args.store)
    if args.split not in store.splits:
        raise ConfigError(f"unknown split {args.split!r}; the store has {store.splits}")
    if store.multilabel:
        raise ConfigError(f"record store {store.path} is multi-label: the per-example scores "
                          "are defined for single-label targets")
    if store.available_epochs(args.split) == 0:
        raise RecordStoreError(f"record store {store.path}: no epoch of {args.split!r} is "
                               f"recorded for all networks ({recorded_epochs(store)})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MissingScoreWarning)
        try:
            table = example_scores(store, args.split, el2n_epoch=args.el2n_epoch)
        except ValueError as error:   # an EL2N epoch out of range
            raise ConfigError(f"--el2n-epoch: {error}") from None
    for warning in caught:
        if issubclass(warning.category, MissingScoreWarning):
            print(f"note: {warning.message}", file=sys.stderr)
    try:
        written = export_scores(table, args.out)
    except ImportError as error:      # a core install writing Parquet without pyarrow
        raise ConfigError(f"--out {args.out}: writing Parquet needs pyarrow ({error.name} is "
                          "not installed): pip install pyarrow, or write a .csv") from None
    print(f"wrote {written}: {len(table)} examples, columns "
          f"{', '.join(c for c in table.columns if c != 'example_id')}")
    return 0


# ------------------------------------------------------------------ stats
def add_stats(commands) -> None:
    from .statistics import DEFAULT_STATISTICS
    stats = commands.add_parser(
        "stats", help="image statistics of a dataset split",
        description="Compute image statistics (mean windowed entropy, segment count, DCT "
                    "coefficient share, Sobel or crisp-boundary edge strength) on the original "
                    "images of a dataset split, plus its factors (VOC instances and box area, "
                    "KTH illumination/pose/scale, CIFAR-10H soft-label entropy). Resumable; "
                    "computes only what the table lacks.")
    stats.add_argument("dataset",
                       help="dataset name (cifar10, imagenette, imagenet, voc, kth, dtd)")
    stats.add_argument("--split", action="append", dest="splits",
                       help="split (repeatable; default: train and test)")
    stats.add_argument("--statistics", default=",".join(DEFAULT_STATISTICS),
                       help="comma-separated statistics (default: %(default)s; also crisp_edges)")
    stats.add_argument("--subset", type=parse_subset, default=None,
                       help="'all' (default), first N per class, or a fraction of each class")
    stats.add_argument("--downsample", default="auto",
                       help="size for entropy and DCT share; 'auto' = 128 for ImageNet-style "
                            "datasets (as the paper), none otherwise; or an integer or 'none'")
    stats.add_argument("--out-dir", type=Path, default=Path("results/statistics"),
                       help="tables go to <out-dir>/<dataset>-<split>.parquet "
                            "(default: %(default)s)")
    stats.add_argument("--batch-size", type=int, default=500)
    stats.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="processes for the CPU kernels (default: all cores)")
    stats.add_argument("--device", help="torch device for entropy, DCT and Sobel (e.g. cuda)")
    stats.add_argument("--lock-timeout", type=float, default=None,
                       help="seconds to wait when another process computes the same table "
                            "(default: wait until it has finished; 0: stop at once)")
    stats.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_data_options(stats)


def run_stats(args) -> int:
    from .data import get_dataset
    from .data.base import check_subset
    from .statistics import compute_statistics, statistics_table_path
    statistics = [s.strip() for s in args.statistics.split(",") if s.strip()]
    downsample = parse_downsample(args.downsample, args.dataset)
    check_subset(args.subset, "--subset")
    check_output(args.out_dir, "--out-dir", directory=True)
    for split in args.splits or ["train", "test"]:
        dataset = get_dataset(args.dataset, split, locations_of(args), subset=args.subset)
        out = statistics_table_path(args.out_dir, args.dataset, split)
        print(f"{args.dataset} {split}: {len(dataset)} images -> {out}", flush=True)
        if dataset.caveat:
            print(f"note: {dataset.caveat}")
        table = compute_statistics(dataset, out, statistics, downsample=downsample,
                                   batch_size=args.batch_size, workers=args.workers,
                                   device=args.device, mirror=args.mirror,
                                   lock_timeout=args.lock_timeout,
                                   progress=not args.no_progress)
        numeric = table.drop(columns=["example_id"]).select_dtypes("number")
        with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
            print(numeric.describe().T[["mean", "std", "min", "50%", "max"]].to_string())
    return 0


# ------------------------------------------------------------------ report
#: Where ``report`` looks for statistics tables unless told (``stats --out-dir``'s default).
DEFAULT_STATISTICS_DIR = Path("results/statistics")


def add_report(commands) -> None:
    report = commands.add_parser(
        "report", help="learning-dynamics table and correlations",
        description="Write the learning-dynamics table (one row per example: agreed-from "
                    "epoch, first-correct epoch per network, forgetting events, confidence, "
                    "Hacohen and false-positive agreement, image statistics) and print a "
                    "summary: agreement above the lower bound and the strongest Spearman "
                    "correlations of the statistics with the agreed-from epoch.")
    report.add_argument("store", type=Path, help="record store directory")
    report.add_argument("--statistics-dir", type=Path,
                        help="folder of <dataset>-<split>.parquet statistics tables; it must "
                             f"exist (default: {DEFAULT_STATISTICS_DIR}, if it exists; missing "
                             "tables of splits are skipped)")
    report.add_argument("--dataset", help="dataset name of the tables (default: the store's)")
    report.add_argument("--out", type=Path,
                        help="table path, .parquet or .csv "
                             "(default: <store>/learning_dynamics.parquet)")
    report.add_argument("--figure", type=Path,
                        help="also draw the agreement figure (one panel per split) to this "
                             "image file (.png, .svg, .pdf)")
    report.add_argument("--figure-statistic", default="entropy",
                        help="statistic overlaid in orange on the figure (default: %(default)s)")
    report.add_argument("--top", type=int, default=5, help="correlations to print per split")
    report.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples")
    report.add_argument("--n-perm", type=int, default=1000, help="permutations")


def run_report(args) -> int:
    from .report import learning_dynamics_table, summarize
    from .statistics import read_statistics_tables, statistics_table_path
    statistics_dir = args.statistics_dir or DEFAULT_STATISTICS_DIR
    # A folder named on the command line must exist: a typo must not read as "no statistics".
    if args.statistics_dir is not None and not args.statistics_dir.is_dir():
        raise ConfigError(f"--statistics-dir {args.statistics_dir}: no such directory")
    out = check_table_path(args.out or args.store / "learning_dynamics.parquet")
    check_output(out, "--out")
    check_output(args.figure, "--figure")
    store = RecordStore.open(args.store)
    # agree's rule: the epochs all networks have recorded, said when some went further.
    _, note = common_epochs(store)
    if note:
        print(f"note: {note}")
    dataset = args.dataset or store.config.get("dataset")
    tables = (read_statistics_tables(statistics_dir, dataset, store.splits)
              if dataset else {})
    table = learning_dynamics_table(store, tables)
    used = {split: statistics_table_path(statistics_dir, dataset, split) for split in tables}
    out = write_table(table, out, provenance={
        "store": store_fingerprint(store.path),
        "statistics": {path.name: file_digest(path) for path in used.values()}})
    print(f"wrote {out}: {len(table)} rows x {table.shape[1]} columns; statistics joined for "
          f"{sorted(tables) or 'no split'} from {statistics_dir}")
    print(summarize(store, table, top=args.top, n_boot=args.n_boot, n_perm=args.n_perm))
    if args.figure is not None:
        save_agreement_figure(store, tables, args.figure_statistic, args.figure)
    return 0


def save_agreement_figure(store, tables: dict, statistic: str, out: Path) -> None:
    """The agreement figure of a study, titled with what it was computed from."""
    from .plots import agreement_figure
    from .study import study_caption
    source = next((t.attrs["source"] for t in tables.values() if t.attrs.get("source")), None)
    title = textwrap.fill(study_caption(store, source), 150)
    if not any(statistic in t.columns for t in tables.values()):
        statistic = None
    figure = agreement_figure(store, statistics=tables, statistic=statistic, title=title)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, dpi=120, format=out.suffix.lstrip(".") or "png")
    overlay = f" (orange: mean {statistic} of the agreed examples)" if statistic else ""
    print(f"wrote {out}{overlay}")


# ------------------------------------------------------------------ upgrade
def add_upgrade(commands) -> None:
    upgrade = commands.add_parser(
        "upgrade", help="rewrite old record stores in the current format",
        description="Rewrite record stores of an older schema (files without identity and "
                    "checksum) in the current format, keeping every prediction bit for bit. "
                    "Atomic per file and resumable; a store already current is left as it is.")
    upgrade.add_argument("stores", type=Path, nargs="+", help="record store directories")


def run_upgrade(args) -> int:
    for path in args.stores:
        print(f"{path}: {upgrade_store(path)} files rewritten")
    return 0


def add_compact(commands) -> None:
    compact = commands.add_parser(
        "compact", help="rewrite record stores in the compact encoding",
        description="Rewrite plain record stores in the compact encoding (docs/records.md): "
                    "the same predictions, bit for bit, in about a fifth of the bytes; the "
                    "true-class probabilities are dropped. Atomic per file and resumable. "
                    "Refuses a store while a process trains into it.")
    compact.add_argument("stores", type=Path, nargs="+", help="record store directories")


def run_compact(args) -> int:
    from .study.runs import network_lock
    for path in args.stores:
        store = RecordStore.open(path)
        with contextlib.ExitStack() as held:
            for k in range(store.num_networks):
                lock = network_lock(path, k)
                if not lock.acquire(timeout=0):
                    raise LockHeld(f"{path}: net {k} is being trained by "
                                   f"{lock.describe_holder()}; compact it once that has ended")
                held.callback(lock.release)
            print(f"{path}: {compact_store(path)} files rewritten")
    return 0


# ------------------------------------------------------------------ claims
def add_claims(commands) -> None:
    claims = commands.add_parser(
        "claims", help="the paper's claims: our numbers, intervals, verdicts",
        description="Print the claims table of a profile as its build wrote it "
                    "(<results>/<profile>/claims.csv): every entry of the claim specification "
                    "(agreement_core/specification.py: the paper's statements in sections 3-6 "
                    "and appendices B-E, on CIFAR-10, Pascal VOC, textures and ImageNet or "
                    "their stand-ins; and the five claims of Hacohen et al.'s abstract, from "
                    "the learning-order command's tables), our number with its 95%% interval "
                    "over seed groups and examples, raw and Holm-adjusted p-values, the "
                    "learning-order measures and a verdict (reproduced, mixed, differs, "
                    "inconclusive, not testable here, descriptive). --recompute computes it "
                    "again from the record stores and writes it.")
    add_profile_option(claims)
    claims.add_argument("--recompute", action="store_true",
                        help="compute the table from the finished studies and write it")
    claims.add_argument("--n-boot", type=int, default=200,
                        help="bootstrap resamples over examples, with --recompute "
                             "(default: %(default)s)")
    claims.add_argument("--verdict", action="append", choices=VERDICTS,
                        help="show only rows with this verdict (repeatable)")
    claims.add_argument("--width", type=int, default=None,
                        help="text width (default: the terminal's, at most 100)")
    add_data_options(claims)


def run_claims(args) -> int:
    from .claims import format_claims
    from .errors import DerivedFileError
    from .study import Workspace
    from .study.claims import claims_inputs, read_claims, write_claims

    workspace = Workspace.open(args.profile, locations_of(args))
    path = workspace.layout.claims_path
    if args.recompute:
        table = write_claims(workspace, n_boot=args.n_boot)
        print(f"wrote {path}", file=sys.stderr)
    else:
        try:
            table = read_claims(path, claims_inputs(workspace, n_boot=args.n_boot))
        except DerivedFileError as error:
            if not path.is_file():
                raise StudyMissing(f"no claims table at {path}: run 'python -m agreement_core "
                                   f"claims --profile {args.profile} --recompute' (or build "
                                   "the profile)") from None
            table = read_claims(path)  # still refuses an edited or impossible table
            print(f"note: {one_line(str(error))}; shown as written, --recompute computes it again",
                  file=sys.stderr)
    if args.verdict:
        table = table[table["verdict"].isin(args.verdict)]
    width = args.width or min(100, shutil.get_terminal_size((100, 24)).columns)
    print(format_claims(table, width))
    return 0


# ------------------------------------------------------------------ budget
def add_budget(commands) -> None:
    budget = commands.add_parser(
        "budget", help="a profile's training time: measured so far, estimated to go",
        description="Per study of a profile, in training order: network-epochs recorded, the "
                    "wall time measured for them (timings/net<k>.json in each store), the "
                    "median seconds per network-epoch, and an estimate of the time left from "
                    "that median (this study's, else the profile's other studies of the same "
                    "network). Reads the results only; trains nothing.")
    add_profile_option(budget)
    add_data_options(budget)


def run_budget(args) -> int:
    from .study import Workspace
    from .study.runs import training_budget

    table = training_budget(Workspace.open(args.profile, locations_of(args)))
    shown = table.assign(measured_h=table["measured_s"] / 3600, left_h=table["left_s"] / 3600)
    print(shown.drop(columns=["measured_s", "left_s"]).round(2).to_string(index=False))
    unknown = table.loc[table["left_s"].isna() & table["status"].isin(["queued", "in progress"]),
                        "role"]
    measured, left = table["measured_s"].sum() / 3600, table["left_s"].sum() / 3600
    print(f"measured {measured:.2f} h; left {left:.2f} h"
          + (f" plus {', '.join(unknown)} (no epoch of that network measured here yet)"
             if len(unknown) else ""))
    untimed = table.loc[table["measured_s"].isna(), "role"]
    if len(untimed):
        print(f"not timed (trained before timings were kept): {', '.join(untimed)}")
    return 0


# ------------------------------------------------------------------ prune
def add_prune(commands) -> None:
    prune = commands.add_parser(
        "prune", help="data pruning by a score: keep easiest / hardest / random, retrain",
        description="The pruning experiment of a profile: order the training examples of its "
                    "own-loop run by each score (agreed-from epoch, AUM, EL2N, forgetting), "
                    "keep the easiest, the hardest or a random fraction, train fresh networks "
                    "on each and record their test accuracy in "
                    "<results>/<profile>/pruning/results.csv. Resumable.")
    add_profile_option(prune)
    prune.add_argument("--no-progress", action="store_true", help="no progress lines")
    add_data_options(prune)


def run_prune(args) -> int:
    from .study import Workspace
    from .study.pruning import run_profile_pruning

    workspace = Workspace.open(args.profile, locations_of(args))
    if not workspace.profile.pruning:
        raise ConfigError(f"profile {args.profile!r} has no pruning experiment")
    results = run_profile_pruning(workspace, progress=not args.no_progress)
    summary = results.groupby(["score", "rule", "fraction"])["test_accuracy"].mean()
    print(summary.round(3).to_string())
    return 0


# ------------------------------------------------------------------ learning order
def add_learning_order(commands) -> None:
    command = commands.add_parser(
        "learning-order", help="Hacohen et al.'s claims, the noise ceiling, explained order",
        description="Compute a profile's learning-order analyses into "
                    "<results>/<profile>/hacohen: the noise ceiling of the agreed-from order "
                    "between the main study's seed groups and between architectures, how much "
                    "of it image statistics (and the class, and CIFAR-10H) explain, nested "
                    "agreed sets of a weaker and a stronger family (order/, a few minutes); "
                    "and small MLP runs on natural, synthetic and text data and boosting "
                    "(synthetic/, about 15 minutes on one core). The claims table reads them "
                    "(claims --recompute).")
    add_profile_option(command)
    command.add_argument("--no-synthetic", action="store_true",
                         help="only the analyses of the record stores (order/)")
    command.add_argument("--n-boot", type=int, default=1000,
                         help="bootstrap resamples over examples (default: %(default)s)")
    add_data_options(command)


def run_learning_order(args) -> int:
    from .study import Workspace
    from .study.learning_order import run_learning_order as run

    workspace = Workspace.open(args.profile, locations_of(args))
    run(workspace, synthetic=not args.no_synthetic, n_boot=args.n_boot,
        log=lambda line: print(line, file=sys.stderr))
    print(f"wrote {workspace.layout.hacohen_dir}")
    return 0


# ------------------------------------------------------------------ build
def add_build(commands) -> None:
    build = commands.add_parser(
        "build", help="the whole study: data, training, statistics, notebooks, the book",
        description="Run the study's pipeline for a profile: open the datasets, train the "
                    "studies without finished results, compute image statistics and "
                    "learning-dynamics tables, execute every notebook with papermill and build "
                    "the Jupyter Book (book/_build/html). Resumable; finished work is kept.")
    add_profile_option(build, help="default: sized for a 2-core CPU, retrains in minutes; "
                                    "full: all of CIFAR-10, four architecture families, seed "
                                    "groups; paper: the paper's protocols (default: %(default)s)")
    build.add_argument("--results-dir", type=Path,
                       help="results root (default: $AGREEMENT_RESULTS, else results/ of the "
                            "study's checkout, else ./results)")
    build.add_argument("--project", type=Path,
                       help="the study's checkout with notebooks/, book/ and _config.yml "
                            "(default: $AGREEMENT_PROJECT, else the checkout this package "
                            "runs from, else the working directory)")
    build.add_argument("--no-train", dest="train", action="store_false",
                       help="use the results as they are: no training, statistics or tables")
    build.add_argument("--retrain", action="store_true",
                       help="train every study of the profile again from scratch")
    build.add_argument("--notebook", action="append", dest="notebooks",
                       help="execute only this notebook (repeatable; name without .ipynb)")
    build.add_argument("--no-notebooks", dest="run_notebooks", action="store_false",
                       help="stop after the results (no notebooks, no book)")
    build.add_argument("--no-book", dest="book", action="store_false",
                       help="execute the notebooks but do not build the book")
    build.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_data_options(build)


def run_build(args) -> int:
    # The pipeline needs the `book` extra (papermill, jupyter-book): imported only here.
    from .study.pipeline import build

    if args.train:
        check_output(args.results_dir, "--results-dir", directory=True)
    elif args.results_dir is not None and not args.results_dir.is_dir():
        # --no-train only reads the results: a read-only folder will do, a missing one not.
        raise ConfigError(f"--results-dir {args.results_dir}: no such directory")
    build(args.profile, locations=locations_of(args), train=args.train, retrain=args.retrain,
          notebooks=args.notebooks, execute=args.run_notebooks,
          book=args.book and args.run_notebooks, progress=not args.no_progress,
          project=args.project)
    return 0


# ------------------------------------------------------------------ main
COMMANDS = {"train": (add_train, run_train), "agree": (add_agree, run_agree),
            "scores": (add_scores, run_scores),
            "stats": (add_stats, run_stats), "report": (add_report, run_report),
            "prune": (add_prune, run_prune),
            "upgrade": (add_upgrade, run_upgrade), "compact": (add_compact, run_compact),
            "claims": (add_claims, run_claims), "budget": (add_budget, run_budget),
            "learning-order": (add_learning_order, run_learning_order),
            "build": (add_build, run_build)}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of command ``only`` alone (what ``main`` builds when
    the command is named: ``agreement scores ...`` does not import the study)."""
    parser = argparse.ArgumentParser(
        prog="agreement", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'agreement <command> --help' for the options of a command.")
    parser.add_argument("--version", action="version", version=f"agreement_core {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="on an error or Ctrl-C, show the full traceback instead of one line")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, (add, _) in COMMANDS.items():
        if only is not None and name != only:
            continue
        try:
            add(commands)
        except ImportError as error:      # a core install: the study's extra is missing
            add_unavailable(commands, name, error)
    return parser


#: The extra each command needs beyond the core install.
EXTRA = {"train": "study", "stats": "study", "report": "study", "prune": "study",
         "claims": "study", "budget": "study", "learning-order": "study",
         "build": "study,book"}


def add_unavailable(commands, name: str, error: ImportError) -> None:
    """A command whose modules do not import: listed, and an ``error:`` line when run."""
    extra = EXTRA.get(name, "study")
    # A command that failed half-way through declaring its options: forget that half.
    commands.choices.pop(name, None)
    commands._choices_actions[:] = [a for a in commands._choices_actions if a.dest != name]
    message = (f"the {name} command needs the '{extra}' extra ({error.name or error} is not "
               f"installed): pip install 'agreement-core[{extra}]'")
    command = commands.add_parser(name, help=f"(needs: pip install 'agreement-core[{extra}]')",
                                  description=message)
    command.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    command.set_defaults(unavailable=message)


#: What an interrupted command keeps (every file is written atomically), for its Ctrl-C line.
KEPT = {"train": "finished epochs are kept", "stats": "finished batches are kept",
        "build": "finished results are kept"}


def interrupted_line(args, argv: list[str]) -> str:
    """The one line of Ctrl-C: what is kept and the command that resumes (the same argv)."""
    command = shlex.join(["python", "-m", "agreement_core", *argv])
    if args.command not in KEPT:
        return f"interrupted: no file is left half-written; rerun with: {command}"
    where = f" in {args.out}" if args.command == "train" else ""
    return f"interrupted: {KEPT[args.command]}{where}; resume with: {command}"


def kept_in(args) -> str:
    """Where a command keeps its finished work (for the disk-full line)."""
    # agree and report write a table of a store: the store is the finished work.
    where = {"train": "out", "stats": "out_dir", "agree": "store", "report": "store",
             "upgrade": "stores", "compact": "stores"}.get(args.command)
    if where is not None:
        value = getattr(args, where)
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    try:
        root = locations_of(args).results_root
    except AgreementError:
        return "the results folder"
    profile = getattr(args, "profile", None)
    return str(root / profile) if profile else str(root)


def disk_full_line(args, argv: list[str], error: BaseException) -> str:
    """The one line of a full disk: the file being written, where finished work is kept,
    and the command that resumes once space is freed."""
    path = None
    seen = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen and path is None:
        seen.add(id(cause))
        if isinstance(cause, DiskFull):
            path = cause.path
        elif isinstance(cause, OSError) and cause.filename:
            path = cause.filename
        cause = cause.__cause__ or cause.__context__
    if path is None:  # a layer that names no file: the command's output
        path = getattr(args, "out", None) or getattr(args, "out_dir", None) or kept_in(args)
    command = shlex.join(["python", "-m", "agreement_core", *argv])
    return (f"error: no space left on device writing {path}; finished work is kept in "
            f"{kept_in(args)}; free space and rerun: {command}")


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status (0, 2 for an error, 130 for Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    named = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(named if named in COMMANDS else None).parse_args(argv)
    try:
        if getattr(args, "unavailable", None):
            raise ConfigError(args.unavailable)
        return COMMANDS[args.command][1](args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(interrupted_line(args, argv), file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        # A full disk, from any layer (torch's serializer raises a RuntimeError): one line.
        if is_disk_full(error):
            print(disk_full_line(args, argv, error), file=sys.stderr)
            return 2
        # An OSError naming a path (an unwritable or vanished file) is the user's to fix;
        # any other is a bug, shown with its traceback.
        if not isinstance(error, (AgreementError, OSError)) or (
                isinstance(error, OSError) and not isinstance(error, AgreementError)
                and error.filename is None):
            raise
        if isinstance(error, OSError) and not isinstance(error, AgreementError):
            message = f"{error.filename}: {error.strerror or error}"
        else:
            message = one_line(str(error))
            if getattr(error, "detail", ""):
                message += f" (looked for it here: {one_line(error.detail)})"
        print(f"error: {message}", file=sys.stderr)
        return 2

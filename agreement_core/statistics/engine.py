"""Compute image statistics for a whole dataset split: batched, parallel, cached, resumable.

``compute_statistics(dataset, out)`` runs the selected kernels on the original,
uncropped images, one batch of examples at a time, on a process pool (CPU) or
on a GPU for the kernels where that helps. Finished batches are written to
``<out>.partial/`` as they come, so an interrupted run loses at most the
batches in flight; the final table is one parquet file keyed by
``example_id``, with each statistic's parameters and the library version in
its metadata. A later call computes only what the table lacks: a statistic
that is missing or was computed with other parameters, or examples that are
not in it yet. It never drops what the table holds: statistics not asked for this
time stay (merged, with their definitions), and a table that cannot be read
(truncated, corrupt) is computed again.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import json
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import threadpoolctl
from tqdm.auto import tqdm

from .. import __version__
from .._io import atomic_path, write_json
from .._locks import FileLock, lock_path
from ..errors import ConfigError, DerivedFileError
from .crisp import crisp_boundary_strength
from .factors import dataset_factors
from .kernels import DEFAULT_PARAMETERS, KERNELS, resize_images

STATISTICS = {**KERNELS, "crisp_edges": crisp_boundary_strength}
#: What a table holds by default. Entropy and the DCT statistics use the paper's code's
#: definitions (``definition="paper"``); ``parameters={"entropy": {"definition": "8bit"}}``
#: (likewise ``dct_share``, ``dct_largest``) gives the 8-bit variants, see docs/statistics.md.
DEFAULT_STATISTICS = ("entropy", "segments", "dct_share", "dct_largest", "sobel_edges")
#: Kernels that run on a torch device when one is given.
GPU_STATISTICS = frozenset({"entropy", "dct_share", "dct_largest", "sobel_edges"})
#: Kernels computed on downsampled images when ``downsample`` is set (the paper: ImageNet).
DOWNSAMPLED_STATISTICS = frozenset({"entropy", "dct_share", "dct_largest"})
METADATA_KEY = b"agreement_core"


def statistic_parameters(name: str) -> dict:
    """The parameters (with defaults) that define statistic ``name``."""
    if name in DEFAULT_PARAMETERS:
        return dict(DEFAULT_PARAMETERS[name])
    signature = inspect.signature(STATISTICS[name])
    return {p.name: p.default for p in signature.parameters.values()
            if p.default is not inspect.Parameter.empty}


def statistics_spec(statistics: Sequence[str], downsample: int | None = None,
                    parameters: dict[str, dict] | None = None) -> dict:
    """What defines each column: parameters and downsampling, for the table's metadata.

    ``parameters`` overrides kernel parameters per statistic, e.g.
    ``{"entropy": {"window": 5}}`` or ``{"entropy": {"definition": "8bit"}}``. Every
    parameter, defaults included, is part of the spec, so a table computed under another
    definition (or before ``definition`` existed) is recomputed, not reused.
    """
    unknown = [s for s in statistics if s not in STATISTICS]
    if unknown:
        raise ConfigError(f"unknown statistic(s) {unknown}; known: {sorted(STATISTICS)}")
    parameters = parameters or {}
    for name, overrides in parameters.items():
        allowed = statistic_parameters(name) if name in STATISTICS else {}
        bad = sorted(set(overrides) - set(allowed)) if name in statistics else [name]
        if bad:
            raise ConfigError(f"parameters for {name!r}: unknown {bad}; "
                              f"statistics {list(statistics)} take {allowed or 'none'}")
    if downsample is not None and (int(downsample) != downsample or downsample < 8):
        raise ConfigError(f"downsample must be an integer size >= 8 or None, got {downsample!r}")
    spec = {name: {"parameters": {**statistic_parameters(name), **parameters.get(name, {})},
                   "downsample": downsample if name in DOWNSAMPLED_STATISTICS else None}
            for name in statistics}
    return json.loads(json.dumps(spec))  # as it reads back from the table's metadata


def read_statistics(path: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """Read a statistics table and its metadata (``{"spec": ..., "version": ...}``).

    Raises
    ------
    DerivedFileError
        The file is missing, truncated or corrupt: one line naming it and the command that
        computes it again (``stats`` recomputes a table it cannot read).
    """
    path = Path(path)
    try:
        table = pq.read_table(path)
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        meta = json.loads(raw) if raw else {"spec": {}}
        return table.to_pandas(), meta
    except (OSError, ValueError, pa.ArrowException) as error:
        dataset, _, split = path.stem.rpartition("-")
        command = (f"python -m agreement_core stats {dataset} --split {split} --out-dir "
                   f"{path.parent}" if dataset else "python -m agreement_core stats")
        why = "missing" if isinstance(error, FileNotFoundError) else (
            f"unreadable, truncated or corrupt ({type(error).__name__}: "
            f"{' '.join(str(error).split())[:100]})")
        raise DerivedFileError(path, f"statistics table {why}",
                               f"compute it again: {command} (or build)") from None


def statistics_table_path(directory: str | os.PathLike, dataset: str, split: str) -> Path:
    """The one naming rule of statistics tables: ``<directory>/<dataset>-<split>.parquet``."""
    return Path(directory) / f"{dataset}-{split}.parquet"


def read_statistics_tables(directory: str | os.PathLike, dataset: str, splits) -> dict:
    """The statistics tables of ``dataset`` under ``directory``: split -> table.

    Splits without a table are left out. Each table's ``attrs["source"]`` holds the
    dataset's source (e.g. ``"mirror-jpeg"``), for captions.
    """
    found = {}
    for split in splits:
        path = statistics_table_path(directory, dataset, split)
        if path.is_file():
            table, meta = read_statistics(path)
            table.attrs["source"] = meta.get("source")
            found[split] = table
    return found


# ------------------------------------------------------------------ one batch
_DATASET = None  # set in each worker process by _init_worker


def _init_worker(dataset) -> None:
    global _DATASET
    import torch

    # One core per process: the pool provides the parallelism.
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    threadpoolctl.threadpool_limits(1)  # BLAS in the crisp-boundary eigensolver
    _DATASET = dataset
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _pool_context():
    """fork (workers share the decoded dataset for free), unless this process has already
    run a parallel numba kernel on GNU OpenMP, which aborts a forked child ("fork() called
    from a process already using GNU OpenMP"): then a fresh interpreter (forkserver)."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run here yet
        layer = None
    method = "forkserver" if layer == "omp" else "fork"
    return multiprocessing.get_context(method)


def _exit_with_parent(parent: int) -> None:
    # A pool worker whose parent was killed (kill -9, a time limit) would wait for work
    # forever: it holds the write end of its own task queue, so it never sees EOF.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def compute_batch(dataset, rows: np.ndarray, spec: dict, device=None) -> pd.DataFrame:
    """All statistics of ``spec`` for the examples at positions ``rows`` of ``dataset``."""
    images = dataset.load_batch(rows)
    columns = {"example_id": dataset.example_ids[rows]}
    for name, column_spec in spec.items():
        batch = images
        if column_spec["downsample"] is not None:
            batch = resize_images(images, column_spec["downsample"])
        if device is not None and name in GPU_STATISTICS:
            import torch

            batch = (torch.from_numpy(np.ascontiguousarray(batch)).to(device)
                     if isinstance(batch, np.ndarray) else batch)
        columns[name] = np.asarray(STATISTICS[name](batch, **column_spec["parameters"]))
    return pd.DataFrame(columns)


def _compute_in_worker(rows: np.ndarray, spec: dict) -> pd.DataFrame:
    return compute_batch(_DATASET, rows, spec)


# ------------------------------------------------------------------ the engine
def compute_statistics(dataset, out: str | os.PathLike,
                       statistics: Sequence[str] = DEFAULT_STATISTICS, *,
                       downsample: int | None = None, parameters: dict | None = None,
                       batch_size: int = 500, workers: int = 2,
                       device: str | None = None, mirror: str | os.PathLike | None = None,
                       progress: bool = True, lock_timeout: float | None = None,
                       reuse: Sequence[str | os.PathLike] = ()) -> pd.DataFrame:
    """Compute ``statistics`` for every example of ``dataset`` and store them at ``out``.

    Parameters
    ----------
    dataset : agreement_core.data.ImageDataset
        The split (with its subset) to compute; images are used at their original size.
    out : path
        Parquet file of the table, keyed by ``example_id``.
    statistics : sequence of str
        Names from :data:`STATISTICS`.
    downsample : int, optional
        Compute entropy and the DCT statistics on images resized to ``downsample`` x
        ``downsample`` (the paper uses 128 for ImageNet).
    parameters : dict, optional
        Kernel parameters per statistic overriding the defaults, e.g.
        ``{"entropy": {"window": 5}}`` or ``{"dct_share": {"definition": "8bit"}}``;
        stored in the table's metadata.
    batch_size : int
        Examples per batch (the unit of work and of resumption).
    workers : int
        Processes for the CPU kernels (1: compute in this process).
    device : str, optional
        A torch device (e.g. ``"cuda"``) for entropy, the DCT statistics and Sobel
        edges; batches then run in this process.
    mirror : path, optional
        Mirror directory for CIFAR-10H (CIFAR-10 test set soft-label entropy).
    progress : bool
        Show a progress bar over batches.
    lock_timeout : float, optional
        One caller at a time computes a table (a lock beside it, ``.<name>.lock``); a
        second caller waits for the first, with a message naming it, then computes what
        is still missing (usually nothing). ``None`` waits as long as it takes, ``0``
        does not wait.
    reuse : sequence of path
        Tables computed elsewhere (e.g. another profile's, with another subset): a
        statistic's values are taken from them, matched by ``example_id``, where the table
        describes the same dataset class, split and source and the statistic has the same
        definition; only what none of them holds is computed.

    Returns
    -------
    pandas.DataFrame
        One row per example of ``dataset`` in its order: ``example_id``, the
        statistics (those asked for and those the table already held: a table's columns
        are merged, never replaced; rows of examples outside ``dataset`` stay in the file),
        and the dataset's factor columns (labels, VOC instances and
        box area, KTH illumination/pose/scale, CIFAR-10H soft-label entropy).

    Raises
    ------
    agreement_core._locks.LockHeld
        Another process still computes this table after ``lock_timeout`` seconds.
    """
    out = Path(out)
    if batch_size < 1 or workers < 1:
        raise ConfigError(f"batch_size and workers must be >= 1, got {batch_size}, {workers}")
    spec = statistics_spec(list(statistics), downsample, parameters)
    say = functools.partial(tqdm.write, file=sys.stderr)  # stdout may be a table
    with FileLock(lock_path(out), f"statistics table {out}", timeout=lock_timeout, say=say):
        return _compute_locked(dataset, out, spec, batch_size, workers, device, mirror,
                               progress, [Path(p) for p in reuse])


def _compute_locked(dataset, out: Path, spec: dict, batch_size: int, workers: int, device,
                    mirror, progress: bool, reuse: list[Path]) -> pd.DataFrame:
    """:func:`compute_statistics` once it holds the table's lock."""
    ids = dataset.example_ids
    say = functools.partial(tqdm.write, file=sys.stderr)

    # The table as it is: its columns and rows are kept (merged), never replaced by this
    # call's list. An unreadable one (truncated, corrupt) is computed again.
    previous, previous_spec = None, {}
    if out.is_file():
        try:
            previous, meta = read_statistics(out)
            previous_spec = meta.get("spec", {})
        except DerivedFileError as error:
            say(f"note: {error}: computing it again")
    # Statistics already in the table but not asked for this time stay, with their
    # definitions; they are computed for examples the table lacks.
    carried = {name: column_spec for name, column_spec in previous_spec.items()
               if name not in spec and name in STATISTICS and previous is not None
               and name in previous.columns}
    if carried:
        say(f"note: keeping {sorted(carried)} already in {out}")
    merged = {**carried, **spec}
    order = [n for n in previous_spec if n in merged] + [n for n in spec if n not in previous_spec]
    spec = {name: merged[name] for name in order}  # the table's column order is kept

    # What the existing table, then the reused ones, already hold with the same definition.
    existing = pd.DataFrame({"example_id": ids})
    same_images = (type(dataset).__name__, dataset.split, dataset.source)
    for path in [out, *reuse]:
        if path == out:
            table, meta = previous, {"spec": previous_spec}
        elif not path.is_file():
            continue
        else:
            try:
                table, meta = read_statistics(path)
            except DerivedFileError as error:
                say(f"note: not reusing {error}")
                continue
            if (meta.get("dataset"), meta.get("split"), meta.get("source")) != same_images:
                continue
        if table is None:
            continue
        old = table.set_index("example_id")
        for name, column_spec in spec.items():
            if meta["spec"].get(name) == column_spec and name in old.columns:
                values = old[name].reindex(ids).to_numpy()
                existing[name] = (values if name not in existing
                                  else existing[name].where(existing[name].notna(), values))
    todo = {name: existing[name].isna().to_numpy() if name in existing
            else np.ones(len(ids), dtype=bool) for name in spec}
    todo_spec = {name: spec[name] for name, mask in todo.items() if mask.any()}
    rows = np.flatnonzero(np.logical_or.reduce([todo[n] for n in todo_spec])) if todo_spec else []

    if len(rows):
        computed = _run_batches(dataset, np.asarray(rows), todo_spec, out, batch_size, workers,
                                device, progress)
        computed = computed.set_index("example_id").reindex(ids)
        for name in todo_spec:
            fresh = computed[name].to_numpy()
            existing[name] = (np.where(todo[name], fresh, existing[name].to_numpy())
                              if name in existing else fresh)

    table = existing[["example_id", *spec]].merge(dataset_factors(dataset, mirror=mirror),
                                                  on="example_id", how="left")
    stored = table
    if previous is not None:
        # Rows of examples outside this call's subset stay when every column of theirs is
        # still valid and complete (no statistic new or redefined); otherwise they would
        # mix definitions or lack a value, which a reader joining by id would not see.
        extra = previous[~previous["example_id"].isin(ids)]
        if len(extra):
            changed = [n for n in spec if previous_spec.get(n) != spec[n]]
            if changed:
                say(f"note: {len(extra)} rows of examples outside this subset dropped from "
                    f"{out}: {changed} new or redefined; compute them on the whole "
                    f"split to keep every row")
            else:
                # In the table's own row order, new examples last: an unchanged table is
                # left as it is (same file, same mtime).
                new = table.loc[~table["example_id"].isin(previous["example_id"]), "example_id"]
                order = pd.concat([previous["example_id"], new], ignore_index=True)
                stored = (pd.concat([table, extra.reindex(columns=table.columns)])
                          .set_index("example_id").loc[order].reset_index())
    if previous is None or len(rows) or not previous.equals(stored):
        _write_table(out, stored, spec, dataset)  # else unchanged: keep the file and its mtime
    shutil.rmtree(_partial_dir(out), ignore_errors=True)
    return table


def _partial_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def _run_batches(dataset, rows, spec, out, batch_size, workers, device, progress) -> pd.DataFrame:
    """Compute ``spec`` for ``rows`` batch by batch, keeping finished batches on disk."""
    partial = _partial_dir(out)
    plan = {"spec": spec, "rows": rows.tolist(), "batch_size": batch_size}
    plan_file = partial / "plan.json"
    if not plan_file.is_file() or json.loads(plan_file.read_text()) != plan:
        shutil.rmtree(partial, ignore_errors=True)  # another job's leftovers: start over
        write_json(plan_file, plan)
    batches = {i: rows[start:start + batch_size]
               for i, start in enumerate(range(0, len(rows), batch_size))}
    done = {i for i in batches if (partial / f"batch{i:06d}.parquet").is_file()}
    bar = tqdm(total=len(batches), initial=len(done), desc="statistics", unit="batch",
               disable=None if progress else True)

    def save(i: int, frame: pd.DataFrame) -> None:
        with atomic_path(partial / f"batch{i:06d}.parquet") as tmp:
            frame.to_parquet(tmp, index=False)
        bar.update()

    pending = {i: r for i, r in batches.items() if i not in done}
    if workers == 1 or device is not None or len(pending) <= 1:
        for i, batch_rows in pending.items():
            save(i, compute_batch(dataset, batch_rows, spec, device))
    else:
        with concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=_pool_context(), initializer=_init_worker,
                initargs=(dataset,)) as pool:
            futures = {pool.submit(_compute_in_worker, r, spec): i for i, r in pending.items()}
            for future in concurrent.futures.as_completed(futures):
                save(futures[future], future.result())
    bar.close()
    return pd.concat([pd.read_parquet(partial / f"batch{i:06d}.parquet") for i in batches],
                     ignore_index=True)


def _write_table(out: Path, table: pd.DataFrame, spec: dict, dataset) -> None:
    meta = {"spec": spec, "version": __version__, "dataset": type(dataset).__name__,
            "split": dataset.split, "source": dataset.source, "caveat": dataset.caveat}
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}),
                                           METADATA_KEY: json.dumps(meta).encode()})
    with atomic_path(out) as tmp:
        pq.write_table(arrow, tmp)

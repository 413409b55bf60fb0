"""Run a grid of studies, one job per (configuration, network), locally or on Slurm.

Every network of every configuration is an independent job that calls
:func:`agreement_core.study.train_study` with ``networks=[k]``; all jobs of a
configuration write into the same record store (each job writes only its own
files, and every write is atomic), so jobs can run in any order, in parallel,
on different machines sharing a file system, and be rerun to resume.

Launchers: ``"local"`` (one job at a time, or ``parallel`` processes),
``"submitit-local"`` (submitit's local executor: the same code path as Slurm,
run here) and ``"slurm"`` (submitit on a Slurm cluster).

A job is a :class:`GridJob`, a ``submitit.helpers.Checkpointable``: on Slurm, a job
that reaches its time limit is requeued and resumes from the store and its
checkpoints. The launcher waits for every job, prints each one's outcome
(finished, failed with its error, requeued) and then raises :class:`LaunchError`
naming the jobs that did not finish, so that the command exits non-zero.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import itertools
import json
import multiprocessing
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import submitit

from ..errors import AgreementError, ConfigError
from ..locations import Locations
from ..records import RecordStore
from ..training import TrainConfig
from .runs import train_study

LAUNCHERS = ("local", "submitit-local", "slurm")


def expand_grid(spec: Mapping) -> dict[str, TrainConfig]:
    """Configurations from a grid spec.

    ``spec`` holds ``base`` (TrainConfig fields shared by all), and ``grid``
    (field -> list of values; the cartesian product, each study named
    ``field=value,...``) and/or ``studies`` (name -> fields).

    Examples
    --------
    >>> sorted(expand_grid({"base": {"epochs": 2}, "grid": {"batch_size": [64, 128]}}))
    ['batch_size=128', 'batch_size=64']
    """
    unknown = set(spec) - {"base", "grid", "studies"}
    if unknown:
        raise ConfigError(f"grid spec: unknown keys {sorted(unknown)}; use base, grid, studies")
    base = dict(spec.get("base", {}))
    studies = {name: {**base, **fields} for name, fields in spec.get("studies", {}).items()}
    grid = spec.get("grid", {})
    if grid:
        keys = list(grid)
        for values in itertools.product(*(grid[key] for key in keys)):
            name = ",".join(f"{key}={value}" for key, value in zip(keys, values, strict=True))
            studies[name] = {**base, **dict(zip(keys, values, strict=True))}
    if not studies:
        raise ConfigError("grid spec defines no study (give 'grid' or 'studies')")
    configs = {}
    for name, fields in studies.items():
        try:
            configs[name] = TrainConfig(**fields)
        except TypeError as error:
            raise ConfigError(f"study {name!r}: {error}") from None
    return configs


def load_grid(path: str | os.PathLike) -> dict[str, TrainConfig]:
    """:func:`expand_grid` of a JSON file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"grid file not found: {path}")
    return expand_grid(json.loads(path.read_text()))


class LaunchError(AgreementError):
    """Some jobs of a grid failed or did not finish (each is named in the report)."""


@dataclass
class GridJob(submitit.helpers.Checkpointable):
    """One job of a grid: network ``k`` of study ``name``, trained into ``out``.

    A :class:`submitit.helpers.Checkpointable`: when Slurm is about to stop the job
    (time limit, preemption), submitit calls :meth:`checkpoint` and requeues what it
    returns. Nothing needs saving then: the record store and the per-epoch checkpoints
    already hold the job's progress, and the requeued job resumes from them.
    """

    name: str
    config: TrainConfig
    out: str
    k: int
    locations: Locations
    device: str | None = None
    requeues: int = 0

    @property
    def label(self) -> str:
        return f"{self.name} network {self.k}"

    def __call__(self) -> JobOutcome:
        store = train_study(self.config, self.out, locations=self.locations,
                            device=self.device, networks=[self.k], progress=False)
        if store.completed_epochs(self.k) < self.config.epochs:
            # Another process holds this network's lock (train_study said so in the log).
            return JobOutcome(self.label, "unfinished", "another process is training it; "
                              "rerun once that has ended", self.requeues)
        return JobOutcome(self.label, "finished", requeues=self.requeues)

    def checkpoint(self, *args, **kwargs) -> submitit.helpers.DelayedSubmission:
        """The job to requeue: this one again (counting the requeue), resuming from disk."""
        return submitit.helpers.DelayedSubmission(
            dataclasses.replace(self, requeues=self.requeues + 1))


@dataclass
class JobOutcome:
    """How one grid job ended: ``finished``, ``unfinished`` (lock held elsewhere) or
    ``failed`` (``detail``: its error)."""

    label: str
    status: str
    detail: str = ""
    requeues: int = 0

    def line(self) -> str:
        note = f" (requeued {self.requeues}x)" if self.requeues else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.status:<10}  {self.label}{note}{detail}"


def _failure(job: GridJob, error: BaseException) -> JobOutcome:
    return JobOutcome(job.label, "failed", _error_line(error))


def _error_line(error: BaseException) -> str:
    """The original exception of a job as one line (``DatasetError: ...``).

    Submitit wraps a job's exception in a ``FailedJobError`` holding the job's
    traceback as text: its last exception line is the job's own error.
    """
    text = str(error)
    if "Traceback (most recent call last)" not in text:
        return f"{type(error).__name__}: {' '.join(text.split())}"
    trace = text.split("Traceback (most recent call last)")[-1].splitlines()
    lines = [line for line in trace if line and not line[0].isspace()
             and not line.startswith(("---", "You can check full logs"))]
    last = lines[-1] if lines else text.strip().splitlines()[-1]
    name, _, message = last.partition(": ")
    return f"{name.rsplit('.', 1)[-1]}: {message}" if message else last


def _submitit_outcome(job: GridJob, submitted) -> JobOutcome:
    try:
        return submitted.result()
    except Exception as error:  # the job's own error, raised again here by submitit
        outcome = _failure(job, error)
        try:  # submitit logs each requeue in the job's stdout
            outcome.requeues = (submitted.stdout() or "").count("Requeued job")
        except OSError:
            pass
        return outcome


def report(outcomes: list[JobOutcome], logs: Path | None = None) -> None:
    """Print every job's outcome, then raise :class:`LaunchError` naming the jobs that
    failed or did not finish."""
    counts = collections.Counter(outcome.status for outcome in outcomes)
    print(f"grid: {len(outcomes)} jobs: "
          + ", ".join(f"{n} {status}" for status, n in counts.items()), flush=True)
    for outcome in outcomes:
        print(f"  {outcome.line()}", flush=True)
    bad = [outcome for outcome in outcomes if outcome.status != "finished"]
    if bad:
        where = f"; logs under {logs}" if logs else ""
        raise LaunchError(f"{len(bad)} of {len(outcomes)} grid jobs did not finish: "
                          + ", ".join(f"{o.label} ({o.status})" for o in bad)
                          + f" (see the report above{where}); rerun the same command to "
                            "resume")


def run_grid(configs: Mapping[str, TrainConfig], out_root: str | os.PathLike, *,
             launcher: str = "local", parallel: int = 1, locations: Locations | None = None,
             device: str | None = None, slurm: Mapping | None = None) -> dict[str, RecordStore]:
    """Train every network of every configuration as its own job; return the stores.

    Every job is waited on, whatever happens to the others; then every job's outcome is
    printed (finished, failed with its error, requeued after a time limit), and if any
    failed or did not finish, :class:`LaunchError` names them. Rerunning resumes: finished
    networks are skipped, interrupted ones continue from their checkpoints.

    Parameters
    ----------
    configs : mapping of name -> TrainConfig
        Each study's store is ``<out_root>/<name>``.
    launcher : {"local", "submitit-local", "slurm"}
    parallel : int
        Local launcher: number of jobs at once (processes).
    slurm : mapping, optional
        Parameters for ``submitit`` (e.g. ``{"slurm_partition": "gpu", "gpus_per_node": 1,
        "timeout_min": 240}``). A job that reaches its time limit is requeued and resumes,
        at most ``max_num_timeout`` times (default 3).

    Raises
    ------
    LaunchError
        After all jobs ended, if any failed or did not finish.
    """
    if launcher not in LAUNCHERS:
        raise ConfigError(f"unknown launcher {launcher!r}; known: {', '.join(LAUNCHERS)}")
    if parallel < 1:
        raise ConfigError(f"parallel must be at least 1, got {parallel}")
    out_root = Path(out_root)
    jobs = [GridJob(name, config, str(out_root / name), k, locations or Locations(), device)
            for name, config in configs.items() for k in range(config.num_networks)]
    logs = None
    if launcher == "local" and parallel == 1:
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(job())
            except Exception as error:  # reported with the others; the grid goes on
                outcomes.append(_failure(job, error))
            print(f"[{len(outcomes)}/{len(jobs)}] {outcomes[-1].line()}", flush=True)
    elif launcher == "local":
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(parallel, mp_context=context) as pool:
            futures = {pool.submit(job): i for i, job in enumerate(jobs)}
            outcomes = [None] * len(jobs)
            for future in concurrent.futures.as_completed(futures):
                i = futures[future]
                try:
                    outcomes[i] = future.result()
                except Exception as error:  # also a worker that died (BrokenProcessPool)
                    outcomes[i] = _failure(jobs[i], error)
                print(f"[{sum(o is not None for o in outcomes)}/{len(jobs)}] "
                      f"{outcomes[i].line()}", flush=True)
    else:
        logs = out_root / "submitit"
        folder = logs / "%j"
        if launcher == "slurm":
            parameters = {"timeout_min": 240, **dict(slurm or {})}
            requeues = parameters.pop("max_num_timeout", 3)
            executor = submitit.AutoExecutor(folder=folder, cluster="slurm",
                                             slurm_max_num_timeout=requeues)
            executor.update_parameters(**parameters)
        else:
            executor = submitit.LocalExecutor(folder=folder)
            executor.update_parameters(timeout_min=60)
        with executor.batch():  # one Slurm job array
            submitted = [executor.submit(job) for job in jobs]
        print(f"submitted {len(jobs)} jobs; logs under {logs}", flush=True)
        outcomes = [None] * len(jobs)
        index = {id(s): i for i, s in enumerate(submitted)}
        poll = 2 if launcher == "submitit-local" else 30  # Slurm: spare the scheduler
        for n, done in enumerate(submitit.helpers.as_completed(submitted, poll_frequency=poll)):
            i = index[id(done)]
            outcomes[i] = _submitit_outcome(jobs[i], done)
            print(f"[{n + 1}/{len(jobs)}] {outcomes[i].line()}", flush=True)
    report(outcomes, logs)
    return {name: RecordStore.open(out_root / name) for name in configs}

"""Run a grid of studies, one job per (configuration, network), locally or on Slurm.

Every network of every configuration is an independent job that calls
:func:`agreement_core.study.train_study` with ``networks=[k]``; all jobs of a
configuration write into the same record store (each job writes only its own
files, and every write is atomic), so jobs can run in any order, in parallel,
on different machines sharing a file system, and be rerun to resume.

Launchers: ``"local"`` (one job at a time, or ``parallel`` processes),
``"submitit-local"`` (submitit's local executor: the same code path as Slurm,
run here) and ``"slurm"`` (submitit on a Slurm cluster).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import multiprocessing
import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError
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


def _job(name: str, config: TrainConfig, out: str, k: int, locations: Locations,
         device) -> str:
    train_study(config, out, locations=locations, device=device, networks=[k], progress=False)
    return f"{name} network {k}"


def run_grid(configs: Mapping[str, TrainConfig], out_root: str | os.PathLike, *,
             launcher: str = "local", parallel: int = 1, locations: Locations | None = None,
             device: str | None = None, slurm: Mapping | None = None) -> dict[str, RecordStore]:
    """Train every network of every configuration as its own job; return the stores.

    Parameters
    ----------
    configs : mapping of name -> TrainConfig
        Each study's store is ``<out_root>/<name>``.
    launcher : {"local", "submitit-local", "slurm"}
    parallel : int
        Local launcher: number of jobs at once (processes).
    slurm : mapping, optional
        Parameters for ``submitit`` (e.g. ``{"slurm_partition": "gpu", "gpus_per_node": 1,
        "timeout_min": 240}``).
    """
    if launcher not in LAUNCHERS:
        raise ConfigError(f"unknown launcher {launcher!r}; known: {', '.join(LAUNCHERS)}")
    if parallel < 1:
        raise ConfigError(f"parallel must be at least 1, got {parallel}")
    out_root = Path(out_root)
    jobs = [(name, config, str(out_root / name), k, locations or Locations(), device)
            for name, config in configs.items() for k in range(config.num_networks)]
    if launcher == "local" and parallel == 1:
        for job in jobs:
            print(_job(*job), "done", flush=True)
    elif launcher == "local":
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(parallel, mp_context=context) as pool:
            futures = [pool.submit(_job, *job) for job in jobs]
            for future in concurrent.futures.as_completed(futures):
                print(future.result(), "done", flush=True)
    else:
        import submitit

        folder = out_root / "submitit" / "%j"
        if launcher == "slurm":
            executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
            executor.update_parameters(**{"timeout_min": 240, **dict(slurm or {})})
        else:
            executor = submitit.LocalExecutor(folder=folder)
            executor.update_parameters(timeout_min=60)
        submitted = executor.map_array(_job, *zip(*jobs, strict=True))
        for job in submitted:
            print(job.result(), "done", flush=True)
    return {name: RecordStore.open(out_root / name) for name in configs}

"""One command builds the study: data, training, statistics, notebooks, the book.

``python -m agreement_core build --profile default`` runs, in order:

1. **data**: open every dataset of the profile (extracting mirror archives once)
   and report which are present; studies of absent datasets are skipped, and
   their chapters say what is missing and how to get it.
2. **train**: every study of the profile without finished results (resumable;
   ``--retrain`` starts them again).
3. **statistics**: the image statistics of every present dataset (only what is missing).
4. **dynamics**: one learning-dynamics table per study, and the curriculum experiment.
5. **notebooks**: every notebook in ``notebooks/`` executed by papermill with the
   profile's parameters into ``book/notebooks/`` (an error fails the build; a
   missing dataset is stated on the page).
6. **book**: ``jupyter-book build`` in nit-picky, warnings-as-errors mode, with
   plotly.js served from the book's own static files (it must work offline).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ._io import atomic_path
from .errors import AgreementError
from .study import (
    compute_profile_statistics,
    covering_statistics,
    dataset_available,
    dynamics_path,
    get_profile,
    is_complete,
    load_study,
    profile_dir,
    study_dir,
)

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO / "notebooks"
BOOK_DIR = REPO / "book"
CONFIG = REPO / "_config.yml"
#: Exceptions a notebook may stop with on a machine that lacks its data: the page says so.
EXPECTED_STOPS = ("DatasetUnavailable",)


class BuildError(AgreementError):
    """A step of the pipeline failed."""


def _say(message: str) -> None:
    print(f"[build] {message}", flush=True)


def _timed(step: str, timings: dict):
    class _Timer:
        def __enter__(self):
            self.start = time.perf_counter()
            _say(f"{step} ...")

        def __exit__(self, *exc):
            timings[step] = time.perf_counter() - self.start
            if exc[0] is None:
                _say(f"{step} done in {timings[step]:.0f} s")
    return _Timer()


def profile_datasets(profile: str) -> list[str]:
    spec = get_profile(profile)
    return sorted({c.dataset for c in spec.configs().values()} | set(spec.statistics))


def prepare_data(profile: str, data_root=None, mirror=None) -> dict[str, bool]:
    """Open every dataset of ``profile``; dataset -> whether it is present."""
    present = {name: dataset_available(name, data_root, mirror)
               for name in profile_datasets(profile)}
    for name, ok in present.items():
        _say(f"  {name:<11} {'present' if ok else 'absent: its chapter shows the method only'}")
    return present


def train_profile(profile: str, present: dict, *, results_dir=None, data_root=None,
                  mirror=None, retrain: bool = False, progress: bool = True) -> list[str]:
    """Train the profile's studies that lack finished results; returns the trained roles."""
    trained = []
    for role, config in get_profile(profile).configs().items():
        path = study_dir(config, profile, results_dir)
        if not present.get(config.dataset):
            _say(f"  {role}: skipped ({config.dataset} absent)")
            continue
        if retrain and path.exists():
            shutil.rmtree(path)
            if role == "cifar10":  # the curriculum is ordered by this study's agreement
                shutil.rmtree(profile_dir(profile, results_dir) / "curriculum",
                              ignore_errors=True)
        if is_complete(path):
            _say(f"  {role}: finished results in {path.name}")
            continue
        _say(f"  {role}: training {config.num_networks} x {config.arch} for {config.epochs} "
             f"epochs into {path}")
        load_study(config, profile, results_dir=results_dir, train=True, data_root=data_root,
                   mirror=mirror, progress=progress)
        trained.append(role)
    return trained


def write_dynamics(profile: str, *, results_dir=None, data_root=None, mirror=None) -> None:
    """The learning-dynamics table of every finished study (rewritten when its store changed)."""
    from ._io import write_table
    from .records import RecordStore
    from .report import learning_dynamics_table, statistics_tables

    for config in get_profile(profile).configs().values():
        store_path = study_dir(config, profile, results_dir)
        out = dynamics_path(config, profile, results_dir)
        if not is_complete(store_path):
            continue
        stats_dir = profile_dir(profile, results_dir) / "statistics"
        inputs = [store_path / "meta.json", *stats_dir.glob(f"{config.dataset}-*.parquet")]
        if out.is_file() and out.stat().st_mtime >= max(p.stat().st_mtime for p in inputs):
            continue  # up to date with its records and statistics
        store = RecordStore.open(store_path)
        stats = covering_statistics(store, statistics_tables(stats_dir, config.dataset,
                                                             store.splits))
        write_table(learning_dynamics_table(store, stats), out)
        _say(f"  wrote {out}")


def run_curriculum(profile: str, *, results_dir=None, data_root=None, mirror=None,
                   progress: bool = True):
    """The curriculum experiment, ordered by the agreed-from epochs of the CIFAR-10 study."""
    import pandas as pd

    from ._io import write_table
    from .curriculum import agreement_scores, compare_curricula, summarize_curricula
    from .training import TrainConfig, load_dataset

    spec = get_profile(profile)
    settings = dict(spec.curriculum)
    modes = settings.pop("modes")
    base = spec.config("cifar10")
    dynamics = pd.read_parquet(dynamics_path(base, profile, results_dir))
    dynamics = dynamics[dynamics["split"] == "train"]
    config = TrainConfig(**{**base.to_dict(), **settings, "seed": 100})
    ids = load_dataset(config, "train", data_root, mirror).example_ids
    scores = agreement_scores(dynamics, ids, num_epochs=base.epochs)
    out = profile_dir(profile, results_dir) / "curriculum"
    curves = compare_curricula(config, scores, out, modes=modes, eval_every=4,
                               data_root=data_root, mirror=mirror, progress=progress)
    write_table(curves, out / "curves.parquet")
    write_table(summarize_curricula(curves), out / "summary.csv")
    return curves


def notebook_names(only=None, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    names = sorted(p.stem for p in Path(notebooks_dir).glob("*.ipynb"))
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise BuildError(f"no notebooks named {unknown}; have {names}")
    return [n for n in names if not only or n in only]


def _drop_papermill_error_cells(path: Path) -> None:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [c for c in notebook.cells
                      if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    with atomic_path(path) as tmp:
        nbformat.write(notebook, tmp)


def execute_notebooks(profile: str, *, results_dir=None, data_root=None, mirror=None,
                      only=None, out_dir: Path | None = None,
                      notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, str]:
    """Execute the notebooks with papermill into ``out_dir``; name -> "ok" or the stop reason."""
    out_dir = Path(out_dir or BOOK_DIR / "notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Only what was given explicitly: the defaults (environment variables) need no parameter,
    # and the pages then show no machine-specific paths.
    parameters = {"profile": profile}
    if results_dir:
        parameters["results_dir"] = str(Path(results_dir).resolve())
    if data_root:
        parameters["data_root"] = str(Path(data_root).resolve())
    if mirror:
        parameters["mirror"] = str(Path(mirror).resolve())
    # No progress bars in the kernels: a widget bar would make the page load ipywidgets'
    # JavaScript. The kernels inherit this process's environment, restored afterwards.
    saved = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        return _execute(notebook_names(only, notebooks_dir), notebooks_dir, out_dir, parameters)
    finally:
        if saved is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = saved


def _execute(names, notebooks_dir, out_dir, parameters) -> dict[str, str]:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    outcome = {}
    for name in names:
        start = time.perf_counter()
        target = out_dir / f"{name}.ipynb"
        try:
            papermill.execute_notebook(Path(notebooks_dir) / f"{name}.ipynb", target,
                                       parameters=parameters, kernel_name="python3",
                                       cwd=str(notebooks_dir), progress_bar=False)
            outcome[name] = "ok"
        except PapermillExecutionError as error:
            if error.ename not in EXPECTED_STOPS:
                raise BuildError(f"notebook {name} failed: {error.ename}: {error.evalue} "
                                 f"(executed copy with the traceback: {target})") from None
            _drop_papermill_error_cells(target)
            outcome[name] = f"{error.ename}: {error.evalue}"
        _say(f"  {name}: {outcome[name][:100]} ({time.perf_counter() - start:.0f} s)")
    return outcome


def plotly_js() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise BuildError(f"plotly.js not found at {path}")
    return path


def build_book(book_dir: Path = BOOK_DIR, config: Path = CONFIG) -> Path:
    """``jupyter-book build`` with warnings as errors; returns the HTML folder."""
    static = book_dir / "_static"
    static.mkdir(exist_ok=True)
    shutil.copyfile(plotly_js(), static / "plotly.min.js")  # served locally, never from a CDN
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book if jupyter_book.exists() else shutil.which("jupyter-book")),
               "build", str(book_dir), "--config", str(config), "--toc",
               str(book_dir / "_toc.yml"), "--path-output", str(book_dir), "-W", "-n",
               "--keep-going", "--all"]
    result = subprocess.run(command, cwd=REPO)
    if result.returncode:
        raise BuildError(f"jupyter-book build failed (exit {result.returncode}): "
                         f"{' '.join(command)}")
    return book_dir / "_build" / "html"


def build(profile: str = "default", *, results_dir=None, data_root=None, mirror=None,
          train: bool = True, retrain: bool = False, notebooks=None, execute: bool = True,
          book: bool = True, progress: bool = True) -> dict:
    """The whole pipeline (module docstring); returns the step timings in seconds."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    with _timed("data", timings):
        present = prepare_data(profile, data_root, mirror)
    if train:
        with _timed("train", timings):
            train_profile(profile, present, results_dir=results_dir, data_root=data_root,
                          mirror=mirror, retrain=retrain, progress=progress)
        with _timed("statistics", timings):
            for dataset in get_profile(profile).statistics:
                if present.get(dataset):
                    compute_profile_statistics(dataset, profile, results_dir=results_dir,
                                               data_root=data_root, mirror=mirror,
                                               progress=progress)
        with _timed("dynamics", timings):
            write_dynamics(profile, results_dir=results_dir)
            if present.get("cifar10"):
                run_curriculum(profile, results_dir=results_dir, data_root=data_root,
                               mirror=mirror, progress=progress)
    if execute:
        with _timed("notebooks", timings):
            execute_notebooks(profile, results_dir=results_dir, data_root=data_root,
                              mirror=mirror, only=notebooks)
    if book:
        with _timed("book", timings):
            html = build_book()
        _say(f"the book: {html / 'index.html'}")
    timings["total"] = time.perf_counter() - start
    summary = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    _say(f"finished: {summary}")
    out = BOOK_DIR / "_build" / f"build_timings_{profile}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({k: round(v, 1) for k, v in timings.items()}, indent=1) + "\n")
    return timings


__all__ = ["BuildError", "build", "build_book", "execute_notebooks", "notebook_names",
           "prepare_data", "run_curriculum", "train_profile", "write_dynamics"]

"""One command builds the study: data, training, statistics, notebooks, the book.

``python -m agreement_core build --profile default`` runs, in order:

1. **data**: open every dataset of the profile (extracting mirror archives once)
   and report which are present; studies of absent datasets are skipped, and
   their chapters say what is missing and how to get it.
2. **train**: every study of the profile without finished results (resumable;
   ``--retrain`` starts them again).
3. **statistics**: the image statistics of every present dataset (only what is missing).
4. **dynamics**: one learning-dynamics table per study, the curriculum experiment, the
   "Your own model and data" run (a plain PyTorch loop with the recorder) and the pruning
   experiment on its scores.
5. **notebooks**: every notebook in ``notebooks/`` executed by papermill with the
   profile's parameters into a temporary file beside ``book/notebooks/<name>.ipynb``,
   which it replaces only once the run has finished (an error fails the build and keeps
   the published page; a missing dataset is stated on the page). Their code cells are then
   folded (``hide-input``): readers see prose, figures and tables. ``--notebook NAME``
   also executes the notebooks whose pages are missing, unfinished or from another profile.
6. **book**: from finished pages only, ``jupyter-book build`` in nit-picky,
   warnings-as-errors mode, with plotly.js and MathJax served from the book's own static
   files (it must work offline).
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from .._io import atomic_path, remove_stale_temporaries
from ..errors import AgreementError, DiskFull
from ..locations import Locations, project_root
from .claims import write_claims
from .own_loop import run_own_loop
from .pages import write_findings, write_page_texts
from .pruning import pruning_complete, run_profile_pruning
from .runs import (
    compute_profile_statistics,
    dataset_available,
    is_complete,
    run_curriculum,
    train_profile,
    write_dynamics,
)
from .workspace import Workspace


def project_dir(project: str | os.PathLike | None = None) -> Path:
    """The study's checkout the notebooks and the book come from
    (:func:`agreement_core.locations.project_root`); a clear error when there is none."""
    root = project_root(project)
    if root is None:
        raise BuildError("building the book needs a checkout of the study (its notebooks/, "
                         "book/ and _config.yml): run from one, pass --project DIR, or set "
                         "AGREEMENT_PROJECT; training alone needs none "
                         "('python -m agreement_core train')")
    return root
#: Exceptions a notebook may stop with on a machine that lacks its data or results, with the
#: title of the note the page shows instead.
EXPECTED_STOPS = {"DatasetUnavailable": "Data not on this machine",
                  "StudyMissing": "Results not computed on this machine"}


#: The intro's summary of the claims table, written by the build (book/intro.md includes it).
FINDINGS = "_generated/findings.md"


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


def profile_datasets(workspace: Workspace) -> list[str]:
    spec = workspace.profile
    return sorted({c.dataset for c in spec.configs().values()} | set(spec.statistics))


def prepare_data(workspace: Workspace) -> dict[str, bool]:
    """Open every dataset of the profile; dataset -> whether it is present."""
    present = {name: dataset_available(name, workspace.locations)
               for name in profile_datasets(workspace)}
    for name, ok in present.items():
        _say(f"  {name:<11} {'present' if ok else 'absent: its chapter shows the method only'}")
    return present


def notebook_names(only=None, notebooks_dir: Path | None = None) -> list[str]:
    notebooks_dir = notebooks_dir or project_dir() / "notebooks"
    names = sorted(p.stem for p in Path(notebooks_dir).glob("*.ipynb"))
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise BuildError(f"no notebooks named {unknown}; have {names}")
    return [n for n in names if not only or n in only]


def missing_data_note(message: str, title: str = EXPECTED_STOPS["DatasetUnavailable"]) -> dict:
    """A styled note (an output of the cell that stopped) saying what data or results are
    missing and how to get them: what the book shows instead of an error box."""
    text = html.escape(message[:1].upper() + message[1:])
    body = ('<div class="admonition note missing-data"><p class="admonition-title">'
            f'{html.escape(title)}</p><p>{text}</p></div>')
    return nbformat.v4.new_output("display_data", data={"text/html": body,
                                                        "text/plain": message})


def _show_missing_data(path: Path, message: str, title: str) -> None:
    """Drop papermill's error banners and turn the stopped cell's error into a note."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [c for c in notebook.cells
                      if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    for cell in notebook.cells:
        if cell.cell_type == "code" and any(o.output_type == "error" for o in cell.outputs):
            cell.outputs = [o if o.output_type != "error" else missing_data_note(message, title)
                            for o in cell.outputs]
    with atomic_path(path) as tmp:
        nbformat.write(notebook, tmp)


#: Tags the book reads on the executed copies (MyST-NB): a code cell's source collapsed
#: behind a "Show code cell source" toggle, still in the page one click away.
HIDE_INPUT = "hide-input"
#: Tags that already say how a cell is shown; such cells are left as they are.
_SHOWN_AS = {"hide-input", "remove-input", "hide-cell", "remove-cell", "hide-output",
             "remove-output"}


def present_notebook(path: Path) -> dict[str, int]:
    """Prepare an executed copy for readers: every code cell's source collapsed.

    The reader sees prose, figures and tables; the parameters cell, the cell papermill
    injected and all plotting code get the ``hide-input`` tag (MyST-NB shows them folded,
    one click away). Only the executed copy in ``book/notebooks/`` changes: the notebooks
    in ``notebooks/`` keep no tags of this kind and stay runnable with papermill. Returns
    the number of code cells tagged and left alone.
    """
    notebook = nbformat.read(path, as_version=4)
    counts = {"tagged": 0, "kept": 0}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        if _SHOWN_AS & set(tags):
            counts["kept"] += 1
            continue
        cell.metadata["tags"] = [*tags, HIDE_INPUT]
        counts["tagged"] += 1
    with atomic_path(path) as tmp:
        nbformat.write(notebook, tmp)
    return counts


def notebook_parameters(workspace: Workspace) -> dict:
    """The parameters papermill gives every notebook of ``workspace``'s build."""
    # Only what was given explicitly: the defaults (environment variables) need no parameter,
    # and the pages then show no machine-specific paths.
    return {"profile": workspace.profile.name, **workspace.locations.explicit()}


def execute_notebooks(workspace: Workspace, *, only=None, out_dir: Path | None = None,
                      notebooks_dir: Path | None = None, project=None,
                      complete: bool = False) -> dict[str, str]:
    """Execute the notebooks with papermill into ``out_dir``; name -> "ok" or the stop reason.

    With ``complete`` (the book is built next), the notebooks beyond ``only`` whose
    executed copy is missing, unfinished or from other parameters are executed too: the
    book is built from finished pages of this build only.
    """
    notebooks_dir = notebooks_dir or project_dir(project) / "notebooks"
    out_dir = Path(out_dir or project_dir(project) / "book" / "notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    # What a killed build left (its writer is gone), whichever notebooks run this time.
    remove_stale_temporaries(out_dir)
    parameters = notebook_parameters(workspace)
    names = notebook_names(only, notebooks_dir)
    if complete and only:
        stale = [n for n in unfinished_notebooks(out_dir, notebook_names(None, notebooks_dir),
                                                 parameters) if n not in names]
        if stale:
            _say(f"  also executing {', '.join(stale)}: their pages are missing, unfinished "
                 f"or from another profile")
            names = [n for n in notebook_names(None, notebooks_dir) if n in {*names, *stale}]
    # No progress bars in the kernels: a widget bar would make the page load ipywidgets'
    # JavaScript. The kernels inherit this process's environment, restored afterwards.
    saved = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        return _execute(names, notebooks_dir, out_dir, parameters)
    finally:
        if saved is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = saved


#: The mark an executed copy gets once it has run to its end (or to an expected stop) and
#: been prepared for readers: the book is built from marked copies only.
FINISHED_KEY = "agreement_core"


def _kernel_config():
    """The kernels talk to papermill over IPC sockets (files only this user can open)
    rather than unencrypted local TCP, which ipykernel warns about on every run."""
    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "ipc"}})


def is_finished(path: str | os.PathLike, parameters: dict | None = None) -> bool:
    """Whether ``path`` is an executed copy that ran to its end (:data:`FINISHED_KEY`), with
    ``parameters`` when given."""
    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError, nbformat.reader.NotJSONError):
        return False
    mark = notebook.metadata.get(FINISHED_KEY, {})
    return bool(mark.get("finished")) and (parameters is None
                                           or mark.get("parameters") == parameters)


def unfinished_notebooks(out_dir: Path, names, parameters: dict | None = None) -> list[str]:
    """Those of ``names`` whose executed copy in ``out_dir`` is missing, unfinished
    (interrupted, failed, or written by a version without the mark) or, with
    ``parameters``, executed with others."""
    return [name for name in names
            if not is_finished(Path(out_dir) / f"{name}.ipynb", parameters)]


def _mark_finished(path: Path, parameters: dict) -> None:
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata[FINISHED_KEY] = {"finished": True, "parameters": parameters}
    nbformat.write(notebook, path)


def _execute(names, notebooks_dir, out_dir, parameters) -> dict[str, str]:
    """Execute each notebook into a temporary file beside its executed copy; the copy is
    replaced only when the run finished (or stopped as expected), so an interrupted or
    failed run never replaces a finished page. A failed run is kept for reading under
    ``<out_dir>/../_build/failed/``."""
    outcome = {}
    for name in names:
        start = time.perf_counter()
        target = out_dir / f"{name}.ipynb"
        with atomic_path(target) as tmp:
            try:
                with warnings.catch_warnings():
                    # The temporary's name ends in .tmp, not .ipynb: papermill warns.
                    warnings.filterwarnings("ignore", "The specified file", UserWarning)
                    papermill.execute_notebook(Path(notebooks_dir) / f"{name}.ipynb", tmp,
                                               parameters=parameters, kernel_name="python3",
                                               cwd=str(notebooks_dir), progress_bar=False,
                                               config=_kernel_config())
                outcome[name] = "ok"
            except PapermillExecutionError as error:
                if error.ename == "DiskFull":  # in the kernel: the build's one disk-full line
                    raise DiskFull(error.evalue.removeprefix(DiskFull.PREFIX)) from None
                if error.ename not in EXPECTED_STOPS:
                    failed = out_dir.parent / "_build" / "failed" / f"{name}.ipynb"
                    failed.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(tmp, failed)
                    raise BuildError(f"notebook {name} failed: {error.ename}: {error.evalue} "
                                     f"(executed copy with the traceback: {failed}; the "
                                     f"published {target.name} is left as it was)") from None
                _show_missing_data(tmp, error.evalue, EXPECTED_STOPS[error.ename])
                outcome[name] = f"{error.ename}: {error.evalue}"
            present_notebook(tmp)
            _mark_finished(tmp, parameters)
        _say(f"  {name}: {outcome[name][:100]} ({time.perf_counter() - start:.0f} s)")
    return outcome


def build_book(project=None) -> Path:
    """``jupyter-book build`` with warnings as errors; returns the HTML folder.

    plotly.js (loaded only by the pages that hold a Plotly figure) and MathJax are served
    from the book's own files, copied there by ``book/_ext/book_assets.py``: the book loads
    nothing from other hosts.
    """
    root = project_dir(project)
    book_dir, config = root / "book", root / "_config.yml"
    # Jupyter Book loads every .js file in book/_static on every page: an older build's
    # copy of plotly.js there would weigh 4.8 MB on each.
    (book_dir / "_static" / "plotly.min.js").unlink(missing_ok=True)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book if jupyter_book.exists() else shutil.which("jupyter-book")),
               "build", str(book_dir), "--config", str(config), "--toc",
               str(book_dir / "_toc.yml"), "--path-output", str(book_dir), "-W", "-n",
               "--keep-going", "--all"]
    result = subprocess.run(command, cwd=root)
    if result.returncode:
        raise BuildError(f"jupyter-book build failed (exit {result.returncode}): "
                         f"{' '.join(command)}")
    return book_dir / "_build" / "html"


def build(profile: str = "default", *, locations: Locations | None = None, train: bool = True,
          retrain: bool = False, notebooks=None, execute: bool = True, book: bool = True,
          progress: bool = True, project=None) -> dict:
    """The whole pipeline (module docstring); returns the step timings in seconds.

    ``project`` is the study's checkout (notebooks, book); default
    :func:`~agreement_core.locations.project_root`. Results go to ``locations``' results
    root, which for an installed package defaults to ``./results``.
    """
    workspace = Workspace.open(profile, locations)
    # Fail before hours of training, not after; training alone needs no checkout.
    root = project_dir(project) if execute or book else project_root(project)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    with _timed("data", timings):
        present = prepare_data(workspace)
    if train:
        with _timed("train", timings):
            train_profile(workspace, present, retrain=retrain, progress=progress, say=_say)
        with _timed("statistics", timings):
            for dataset in workspace.profile.statistics:
                if present.get(dataset):
                    compute_profile_statistics(workspace, dataset, progress=progress)
        with _timed("dynamics", timings):
            write_dynamics(workspace, say=_say)
            if present.get("cifar10"):
                run_curriculum(workspace, progress=progress)
            if present.get("cifar10") and workspace.profile.own_loop \
                    and not is_complete(workspace.own_loop_dir):
                run_own_loop(workspace, progress=progress)
            if workspace.profile.pruning and is_complete(workspace.own_loop_dir) \
                    and not pruning_complete(workspace):
                run_profile_pruning(workspace, progress=progress)
        with _timed("claims", timings):
            if is_complete(workspace.layout.study_dir(workspace.profile.config("cifar10"))):
                write_claims(workspace)
                _say(f"  claims: {workspace.layout.claims_path}")
    if execute:
        with _timed("notebooks", timings):
            execute_notebooks(workspace, only=notebooks, project=root, complete=book)
    if book:
        with _timed("book", timings):
            unfinished = unfinished_notebooks(root / "book" / "notebooks",
                                              notebook_names(None, root / "notebooks"),
                                              notebook_parameters(workspace))
            if unfinished:  # only if execution was skipped (never, from the command line)
                raise BuildError(f"not building the book: the pages of {unfinished} are "
                                 f"missing, unfinished or from another profile; execute them")
            write_findings(workspace, root / "book" / FINDINGS)
            # The last build's timings, if any, for the reproduce page's conclusion.
            last = root / "book" / "_build" / f"build_timings_{profile}.json"
            write_page_texts(workspace, root / "book" / "_generated",
                             json.loads(last.read_text()) if last.is_file() else None)
            html = build_book(root)
        _say(f"the book: {html / 'index.html'}")
    timings["total"] = time.perf_counter() - start
    summary = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    _say(f"finished: {summary}")
    if root is not None:
        out = root / "book" / "_build" / f"build_timings_{profile}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({k: round(v, 1) for k, v in timings.items()}, indent=1)
                       + "\n")
    return timings


__all__ = ["BuildError", "build", "build_book", "execute_notebooks", "is_finished",
           "notebook_names", "prepare_data", "present_notebook", "unfinished_notebooks"]

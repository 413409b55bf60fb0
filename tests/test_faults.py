"""Nothing half-done is ever shown, nothing finished is ever lost.

Faults beyond bad inputs (tests/test_bad_inputs.py is the model): a full disk, an interrupted
notebook, stale, truncated or hand-edited derived files, a store whose networks stopped at
different epochs, leftovers of a killed writer, notebook parameters the notebook does not
use. Each case asserts the one line a user sees (or the correct result) and that finished
work is intact.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest
from test_bad_inputs import _store, one_error_line

from agreement_core._io import (
    atomic_path,
    check_provenance,
    provenance_path,
    read_table,
    remove_stale_temporaries,
    write_table,
)
from agreement_core.cli import main
from agreement_core.data import CIFAR10
from agreement_core.errors import ConfigError, DatasetError, DerivedFileError, DiskFull
from agreement_core.locations import Locations
from agreement_core.records import RecordStore, store_fingerprint
from agreement_core.statistics import compute_statistics, read_statistics
from agreement_core.statistics.factors import cifar10h_entropy
from agreement_core.study import Workspace, notebook_session
from agreement_core.study.figures import study_caption

REPO = Path(__file__).resolve().parents[1]
PYTHON_M = [sys.executable, "-m", "agreement_core"]
DISK_FULL = re.compile(r"error: no space left on device writing (\S+); finished work is kept "
                       r"in (\S+); free space and rerun: python -m agreement_core (.+)$")


# ------------------------------------------------------------------ a small file system
@contextlib.contextmanager
def small_filesystem(path: Path, size: str):
    """A tmpfs of ``size`` mounted at ``path`` (root only); skips the test where it cannot
    be mounted, saying why."""
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode:
        pytest.skip(f"cannot mount a {size} tmpfs to fill (needs root and mount(8)): "
                    f"{result.stderr.strip() or result.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(directory: Path) -> None:
    """Fill the file system of ``directory`` to its last byte."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (1 << 16, 1 << 12, 1):  # unbuffered: no flush on close to fail
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * chunk):
                    pass
    finally:
        os.close(fd)


def regrow(path: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def disk_full_line(stderr: str, *, kept: str, argv: list[str]) -> str:
    """The one disk-full ``error:`` line of ``stderr`` (notes may precede it), checked."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and stderr.rstrip().endswith(errors[0]), stderr
    match = DISK_FULL.match(errors[0])
    assert match, errors[0]
    assert match.group(2) == kept
    assert match.group(3) == " ".join(argv)  # no shell quoting needed for these arguments
    return match.group(1)


@pytest.fixture(scope="module")
def cifar(data_root, mirror):
    """20 CIFAR-10 test images (2 per class)."""
    return CIFAR10("test", root=data_root, mirror=mirror, subset=2)


# ------------------------------------------------------------------ case 3: a full disk
def test_train_on_a_full_disk_is_one_line_and_resumes(tmp_path, data_root, mirror, capsys):
    with small_filesystem(tmp_path / "fs", "300k") as fs:
        out = fs / "store"
        argv = ["train", "--preset", "tiny", "--networks", "2", "--epochs", "2",
                "--train-subset", "20", "--test-subset", "5", "--no-progress",
                "--data-root", str(data_root), "--mirror", str(mirror), "--out", str(out)]
        assert main(argv) == 2
        path = disk_full_line(capsys.readouterr().err, kept=str(out), argv=argv)
        assert Path(path).is_relative_to(out)
        store = RecordStore.open(out)  # what was finished is readable
        done = [store.completed_epochs(k) for k in range(2)]
        assert not list(out.rglob("*.tmp"))  # the failed write left nothing behind
        regrow(fs, "64m")
        assert main(argv) == 0, capsys.readouterr().err
        store = RecordStore.open(out)
        assert [store.completed_epochs(k) for k in range(2)] == [2, 2]
        assert done != [2, 2]


@pytest.mark.parametrize("command", ["stats", "agree", "report"])
def test_writing_a_table_on_a_full_disk_is_one_line(command, tmp_path, data_root, mirror,
                                                    capsys):
    store = _store(tmp_path / "store", 2, {0: 2, 1: 2})
    before = store_fingerprint(store.path)
    with small_filesystem(tmp_path / "fs", "64k") as fs:
        fill(fs)
        argv = {"stats": ["stats", "cifar10", "--split", "test", "--subset", "2",
                          "--statistics", "entropy", "--workers", "1", "--no-progress",
                          "--data-root", str(data_root), "--mirror", str(mirror),
                          "--out-dir", str(fs / "stats")],
                "agree": ["agree", str(store.path), "--out", str(fs / "agree.csv")],
                "report": ["report", str(store.path), "--out", str(fs / "dynamics.parquet"),
                           "--n-boot", "10", "--n-perm", "10"]}[command]
        assert main(argv) == 2
        kept = {"stats": str(fs / "stats"), "agree": str(store.path),
                "report": str(store.path)}[command]
        path = disk_full_line(capsys.readouterr().err, kept=kept, argv=argv)
        assert Path(path).is_relative_to(fs)
        assert not list(fs.rglob("*.tmp"))
    assert store_fingerprint(store.path) == before  # the store is untouched


@pytest.mark.parametrize("raised", [
    RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0"),
    OSError(28, "No space left on device"),
    OSError("IOError: [Errno 28] Error writing bytes to file. Detail: [errno 28] No space "
            "left on device"),  # pyarrow's wording
], ids=["torch-serializer", "os-errno-28", "pyarrow"])
def test_the_atomic_writer_names_the_file_whatever_layer_fills_the_disk(raised, tmp_path):
    target = tmp_path / "table.parquet"
    target.write_text("finished")
    with pytest.raises(DiskFull) as info, atomic_path(target) as tmp:
        tmp.write_text("half")
        raise raised
    assert str(info.value) == f"no space left on device writing {target}"
    assert target.read_text() == "finished" and os.listdir(tmp_path) == ["table.parquet"]


# ------------------------------------------------------------------ case 1: merged tables
def test_stats_with_another_list_keeps_the_columns_of_the_committed_table(tmp_path, data_root,
                                                                          mirror, capsys):
    committed = REPO / "results" / "default" / "statistics" / "dtd-test.parquet"
    if not committed.is_file():
        pytest.skip(f"{committed} is not in this checkout")
    out_dir = tmp_path / "statistics"
    out_dir.mkdir()
    shutil.copy(committed, out_dir)
    argv = ["stats", "dtd", "--split", "test", "--subset", "2", "--downsample", "none",
            "--workers", "1", "--no-progress", "--data-root", str(data_root),
            "--mirror", str(mirror), "--out-dir", str(out_dir)]
    assert main(argv) == 0, capsys.readouterr().err
    assert "keeping ['crisp_edges']" in capsys.readouterr().err
    table, meta = read_statistics(out_dir / "dtd-test.parquet")
    original, original_meta = read_statistics(committed)
    # Every column and every row (the subset asked for is 20 of its 400) is kept as it was.
    pd.testing.assert_frame_equal(table, original)
    assert meta["spec"] == original_meta["spec"]


def test_a_second_list_merges_into_the_table(cifar, tmp_path, mirror):
    out = tmp_path / "t.parquet"
    first = compute_statistics(cifar, out, ["entropy", "segments"], workers=1, mirror=mirror,
                               progress=False)
    second = compute_statistics(cifar, out, ["sobel_edges"], workers=1, mirror=mirror,
                                progress=False)
    stored, meta = read_statistics(out)
    assert {"entropy", "segments", "sobel_edges"} <= set(stored.columns) == set(second.columns)
    assert set(meta["spec"]) == {"entropy", "segments", "sobel_edges"}
    pd.testing.assert_series_equal(stored["entropy"], first["entropy"])


# ------------------------------------------------------------------ case 4: bad derived files
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_stats_recomputes_a_truncated_table(cifar, tmp_path, data_root, mirror, capsys):
    out_dir = tmp_path / "statistics"
    reference = compute_statistics(cifar, out_dir / "cifar10-test.parquet", ["entropy"],
                                   workers=1, mirror=mirror, progress=False)
    _truncate(out_dir / "cifar10-test.parquet")
    argv = ["stats", "cifar10", "--split", "test", "--subset", "2", "--statistics", "entropy",
            "--workers", "1", "--no-progress", "--data-root", str(data_root), "--mirror",
            str(mirror), "--out-dir", str(out_dir)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"{out_dir / 'cifar10-test.parquet'}: statistics table unreadable" in err
    assert "computing it again" in err
    pd.testing.assert_frame_equal(read_statistics(out_dir / "cifar10-test.parquet")[0],
                                  reference)


def test_report_refuses_a_truncated_statistics_table_in_one_line(cifar, tmp_path, mirror,
                                                                 capsys):
    store = _store(tmp_path / "store", 2, {0: 2, 1: 2})
    table = tmp_path / "statistics" / "cifar10-test.parquet"
    compute_statistics(cifar, table, ["entropy"], workers=1, mirror=mirror, progress=False)
    _truncate(table)
    argv = ["report", str(store.path), "--dataset", "cifar10", "--statistics-dir",
            str(table.parent), "--out", str(tmp_path / "t.csv")]
    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err, str(table), "statistics table unreadable",
                          "python -m agreement_core stats cifar10 --split test")
    assert not (tmp_path / "t.csv").exists(), line


def test_a_short_cifar10h_file_is_one_line_naming_it(tmp_path, mirror):
    short = tmp_path / "cifar10h-probs.npy"
    short.write_bytes((mirror / "cifar10h-probs.npy").read_bytes()[:1000])
    with pytest.raises(DatasetError, match=re.escape(f"{short}: unreadable, truncated")):
        cifar10h_entropy(np.arange(5), path=short)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_provenance_tells_stale_edited_and_truncated_tables(suffix, tmp_path):
    path = tmp_path / f"claims{suffix}"
    table = pd.DataFrame({"claim_id": ["a", "b"], "value": [0.5, 0.7]})
    inputs = {"stores": {"cifar10": "sha256:1"}, "statistics": ["entropy"], "n_boot": 200}
    write_table(table, path, provenance=inputs)
    assert check_provenance(path, inputs)["rows"] == 2
    pd.testing.assert_frame_equal(read_table(path, inputs), table)
    changed = {**inputs, "stores": {"cifar10": "sha256:2"}}
    with pytest.raises(DerivedFileError, match=re.escape(f"{path}: stale: derived from other "
                                                         f"inputs (stores changed)")):
        check_provenance(path, changed)
    if suffix == ".csv":  # a well-formed table edited by hand no longer matches its sidecar
        path.write_text("claim_id,value\na,-7\n")
        with pytest.raises(DerivedFileError, match="does not match its provenance"):
            read_table(path)
        provenance_path(path).unlink()
        with pytest.raises(DerivedFileError, match="records no provenance"):
            check_provenance(path, inputs)
    else:
        _truncate(path)
        with pytest.raises(DerivedFileError, match=re.escape(f"{path}: unreadable")):
            read_table(path, inputs)
    # IPython (a notebook) shows it as one line.
    with pytest.raises(DerivedFileError) as info:
        check_provenance(tmp_path / "absent.csv", inputs)
    assert info.value._render_traceback_() == [f"DerivedFileError: {tmp_path}/absent.csv: "
                                               "missing"]


def test_a_dynamics_table_is_rewritten_when_its_store_changes(tmp_path, data_root, mirror):
    from agreement_core.study.runs import dynamics_inputs, write_dynamics

    workspace = Workspace.open("default", Locations(data_root, mirror, results=tmp_path))
    config = workspace.profile.config("cifar10")
    store_path = workspace.layout.study_dir(config)
    shutil.copytree(REPO / "results" / "default" / "studies" / store_path.name, store_path,
                    ignore=shutil.ignore_patterns("checkpoints"))
    said = []
    write_dynamics(workspace, say=said.append)
    out = workspace.layout.dynamics_path(config)
    assert said == [f"  wrote {out}"]
    check_provenance(out, dynamics_inputs(workspace, config))
    said.clear()
    write_dynamics(workspace, say=said.append)
    assert said == []  # current: kept
    (store_path / "meta.json").write_text((store_path / "meta.json").read_text() + "\n")
    with pytest.raises(DerivedFileError, match="stale: derived from other inputs \\(store"):
        check_provenance(out, dynamics_inputs(workspace, config))
    write_dynamics(workspace, say=said.append)
    assert said == [f"  wrote {out}"]


# ------------------------------------------------------------------ case 5: different epochs
def test_report_shares_agrees_rule_for_networks_at_different_epochs(tmp_path, capsys):
    store = _store(tmp_path / "store", 2, {0: 2, 1: 1})
    argv = ["report", str(store.path), "--out", str(tmp_path / "t.csv"), "--figure",
            str(tmp_path / "f.png"), "--n-boot", "10", "--n-perm", "10"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    note = ("note: the table stops at the last epoch all networks have recorded (epochs "
            "recorded per network: network 0: 2, network 1: 1 (of 2))")
    assert out.splitlines()[0] == note
    assert main(["agree", str(store.path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == note  # the same words
    assert "2 x unknown architecture, 1 of 2 epochs (the last all networks have recorded)" \
        in study_caption(store)
    complete = _store(tmp_path / "complete", 2, {0: 2, 1: 2})
    assert "2 x unknown architecture, 2 epochs" in study_caption(complete)
    half = _store(tmp_path / "half", 2, {0: 1})
    assert main(["report", str(half.path), "--out", str(tmp_path / "h.csv")]) == 2
    one_error_line(capsys.readouterr().err, "no epoch of split 'train' is recorded for all "
                                            "networks", "network 1: 0 (of 2)")


# ------------------------------------------------------------------ case 7: leftovers
def test_a_killed_writers_temporary_is_removed_on_the_next_run(tmp_path, data_root, mirror,
                                                               capsys):
    out = tmp_path / "store"
    argv = ["train", "--preset", "tiny", "--networks", "2", "--epochs", "1", "--train-subset",
            "10", "--test-subset", "2", "--no-progress", "--data-root", str(data_root),
            "--mirror", str(mirror), "--out", str(out)]
    # What kill -9 leaves: empty temporaries, an old-style one and one naming a dead writer.
    (out / "checkpoints").mkdir(parents=True)
    legacy = out / "checkpoints" / ".net001.pt.k2j4h5_x.tmp"
    legacy.touch()
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = os.uname().nodename.split(".")[0].replace("-", "_")
    record = out / "net000" / "test" / f".epoch0001.npz.{host}-{dead.pid}.abcd1234.tmp"
    record.parent.mkdir(parents=True)
    record.touch()
    assert main(argv) == 0, capsys.readouterr().err
    assert not list(out.rglob("*.tmp"))
    store = RecordStore.open(out)
    assert [store.completed_epochs(k) for k in range(2)] == [1, 1]


def test_temporaries_of_live_writers_stay(tmp_path):
    tag = f"{os.uname().nodename.split('.')[0].replace('-', '_')}-{os.getpid()}"
    live = tmp_path / f".t.csv.{tag}.abcdefgh.tmp"
    legacy = tmp_path / ".t.csv.abcdefgh.tmp"
    live.touch()
    legacy.touch()
    assert remove_stale_temporaries(tmp_path, "t.csv") == []
    assert sorted(remove_stale_temporaries(tmp_path, "t.csv", owned=True)) == sorted(
        [live, legacy])


# ------------------------------------------------------------------ case 2: notebooks
def _notebook(directory: Path, name: str, code: str) -> None:
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('profile = "x"')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(code)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, directory / f"{name}.ipynb")


@pytest.fixture
def notebooks(tmp_path):
    source, out = tmp_path / "notebooks", tmp_path / "book" / "notebooks"
    source.mkdir()
    _notebook(source, "page", "print('finished page')")
    _notebook(source, "other", "print('other page')")
    return SimpleNamespace(source=source, out=out)


def test_a_failing_notebook_keeps_the_published_page(notebooks, capfd):
    from agreement_core.study.pipeline import BuildError, execute_notebooks, is_finished

    workspace = Workspace.open("default")
    execute_notebooks(workspace, only=["page"], out_dir=notebooks.out,
                      notebooks_dir=notebooks.source)
    published = (notebooks.out / "page.ipynb").read_bytes()
    assert is_finished(notebooks.out / "page.ipynb")
    assert "without encryption" not in capfd.readouterr().err  # kernels over IPC
    _notebook(notebooks.source, "page", "1 / 0")
    with pytest.raises(BuildError, match="notebook page failed: ZeroDivisionError") as info:
        execute_notebooks(workspace, only=["page"], out_dir=notebooks.out,
                          notebooks_dir=notebooks.source)
    failed = notebooks.out.parent / "_build" / "failed" / "page.ipynb"
    assert str(failed) in str(info.value) and failed.is_file()
    assert (notebooks.out / "page.ipynb").read_bytes() == published
    assert sorted(p.name for p in notebooks.out.iterdir()) == ["page.ipynb"]


def test_an_interrupted_notebook_is_never_published_and_the_book_waits_for_it(notebooks,
                                                                               tmp_path):
    from agreement_core.study.pipeline import execute_notebooks, unfinished_notebooks

    _notebook(notebooks.source, "slow", "import time\ntime.sleep(20)")
    script = ("from agreement_core.study import Workspace\n"
              "from agreement_core.study.pipeline import execute_notebooks\n"
              f"execute_notebooks(Workspace.open('default'), only=['slow'], "
              f"out_dir={str(notebooks.out)!r}, notebooks_dir={str(notebooks.source)!r})\n")
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(notebooks.out.glob(".slow.ipynb.*.tmp")) and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it wrote its temporary"
        time.sleep(0.2)
    time.sleep(1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (notebooks.out / "slow.ipynb").exists()  # nothing half-run is published
    assert unfinished_notebooks(notebooks.out, ["page", "other", "slow"]) == [
        "page", "other", "slow"]
    # The next run, whichever notebooks it executes, removes the killed run's temporary.
    execute_notebooks(Workspace.open("default"), only=["page"], out_dir=notebooks.out,
                      notebooks_dir=notebooks.source)
    assert sorted(p.name for p in notebooks.out.iterdir()) == ["page.ipynb"]
    # build --notebook page: the pages the book lacks are executed too (slow is now quick).
    _notebook(notebooks.source, "slow", "print('quick now')")
    outcome = execute_notebooks(Workspace.open("default"), only=["page"], out_dir=notebooks.out,
                                notebooks_dir=notebooks.source, complete=True)
    assert sorted(outcome) == ["other", "page", "slow"]
    assert unfinished_notebooks(notebooks.out, ["page", "other", "slow"]) == []
    assert sorted(p.name for p in notebooks.out.iterdir()) == [
        "other.ipynb", "page.ipynb", "slow.ipynb"]


def test_a_full_disk_in_a_kernel_is_the_builds_disk_full_error(notebooks):
    from agreement_core.study.pipeline import execute_notebooks

    # What agreement_core's atomic writer raises in the kernel (defined here: the kernel
    # may import another installed copy of the package).
    _notebook(notebooks.source, "page", "class DiskFull(OSError):\n    pass\n\n"
                                        "raise DiskFull('no space left on device writing "
                                        "/results/full/claims.csv')")
    with pytest.raises(DiskFull, match="^no space left on device writing "
                                       "/results/full/claims.csv$"):
        execute_notebooks(Workspace.open("default"), only=["page"], out_dir=notebooks.out,
                          notebooks_dir=notebooks.source)
    assert not list(notebooks.out.iterdir())


def test_build_no_train_accepts_a_read_only_results_folder(tmp_path, monkeypatch, capsys):
    from agreement_core.study import pipeline

    calls = []
    monkeypatch.setattr(pipeline, "build", lambda *a, **k: calls.append(k))
    with small_filesystem(tmp_path / "results", "1m") as results:
        # A read-only mount: not writable even by root.
        subprocess.run(["mount", "-o", "remount,ro", str(results)], check=True)
        assert main(["build", "--no-train", "--results-dir", str(results)]) == 0
        assert calls and calls[0]["train"] is False
        assert main(["build", "--results-dir", str(results)]) == 2  # training writes
        one_error_line(capsys.readouterr().err, "--results-dir", "no write permission")


# ------------------------------------------------------------------ case 6: notebook parameters
NOTEBOOK_CASES = {
    "profile-empty": ({"profile": ""}, "notebook parameter profile = '': expected a profile "
                                       "name ('default', 'full' or 'paper'"),
    "profile-None": ({"profile": None}, "notebook parameter profile = None: expected a "
                                        "profile name ('default', 'full' or 'paper'"),
    "profile-typo": ({"profile": "defualt"}, "notebook parameter profile = 'defualt'"),
    "arch-not-in-registry": ({"arch": "resnet9000"},
                             "notebook parameter arch = 'resnet9000': expected an "
                             "architecture of the model registry (densenet121,"),
    "arch-not-in-the-profile": ({"profile": "default", "arch": "vgg16"},
                                "notebook parameter arch = 'vgg16': profile 'default' trains "
                                "no study of it"),
    "architectures-not-in-registry": ({"architectures": ["lenet5_bn", "resnet9000"]},
                                      "notebook parameter architectures = ['lenet5_bn', "
                                      "'resnet9000']: expected a list of architectures"),
    "data-root-missing": (lambda c: {"data_root": str(c / "nonexistent" / "data")},
                          "notebook parameter data_root = "),
    "results-dir-missing": (lambda c: {"results_dir": str(c / "nonexistent")},
                            "notebook parameter results_dir = "),
    "mirror-missing": (lambda c: {"mirror": str(c / "nonexistent")},
                       "notebook parameter mirror = "),
}


@pytest.mark.parametrize("given, message", [pytest.param(*case, id=name)
                                            for name, case in NOTEBOOK_CASES.items()])
def test_notebook_parameters_are_checked_against_what_they_name(given, message, tmp_path):
    parameters = given(tmp_path) if callable(given) else given
    own = ("architectures",) if "architectures" in parameters else ()
    with pytest.raises(ConfigError) as info:
        notebook_session(parameters, own=own)
    assert str(info.value).startswith(message), str(info.value)
    assert info.value._render_traceback_() == [f"ConfigError: {info.value}"]
    assert not (tmp_path / "nonexistent").exists()  # a mistyped path is never created


@pytest.mark.parametrize("call, shows", [
    (lambda s: s.claims(), "the claims table of profile 'default'"),
    (lambda s: s.own_loop(), "the own-loop run of profile 'default'"),
    (lambda s: s.pruning(), "the pruning experiment of profile 'default'"),
    (lambda s: s.variants("cifar10", "arch"), "the studies of arch = ['lenet5_bn',"),
], ids=["claims", "own-model-and-data", "pruning", "fig9-architectures"])
def test_an_override_the_notebook_does_not_use_is_refused(call, shows, tmp_path):
    session = notebook_session({"profile": "default", "arch": "lenet5_bn",
                                "results_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match=re.escape(
            f"notebook parameter arch = 'lenet5_bn' is not used by this notebook: it shows "
            f"{shows}")):
        call(session)
    assert not list(tmp_path.iterdir())  # refused before any work

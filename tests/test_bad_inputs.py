"""Bad inputs stop with one clear line naming what is wrong, never a traceback.

The command line: exactly one ``error: ...`` line on stderr and exit status 2 (``--debug``
shows the traceback instead); Ctrl-C: one line with the command that resumes, status 130.
The Python API: the documented exception class. Notebooks: one line naming the parameter.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest

from agreement_core.cli import check_output, main, print_agreement
from agreement_core.data import CIFAR10, select_subset
from agreement_core.errors import ConfigError, RecordStoreError
from agreement_core.records import RecordStore
from agreement_core.study import notebook_session

PYTHON_M = [sys.executable, "-m", "agreement_core"]


def one_error_line(stderr: str, *names: str) -> str:
    """The single ``error:`` line of ``stderr``, checked to name every one of ``names``."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert lines[0].startswith("error: "), lines[0]
    for name in names:
        assert name in lines[0], f"{name!r} not named in {lines[0]!r}"
    return lines[0]


def _store(path: Path, num_networks: int, written: dict[int, int]) -> RecordStore:
    """A tiny store of 2 epochs in which network k wrote epochs 1..written[k]."""
    targets = np.array([0, 1, 2, 0, 1, 2])
    store = RecordStore.create(path, num_networks=num_networks, num_epochs=2,
                               splits={"train": (np.arange(6), targets),
                                       "test": (np.arange(3), targets[:3])},
                               num_classes=3)
    for k, epochs in written.items():
        for epoch in range(1, epochs + 1):
            store.write_epoch(k, "train", epoch, targets)
            store.write_epoch(k, "test", epoch, targets[:3])
    return store


@pytest.fixture(scope="module")
def context(tmp_path_factory, data_root, mirror):
    """Paths the cases refer to: stores, a regular file, a read-only folder, data options."""
    root = tmp_path_factory.mktemp("bad_inputs")
    a_file = root / "a_file"
    a_file.write_text("not a folder")
    read_only = root / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    bad_json = root / "bad.json"
    bad_json.write_text("{epochs: 3")
    zero_test_subset = root / "zero_test_subset.json"
    zero_test_subset.write_text(json.dumps({"test_subset": 0}))
    return SimpleNamespace(
        root=root, out=root / "never_created", a_file=a_file, read_only=read_only,
        bad_json=bad_json, zero_test_subset=zero_test_subset,
        complete=_store(root / "complete", 2, {0: 2, 1: 2}).path,
        # Half-written: only network 0 recorded epoch 1.
        half=_store(root / "half", 2, {0: 1}).path,
        data=["--data-root", str(data_root), "--mirror", str(mirror)])


def _train(c, *options):
    return ["train", "--out", str(c.out), "--epochs", "1", "--networks", "1", *options, *c.data]


_AS_ROOT = pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")

#: id -> (argv from the context, what the error line must name).
CLI_CASES = {
    "train-subset-0": (lambda c: _train(c, "--train-subset", "0"), ["--train-subset", "got 0"]),
    "train-subset-negative": (lambda c: _train(c, "--train-subset", "-3"),
                              ["--train-subset", "got -3"]),
    "train-subset-above-1": (lambda c: _train(c, "--train-subset", "1.5"),
                             ["--train-subset", "got 1.5"]),
    "train-subset-larger-than-a-class": (
        lambda c: _train(c, "--train-subset", "100000"),
        ["CIFAR10 train split", "subset 100000 per class", "(5000 examples)", "'all'"]),
    "test-subset-0-from-config": (
        lambda c: _train(c, "--config", str(c.zero_test_subset)), ["test_subset", "got 0"]),
    "config-not-json": (lambda c: _train(c, "--config", str(c.bad_json)),
                        ["--config", "bad.json", "not valid JSON"]),
    "stats-subset-0": (lambda c: ["stats", "cifar10", "--subset", "0", "--out-dir",
                                  str(c.out), *c.data], ["--subset", "got 0"]),
    "train-out-under-a-file": (
        lambda c: ["train", "--out", str(c.a_file / "store"), *c.data],
        ["--out", "a_file/store", "is a file, not a directory"]),
    "train-out-is-a-file": (lambda c: ["train", "--out", str(c.a_file), *c.data],
                            ["--out", "a_file", "it is a file, not a directory"]),
    "agree-out-under-a-file": (
        lambda c: ["agree", str(c.complete), "--out", str(c.a_file / "t.csv")],
        ["--out", "a_file/t.csv", "is a file, not a directory"]),
    "stats-out-dir-under-a-file": (
        lambda c: ["stats", "cifar10", "--out-dir", str(c.a_file / "stats"), *c.data],
        ["--out-dir", "a_file/stats"]),
    "report-figure-under-a-file": (
        lambda c: ["report", str(c.complete), "--out", str(c.root / "t.csv"),
                   "--figure", str(c.a_file / "f.png")], ["--figure", "a_file/f.png"]),
    "unknown-architecture": (lambda c: _train(c, "--arch", "resnet9000"),
                             ["unknown architecture 'resnet9000'"]),
    "agree-half-written-store": (
        lambda c: ["agree", str(c.half)],
        ["half", "no epoch of split 'train' is recorded for all networks", "network 0: 1",
         "network 1: 0", "(of 2)"]),
    "agree-missing-store": (lambda c: ["agree", str(c.root / "no_store")], ["no_store"]),
    "report-statistics-dir-missing": (
        lambda c: ["report", str(c.complete), "--statistics-dir", str(c.root / "no_stats")],
        ["--statistics-dir", "no_stats", "no such directory"]),
}
CLI_PARAMS = [pytest.param(*case, id=name) for name, case in CLI_CASES.items()]
CLI_PARAMS.append(pytest.param(lambda c: ["train", "--out", str(c.read_only / "store"), *c.data],
                               ["--out", "read_only/store", "no write permission"],
                               id="train-out-in-a-read-only-folder", marks=_AS_ROOT))


@pytest.mark.parametrize("argv, names", CLI_PARAMS)
def test_command_line_errors_are_one_line(argv, names, context, capsys):
    args = argv(context)
    assert main(args) == 2
    one_error_line(capsys.readouterr().err, *names)
    assert not context.out.exists()  # stopped before any work


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_real_process_shows_a_traceback_only_with_debug(debug, context):
    argv = [*(["--debug"] if debug else []), "train", "--out",
            str(context.a_file / "store"), *context.data]
    result = subprocess.run([*PYTHON_M, *argv], capture_output=True, text=True, timeout=300)
    if debug:
        assert result.returncode == 1
        assert result.stderr.startswith("Traceback (most recent call last):")
        assert result.stderr.splitlines()[-1].startswith(
            "agreement_core.errors.ConfigError: --out ")
    else:
        assert result.returncode == 2
        one_error_line(result.stderr, "--out", str(context.a_file / "store"))


def test_argparse_usage_errors_stay_argparse(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", "x", "--train-subset", "abc"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ") and "argument --train-subset" in err


# ------------------------------------------------------------------ the Python API
_EXAMPLES = pd.DataFrame({"label": [0, 1, 0, 0, 1, 2, 0]})

#: id -> (call, exception class, pattern its message must match).
API_CASES = {
    "select-subset-0": (lambda c: select_subset(_EXAMPLES, 0), ConfigError, "got 0"),
    "select-subset-negative": (lambda c: select_subset(_EXAMPLES, -3), ConfigError, "got -3"),
    "select-subset-above-1": (lambda c: select_subset(_EXAMPLES, 1.5), ConfigError, "got 1.5"),
    "select-subset-larger-than-every-class": (
        lambda c: select_subset(_EXAMPLES, 5), ConfigError,
        r"subset 5 per class is more than the largest class holds \(4 examples\)"),
    "dataset-subset-larger-than-a-class": (
        lambda c: CIFAR10("test", root=c.data_root, subset=100000), ConfigError,
        r"CIFAR10 test split: subset 100000 per class .*\(1000 examples\)"),
    "multilabel-subset-larger-than-the-split": (
        lambda c: select_subset(pd.DataFrame({"labels": [(0,), (1,)]}), 3), ConfigError,
        r"subset 3 is more than the split holds \(2 examples\)"),
    "half-written-store": (
        lambda c: print_agreement(RecordStore.open(c.half), "all", None), RecordStoreError,
        r"network 0: 1, network 1: 0 \(of 2\)"),
    "output-under-a-file": (lambda c: check_output(c.a_file / "x", "--out", directory=True),
                            ConfigError, "is a file, not a directory"),
    "notebook-epochs-abc": (lambda c: notebook_session({"epochs": "abc"}), ConfigError,
                            "notebook parameter epochs = 'abc': expected a number of epochs"),
    "notebook-unknown-name": (lambda c: notebook_session({"epoch": 3}), ConfigError,
                              r"unknown notebook parameter epoch = 3 \(did you mean epochs\?\)"),
    "notebook-own-n-boot-text": (
        lambda c: notebook_session({"n_boot": "x"}, own=("n_boot",)), ConfigError,
        "notebook parameter n_boot = 'x': expected a number of bootstrap resamples"),
    "notebook-own-batch-sizes-int": (
        lambda c: notebook_session({"batch_sizes": 5}, own=("batch_sizes",)), ConfigError,
        "notebook parameter batch_sizes = 5: expected a list of batch sizes"),
    "notebook-own-name-not-taken": (
        lambda c: notebook_session({"n_boot": 10}), ConfigError,
        "unknown notebook parameter n_boot = 10"),
    # In a kernel: papermill's injected cell (only `name = literal` lines) sets a typo.
    "notebook-kernel-injected-typo": (
        lambda c: notebook_session({"In": ["", "epochs = None  # epochs", "# Parameters\n"
                                           "epoch = 3\n"], "epochs": None, "epoch": 3}),
        ConfigError, "unknown notebook parameter epoch = 3"),
}


@pytest.mark.parametrize("call, error, pattern",
                         [pytest.param(*case, id=name) for name, case in API_CASES.items()])
def test_python_api_raises_the_documented_class(call, error, pattern, context, data_root):
    with pytest.raises(error, match=pattern) as info:
        call(SimpleNamespace(**vars(context), data_root=data_root))
    # IPython (a notebook) shows every project error as this one line, no traceback.
    assert info.value._render_traceback_() == [f"{type(info.value).__name__}: {info.value}"]


def test_notebook_setup_in_a_kernel_ignores_imports_and_later_results():
    """Rerunning the setup cell in a live kernel: later cells' results are no parameters."""
    namespace = {"In": ["", "epochs = 3  # epochs", "import numpy as np\nx = np.ones(2)",
                        "studies = session.studies([])"],
                 "epochs": 3, "np": np, "x": np.ones(2), "studies": {}, "Out": {},
                 "_": "", "get_ipython": print, "exit": print}
    assert notebook_session(namespace).overrides == {"epochs": 3}


# ------------------------------------------------------------------ notebooks via papermill
@pytest.fixture(scope="module")
def tiny_notebook(tmp_path_factory) -> Path:
    """A notebook as thin as the real ones: parameters, the session, one result."""
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell(
        'profile = "default"  # profile\nepochs = None  # epochs\nn_boot = 1000  # resamples')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        parameters,
        nbformat.v4.new_code_cell("from agreement_core.study import notebook_session\n\n"
                                  'session = notebook_session(globals(), own=("n_boot",))'),
        nbformat.v4.new_code_cell("print(session.overrides, n_boot)")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = tmp_path_factory.mktemp("notebook") / "tiny.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize("parameters, message", [
    ({"epochs": "abc"}, "notebook parameter epochs = 'abc': expected a number of epochs"),
    ({"epoch": 3}, "unknown notebook parameter epoch = 3 (did you mean epochs?)"),
    ({"n_boot": "x"}, "notebook parameter n_boot = 'x': expected a number of bootstrap"),
], ids=["epochs-abc", "unknown-epoch", "own-n-boot-text"])
def test_papermill_stops_with_one_line_naming_the_parameter(parameters, message, tiny_notebook,
                                                            tmp_path):
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(tiny_notebook, tmp_path / "out.ipynb", parameters=parameters,
                                   kernel_name="python3", progress_bar=False)
    error = info.value
    assert error.ename == "ConfigError" and error.evalue.startswith(message)
    assert error.traceback == [f"ConfigError: {error.evalue}"]  # one line, no traceback
    assert "session" in error.source  # stopped in the setup cell, before any work


def test_papermill_runs_with_valid_parameters(tiny_notebook, tmp_path):
    papermill = pytest.importorskip("papermill")
    done = papermill.execute_notebook(tiny_notebook, tmp_path / "out.ipynb",
                                      parameters={"epochs": 3, "n_boot": 5},
                                      kernel_name="python3", progress_bar=False)
    assert done.cells[-1].outputs[0]["text"] == "{'epochs': 3} 5\n"


# ------------------------------------------------------------------ Ctrl-C
def _default_sigint():
    # A shell's background job inherits SIGINT ignored, and Python then raises no
    # KeyboardInterrupt: restore the default so the child behaves as in a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lines_of(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)  # end of stream


def test_ctrl_c_keeps_finished_epochs_and_names_the_resume_command(tmp_path, data_root, mirror):
    out = tmp_path / "store"
    epochs, networks = 10, 2
    argv = ["train", "--out", str(out), "--train-subset", "5", "--test-subset", "1",
            "--epochs", str(epochs), "--networks", str(networks), "--batch-size", "10",
            "--data-root", str(data_root), "--mirror", str(mirror), "--no-progress"]
    with open(tmp_path / "stderr", "w+") as stderr:
        process = subprocess.Popen([*PYTHON_M, *argv], stdout=subprocess.PIPE, stderr=stderr,
                                   text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                   preexec_fn=_default_sigint)
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_lines_of, args=(process.stdout, lines), daemon=True)
        reader.start()
        deadline = time.monotonic() + 300
        try:
            while True:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
                assert line is not None, "training ended before its first epoch line"
                if re.match(r"net 0 epoch +1/", line):
                    break
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=120) == 130
        finally:
            if process.poll() is None:
                process.kill()
        reader.join(timeout=10)
        stderr.seek(0)
        message = stderr.read()
    kept = f"interrupted: finished epochs are kept in {out}; resume with: "
    assert len(message.splitlines()) == 1 and message.startswith(kept), message
    command = shlex.split(message.removeprefix(kept))
    assert command[:3] == ["python", "-m", "agreement_core"] and command[3:] == argv
    store = RecordStore.open(out)
    assert 1 <= store.completed_epochs(0) and store.completed_epochs(networks - 1) < epochs

    rerun = subprocess.run([*PYTHON_M, *command[3:]], capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    store = RecordStore.open(out)
    assert [store.completed_epochs(k) for k in range(networks)] == [epochs] * networks

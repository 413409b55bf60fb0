"""One writer per network and per statistics table: held locks, stale locks, two jobs at once."""

import collections
import errno
import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from agreement_core._locks import FileLock, LockHeld, lock_path
from agreement_core.data import CIFAR10
from agreement_core.records import RecordStore
from agreement_core.statistics import compute_statistics
from agreement_core.study import train_study
from agreement_core.study.runs import network_lock
from agreement_core.training import TrainConfig

TINY = dict(dataset="cifar10", arch="fastnet_small", num_networks=2, epochs=1,
            train_subset=10, test_subset=5, batch_size=50)

#: A process that takes a lock, says so, and holds it; with "fork", its forked child
#: (pid printed too) outlives it.
HOLDER = textwrap.dedent("""
    import os, sys, time
    from agreement_core._locks import FileLock
    lock = FileLock(sys.argv[1])
    assert lock.acquire(timeout=0)
    ready_r, ready_w = os.pipe()
    child = os.fork() if sys.argv[2] == "fork" else None
    if child == 0:
        os.write(ready_w, b"x")  # os.fork has returned here: the fork hooks have run
        time.sleep(120)
        os._exit(0)
    if child:
        os.read(ready_r, 1)  # report the child only once it is running
    print("held", child, flush=True)
    time.sleep(float(sys.argv[3]))
    lock.release()
""")


def start_holder(path, hold_s=120.0, fork=False):
    """A subprocess holding the lock at ``path``; returns (process, forked child pid)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path),
                             "fork" if fork else "-", str(hold_s)],
                            stdout=subprocess.PIPE, text=True)
    words = proc.stdout.readline().split()
    assert words and words[0] == "held", "the lock holder did not start"
    return proc, int(words[1]) if fork else None


@pytest.fixture
def holders():
    """Start lock holders; whatever is still running at the end is killed."""
    started = []

    def start(path, hold_s=120.0, fork=False):
        proc, child = start_holder(path, hold_s, fork)
        started.append((proc, child))
        return proc, child

    yield start
    for proc, child in started:
        for pid in (proc.pid, child):
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        proc.wait()


def kill9(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_second_writer_is_refused_or_waits_naming_the_holder(tmp_path, holders):
    path = tmp_path / ".x.lock"
    proc, _ = holders(path)
    holder = f"pid {proc.pid} on host {socket.gethostname()}"
    said = []
    lock = FileLock(path, "thing x", say=said.append)
    assert not lock.acquire(timeout=0) and not lock.held and said == []
    assert lock.describe_holder().startswith(holder)
    assert not lock.acquire(timeout=0.6, poll=0.1, report_every=0.25)
    assert said[0].startswith(f"thing x is locked by {holder} (since ")
    assert said[0].endswith("waiting for it (at most 0.6 s)")
    assert "waited 0 s so far" in said[1] and said[-1].startswith("gave up waiting for thing x")
    with pytest.raises(LockHeld, match=f"thing x is locked by {holder}.*wait for it to finish"):
        with FileLock(path, "thing x", timeout=0):
            pass


def test_a_waiting_caller_goes_on_when_the_holder_finishes(tmp_path, holders):
    path = tmp_path / ".x.lock"
    proc, _ = holders(path, hold_s=1.5)
    said = []
    start = time.monotonic()
    with FileLock(path, "x", say=said.append):
        assert time.monotonic() - start > 0.5
    assert proc.wait() == 0 and len(said) == 1 and "waiting for it" in said[0]
    assert not path.exists()


def test_stale_lock_of_a_killed_process_is_taken_over(tmp_path, holders):
    path = tmp_path / ".x.lock"
    proc, _ = holders(path)
    kill9(proc)
    assert path.is_file()  # left behind by the killed holder ...
    said = []
    with FileLock(path, "x", timeout=0, say=said.append) as lock:  # ... and blocks nothing
        assert f"pid {os.getpid()}" in lock.describe_holder()
    assert said == [f"taking over the lock on x from pid {proc.pid} on host "
                    f"{socket.gethostname()} (since {said[0].split('(since ')[1]}"]
    assert "which ended without releasing it" in said[0] and not path.exists()


def test_a_forked_child_of_a_killed_holder_does_not_keep_the_lock(tmp_path, holders):
    path = tmp_path / ".x.lock"
    proc, child = holders(path, fork=True)
    kill9(proc)
    os.kill(child, 0)  # the child is still alive ...
    assert FileLock(path, say=lambda _: None).acquire(timeout=0)  # ... without the lock


def test_train_study_skips_a_locked_network_then_takes_it_over(tmp_path, locations, holders,
                                                                capsys):
    config = TrainConfig(**TINY)
    out = tmp_path / "study"
    proc, _ = holders(network_lock(out, 1).path)
    holder = f"pid {proc.pid} on host {socket.gethostname()}"
    store = train_study(config, out, locations=locations, progress=False)
    lines = capsys.readouterr().out.splitlines()
    assert store.completed_epochs(0) == 1 and store.completed_epochs(1) == 0
    assert lines[0].startswith("net 0 epoch")
    assert lines[1].startswith(f"net 1: skipped for now, {holder}")
    assert lines[2].startswith(f"net 1: NOT finished: still being trained by {holder}")
    assert "rerun this command" in lines[2] and len(lines) == 3

    kill9(proc)  # the holder dies: the rerun takes net 1 over and finishes the study
    store = train_study(config, out, locations=locations, progress=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"taking over the lock on net 1 of {out} from pid {proc.pid}")
    assert lines[1].startswith("net 1 epoch") and len(lines) == 2
    assert store.completed_epochs(1) == 1
    assert not list(out.glob(".*.lock"))


def test_grouped_training_locks_every_network_of_the_group(tmp_path, locations, monkeypatch):
    config = TrainConfig(**{**TINY, "concurrent": True})
    out = tmp_path / "grouped"
    seen = []

    def spy(config, networks, *args, **kwargs):
        seen.append({k: FileLock(network_lock(out, k).path).acquire(timeout=0)
                     for k in networks})
        return real(config, networks, *args, **kwargs)

    from agreement_core.study import runs
    real = runs.train_networks
    monkeypatch.setattr(runs, "train_networks", spy)
    train_study(config, out, locations=locations, progress=False)
    assert seen == [{0: False, 1: False}]  # one group of both, both locked while it trains


def test_statistics_table_has_one_writer(tmp_path, data_root, mirror, holders, capsys):
    dataset = CIFAR10("test", root=data_root, mirror=mirror, subset=2)
    out = tmp_path / "cifar10-test.parquet"
    proc, _ = holders(lock_path(out))
    with pytest.raises(LockHeld, match=rf"statistics table {out} is locked by pid {proc.pid} "
                                       rf"on host"):
        compute_statistics(dataset, out, ["entropy"], workers=1, progress=False,
                           mirror=mirror, lock_timeout=0.3)
    assert "waiting for it (at most 0.3 s)" in capsys.readouterr().err
    assert not out.exists()
    kill9(proc)
    table = compute_statistics(dataset, out, ["entropy"], workers=1, progress=False,
                               mirror=mirror, lock_timeout=0)
    assert "taking over the lock on statistics table" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_parquet(out), table)
    assert not lock_path(out).exists()


def test_two_identical_train_commands_train_every_network_once(tmp_path, data_root, mirror):
    out = tmp_path / "study"
    args = [sys.executable, "-m", "agreement_core", "train", "--preset", "tiny",
            "--networks", "2", "--epochs", "3", "--train-subset", "30", "--test-subset", "5",
            "--out", str(out), "--data-root", str(data_root), "--mirror", str(mirror),
            "--no-progress"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    epochs = collections.Counter(
        match.groups() for output in outputs
        for match in re.finditer(r"^net (\d) epoch +(\d)/3", output, re.MULTILINE))
    expected = {(str(k), str(t)) for k in range(2) for t in range(1, 4)}
    assert set(epochs) == expected and set(epochs.values()) == {1}, outputs
    store = RecordStore.open(out)
    assert all(store.completed_epochs(k) == 3 for k in range(2))
    assert not list(out.glob(".*.lock"))
    # They ran at the same time: one of them found a network locked by the other.
    assert any("skipped for now" in output for output in outputs), outputs


def test_without_flock_support_the_work_goes_on_unlocked(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    said = []
    with FileLock(tmp_path / ".x.lock", "x", timeout=0, say=said.append) as lock:
        assert lock.held
    assert said == [f"warning: going on without a lock on x ({tmp_path}: no file locks "
                    f"there: {os.strerror(errno.ENOLCK)})"]

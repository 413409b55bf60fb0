"""kill -9 and rerun: the statistics command and grouped training end as if never interrupted."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from agreement_core.data import CIFAR10
from agreement_core.records import RecordStore
from agreement_core.statistics import compute_statistics
from agreement_core.statistics.engine import DEFAULT_STATISTICS
from agreement_core.training.trainer import checkpoint_epoch


def run(args):
    return subprocess.run(args, check=True, capture_output=True, text=True)


def kill_when(proc, ready, what, timeout=120):
    """SIGKILL ``proc`` as soon as ``ready()``; fail if it ended first."""
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before {what}"


def test_killed_statistics_run_resumes_to_the_same_table(tmp_path, data_root, mirror):
    args = [sys.executable, "-m", "agreement_core", "stats", "cifar10", "--subset", "30",
            "--split", "test", "--batch-size", "2", "--workers", "1", "--no-progress",
            "--data-root", str(data_root), "--mirror", str(mirror), "--out-dir"]
    # The uninterrupted reference: what that command computes, here in-process.
    reference = compute_statistics(CIFAR10("test", root=data_root, mirror=mirror, subset=30),
                                   tmp_path / "reference.parquet", DEFAULT_STATISTICS,
                                   batch_size=2, workers=1, mirror=mirror, progress=False)

    out = tmp_path / "resumed" / "cifar10-test.parquet"
    partial = out.with_name(out.name + ".partial")
    proc = subprocess.Popen(args + [str(out.parent)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    kill_when(proc, (partial / "batch000000.parquet").is_file, "its first batch was written")
    assert not out.exists() and len(list(partial.glob("batch*.parquet"))) < 150

    rerun = run(args + [str(out.parent)])
    assert "taking over the lock on statistics table" in rerun.stderr  # the killed run's
    pd.testing.assert_frame_equal(pd.read_parquet(out), reference)
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no lock, no partial


def test_killed_grouped_run_resumes_to_the_same_records(tmp_path, data_root, mirror):
    args = [sys.executable, "-m", "agreement_core", "train", "--preset", "tiny", "--concurrent",
            "--networks", "2", "--epochs", "3", "--train-subset", "20", "--test-subset", "5",
            "--data-root", str(data_root), "--mirror", str(mirror), "--no-progress", "--out"]
    reference = tmp_path / "reference"
    run(args + [str(reference)])

    resumed = tmp_path / "resumed"
    proc = subprocess.Popen(args + [str(resumed)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stdout:  # the first epoch's summary lines: net 0, then net 1
        if line.startswith("net 1 epoch   1/3"):
            break
    # The group's checkpoints are written one after the other, just after those lines:
    # killed between the two, the networks would resume one at a time, not as a group.
    checkpoints = [resumed / "checkpoints" / f"net{k:03d}.pt" for k in range(2)]
    kill_when(proc, lambda: all(p.is_file() for p in checkpoints), "epoch 2 began")
    resume_epoch = checkpoint_epoch(resumed / "checkpoints", 0)
    assert resume_epoch == checkpoint_epoch(resumed / "checkpoints", 1) < 3

    rerun = run(args + [str(resumed)])
    assert "taking over the lock on net 0" in rerun.stdout
    assert "taking over the lock on net 1" in rerun.stdout
    a, b = RecordStore.open(reference), RecordStore.open(resumed)
    assert all(b.completed_epochs(k) == 3 for k in range(2))
    for k in range(2):
        for split in ("train", "test"):
            for epoch in range(resume_epoch + 1, 4):
                assert np.array_equal(a.read_predictions(k, split, epoch),
                                      b.read_predictions(k, split, epoch))
                assert np.array_equal(a.read_true_prob(k, split, epoch),
                                      b.read_true_prob(k, split, epoch))
    assert not list(resumed.glob(".*.lock"))

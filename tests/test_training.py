"""Tiny end-to-end studies on the real CIFAR-10 mirror (CPU, seconds)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from agreement_core.agreement import agreement_table
from agreement_core.errors import ConfigError
from agreement_core.records import RecordStore
from agreement_core.training import TrainConfig, train_study

TINY = dict(dataset="cifar10", arch="fastnet_small", num_networks=2, epochs=2,
            train_subset=20, test_subset=10, batch_size=64)


def predictions(store):
    return {(k, s, t): store.read_predictions(k, s, t)
            for k in range(store.num_networks) for s in store.splits
            for t in range(1, store.num_epochs + 1)}


def test_tiny_study_records_every_epoch(tmp_path, data_root, mirror):
    store = train_study(TrainConfig(**TINY), tmp_path / "study", data_root=data_root,
                        mirror=mirror, progress=False)
    assert store.num_examples("train") == 200 and store.num_examples("test") == 100
    for k in range(2):
        assert store.completed_epochs(k) == 2
    table = agreement_table(store, "train")
    assert list(table["epoch"]) == [1, 2]
    assert ((table["tpa"] >= 0) & (table["tpa"] <= 1)).all()
    assert store.config["arch"] == "fastnet_small" and store.seeds == [0, 1]


def test_same_config_twice_gives_identical_records(tmp_path, data_root, mirror):
    config = TrainConfig(**TINY)
    a = train_study(config, tmp_path / "a", data_root=data_root, mirror=mirror, progress=False)
    b = train_study(config, tmp_path / "b", data_root=data_root, mirror=mirror, progress=False)
    pa, pb = predictions(a), predictions(b)
    assert all(np.array_equal(pa[key], pb[key]) for key in pa)


def test_eval_recording_differs_from_online_only_on_train(tmp_path, data_root, mirror):
    online = train_study(TrainConfig(**TINY), tmp_path / "online", data_root=data_root,
                         mirror=mirror, progress=False)
    evaluated = train_study(TrainConfig(**TINY, recording="eval"), tmp_path / "eval",
                            data_root=data_root, mirror=mirror, progress=False)
    # Same seeds, same updates: the test-set predictions are identical.
    assert np.array_equal(online.read_predictions(0, "test", 2),
                          evaluated.read_predictions(0, "test", 2))
    assert evaluated.config["recording"] == "eval"


def test_bad_config_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown architecture"):
        TrainConfig(arch="nope")
    with pytest.raises(ConfigError, match="recording"):
        TrainConfig(recording="sometimes")


def test_killed_run_resumes_to_the_same_records(tmp_path, data_root, mirror):
    args = [sys.executable, "-m", "agreement_core", "train", "--profile", "tiny",
            "--networks", "2", "--epochs", "4", "--train-subset", "20", "--test-subset", "10",
            "--data-root", str(data_root), "--mirror", str(mirror), "--no-progress"]
    reference = tmp_path / "reference"
    subprocess.run(args + ["--out", str(reference)], check=True, capture_output=True)

    resumed = tmp_path / "resumed"
    proc = subprocess.Popen(args + ["--out", str(resumed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=os.environ.copy())
    marker = resumed / "net001" / "train" / "epoch0002.npz"
    deadline = time.time() + 120
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = RecordStore.open(resumed)
    assert store.completed_epochs(1) < 4, "the run finished before it could be killed"

    subprocess.run(args + ["--out", str(resumed)], check=True, capture_output=True)
    a, b = predictions(RecordStore.open(reference)), predictions(RecordStore.open(resumed))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[key], b[key]) for key in a)

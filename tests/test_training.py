"""Tiny end-to-end studies on the real CIFAR-10 mirror (CPU, seconds)."""

import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from agreement_core.agreement import agreement_table
from agreement_core.cli import main
from agreement_core.data import CIFAR10
from agreement_core.errors import ConfigError
from agreement_core.locations import Locations
from agreement_core.records import RecordStore
from agreement_core.study import train_study
from agreement_core.training import (
    TrainConfig,
    learning_rate,
    momentum_at,
    random_crop,
    random_labels,
)

TINY = dict(dataset="cifar10", arch="fastnet_small", num_networks=2, epochs=2,
            train_subset=20, test_subset=10, batch_size=64)


def predictions(store):
    return {(k, s, t): store.read_predictions(k, s, t)
            for k in range(store.num_networks) for s in store.splits
            for t in range(1, store.num_epochs + 1)}


def test_tiny_study_records_every_epoch(tmp_path, locations):
    store = train_study(TrainConfig(**TINY), tmp_path / "study",
                        locations=locations, progress=False)
    assert store.num_examples("train") == 200 and store.num_examples("test") == 100
    for k in range(2):
        assert store.completed_epochs(k) == 2
    table = agreement_table(store, "train")
    assert list(table["epoch"]) == [1, 2]
    assert ((table["tpa"] >= 0) & (table["tpa"] <= 1)).all()
    assert store.config["arch"] == "fastnet_small" and store.seeds == [0, 1]


def test_same_config_twice_gives_identical_records(tmp_path, locations):
    config = TrainConfig(**TINY)
    a = train_study(config, tmp_path / "a", locations=locations, progress=False)
    b = train_study(config, tmp_path / "b", locations=locations, progress=False)
    pa, pb = predictions(a), predictions(b)
    assert all(np.array_equal(pa[key], pb[key]) for key in pa)


def test_a_deleted_record_file_is_recomputed_by_rerunning(tmp_path, locations, capsys):
    """The corrupt-file advice works: delete the file, rerun, and the epoch comes back
    identical (the checkpoint is past it, so the network is trained again from its seed)."""
    out = tmp_path / "study"
    store = train_study(TrainConfig(**TINY), out, locations=locations, progress=False)
    before = store.read_predictions(0, "train", 1).copy()
    (out / "net000" / "train" / "epoch0001.npz").unlink()
    capsys.readouterr()
    store = train_study(TrainConfig(**TINY), out, locations=locations, progress=False)
    assert "net 0: records end at epoch 0 but its checkpoint is at epoch 2" in \
        capsys.readouterr().out
    assert store.completed_epochs(0) == 2
    np.testing.assert_array_equal(store.read_predictions(0, "train", 1), before)


def test_eval_recording_differs_from_online_only_on_train(tmp_path, locations):
    online = train_study(TrainConfig(**TINY), tmp_path / "online",
                         locations=locations, progress=False)
    evaluated = train_study(TrainConfig(**TINY, recording="eval"), tmp_path / "eval",
                            locations=locations, progress=False)
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
    args = [sys.executable, "-m", "agreement_core", "train", "--preset", "tiny",
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


# ------------------------------------------------------------------ protocols and ablations
def test_onecycle_matches_pytorch_for_adam():
    config = TrainConfig(optimizer="adam", schedule="onecycle", lr=1e-4, epochs=4)
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    reference = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-4, total_steps=100)
    for step in range(100):
        group = optimizer.param_groups[0]
        assert learning_rate(config, step, 100) == pytest.approx(group["lr"], rel=1e-9)
        assert momentum_at(config, step, 100) == pytest.approx(group["betas"][0], rel=1e-9)
        optimizer.step()
        reference.step()


def test_step_and_cosine_schedules():
    step = TrainConfig(schedule="step", lr=0.1, step_size=2, gamma=0.2, epochs=6)
    # 10 steps per epoch: x0.2 after every 2 epochs.
    assert [learning_rate(step, s, 60) for s in (0, 19, 20, 39, 40, 59)] == pytest.approx(
        [0.1, 0.1, 0.02, 0.02, 0.004, 0.004])
    cosine = TrainConfig(lr=0.1, min_lr=5e-4)
    assert learning_rate(cosine, 0, 100) == pytest.approx(0.1)
    assert learning_rate(cosine, 100, 100) == pytest.approx(5e-4)


def test_random_label_run_uses_one_recorded_relabelling(tmp_path, data_root, mirror, locations):
    config = TrainConfig(**TINY, random_labels=True, label_seed=7, lr=0.001)
    store = train_study(config, tmp_path / "random", locations=locations,
                        progress=False)
    train = CIFAR10("train", root=data_root, mirror=mirror, subset=20)
    expected = random_labels(len(train), 10, seed=7)
    assert np.array_equal(store.targets("train"), expected)
    assert (expected != train.targets).mean() > 0.8  # really relabelled
    assert np.array_equal(store.targets("test"), CIFAR10("test", root=data_root,
                                                         mirror=mirror, subset=10).targets)
    assert store.config["random_labels"] and store.config["label_seed"] == 7
    assert len(agreement_table(store, "train")) == 2


def test_multilabel_run_on_the_voc_fixture(tmp_path, voc_root):
    config = TrainConfig(dataset="voc", arch="fastnet_small", num_networks=2, epochs=2,
                         batch_size=2, train_subset=None, test_subset=None, image_size=40,
                         crop=32)
    store = train_study(config, tmp_path / "voc", locations=Locations(voc_root), progress=False)
    assert store.multilabel and store.num_classes == 20
    pred = store.read_predictions(1, "train", 2)
    assert pred.dtype == bool and pred.shape == (3, 20)
    # correctness is exact match of the label sets
    exact = (pred == store.targets("train")).all(axis=1)
    assert np.array_equal(store.correct("train", 2)[1], exact)
    assert list(agreement_table(store, "test")["epoch"]) == [1, 2]
    prob = store.read_true_prob(0, "test", 1)
    assert ((prob >= 0) & (prob <= 1)).all()


def test_kth_protocol_adam_onecycle_resize_and_crop(tmp_path, kth_root):
    config = TrainConfig(dataset="kth", arch="fastnet_small", num_networks=2, epochs=2,
                         batch_size=4, optimizer="adam", schedule="onecycle", lr=1e-4,
                         weight_decay=1e-5, train_subset=None, test_subset=None,
                         image_size=40, crop=36)
    store = train_study(config, tmp_path / "kth", locations=Locations(kth_root), progress=False)
    assert store.num_examples("train") == 18 and store.num_examples("test") == 6
    assert store.completed_epochs(0) == store.completed_epochs(1) == 2


def test_random_crop_is_a_crop():
    images = torch.arange(2 * 6 * 6 * 3, dtype=torch.int64).view(2, 6, 6, 3)
    crops = random_crop(images, 4, torch.Generator().manual_seed(0))
    assert crops.shape == (2, 4, 4, 3)
    for image, crop in zip(images, crops, strict=True):
        top, left = divmod(int((crop[0, 0, 0] - image[0, 0, 0]) // 3), 6)
        assert torch.equal(crop, image[top:top + 4, left:left + 4])


def test_streamed_images_give_the_same_records_as_in_memory(tmp_path, locations):
    # Imagenette (the ImageNet stand-in) through the ImageNet code path, decoded per batch.
    base = dict(dataset="imagenette", arch="fastnet_small", num_networks=2, epochs=1,
                batch_size=8, train_subset=2, test_subset=1, image_size=40, crop=32)
    memory = train_study(TrainConfig(**base), tmp_path / "memory",
                         locations=locations, progress=False)
    streamed = train_study(TrainConfig(**base, stream=True), tmp_path / "stream",
                           locations=locations, progress=False)
    for k in range(2):
        for split in ("train", "test"):
            assert np.array_equal(memory.read_predictions(k, split, 1),
                                  streamed.read_predictions(k, split, 1))
    with pytest.raises(ConfigError, match="stream=True needs image_size"):
        TrainConfig(stream=True)


def test_tiny_profile_end_to_end(tmp_path, data_root, mirror, capsys):
    """The issue's tiny study: ~1,000 train / 500 test CIFAR-10 images, K=3, 3 epochs."""
    out = tmp_path / "tiny"
    args = ["--data-root", str(data_root), "--mirror", str(mirror)]
    assert main(["train", "--preset", "tiny", "--out", str(out), "--no-progress", *args]) == 0
    store = RecordStore.open(out)
    assert (store.num_networks, store.num_epochs) == (3, 3)
    assert (store.num_examples("train"), store.num_examples("test")) == (1000, 500)
    assert main(["agree", str(out), "--out", str(tmp_path / "table.csv")]) == 0
    table = pd.read_csv(tmp_path / "table.csv")
    assert len(table) == 6 and table["tpa"].between(0, 1).all()
    # Agreement beats its lower bound once the networks learn something.
    last = table[(table["split"] == "train") & (table["epoch"] == 3)].iloc[0]
    assert last["mean_acc"] > 0.2 and last["tpa"] > last["lower_bound"]


def test_precision_is_recorded_only_when_not_the_original_float32():
    plain, bf16 = TrainConfig(**TINY), TrainConfig(**TINY, precision="bfloat16")
    assert "precision" not in plain.to_dict()  # earlier studies keep their hash and config
    assert bf16.to_dict()["precision"] == "bfloat16"
    assert TrainConfig(**plain.to_dict()) == plain
    with pytest.raises(ConfigError, match="unknown precision 'float16'"):
        TrainConfig(**TINY, precision="float16")


def test_bfloat16_training_records_its_precision_and_learns(tmp_path, locations):
    config = TrainConfig(**{**TINY, "epochs": 3}, precision="bfloat16")
    store = train_study(config, tmp_path / "bf16", locations=locations, progress=False)
    assert store.config["precision"] == "bfloat16"
    assert all(store.completed_epochs(k) == 3 for k in range(2))
    table = agreement_table(store, "train")
    assert table["mean_acc"].iloc[-1] > 0.2  # above chance (0.1) after 3 epochs


def test_emulated_bfloat16_on_the_cpu_is_said(monkeypatch):
    """A CPU without native bfloat16 runs it emulated, ~90x slower: the trainer says so."""
    from agreement_core.training import step

    config = TrainConfig(precision="bfloat16")
    monkeypatch.setattr(step, "native_bfloat16_cpu", lambda: False)
    with pytest.warns(RuntimeWarning, match="no native bfloat16"):
        assert step.precision_autocast(config, "cpu") is not None
    monkeypatch.setattr(step, "native_bfloat16_cpu", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step.precision_autocast(config, "cpu")
    assert step.precision_autocast(TrainConfig(precision="float32"), "cpu") is None

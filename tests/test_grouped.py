"""Concurrent (grouped) training: complete stores, equivalence with the sequential path, resume.

A tiny real CIFAR-10 subset (20 per class train, 5 per class test), K=2 networks, 2 epochs,
fastnet_small, batch 64, CPU. The one-at-a-time reference is ``study.train_study``.

Tolerances: grouped convolutions and BatchNorm over K*C channels sum in another order than
the per-network kernels (~1e-7 relative per operation), and early training at lr 0.1 amplifies
such differences chaotically. The noise floor was measured by rerunning the *sequential* path
with the initial weights perturbed by 1e-6 (relative): after 2 epochs its parameters differ
from the unperturbed run by up to 3e-3 (relative L2 over all weights; BatchNorm biases 10 %),
its momentum buffers by up to 45 %. The concurrent path lies at or below that floor (network
seed 3: 2e-3; seed 4: 2e-7), and after 1 epoch its records agree with the sequential ones on
all train and 92 % of test examples (50 test images of a barely trained network, softmax
almost flat: near-ties flip the arg-max), mean cross-entropy within 2e-3, true-class
probabilities within 3e-3. Asserted, with margin for other CPUs/BLAS builds but tight enough
to catch a wrong data order, seed, schedule or weight decay (all of which move the loss by
more than 0.05 and most predictions): after epoch 1 prediction agreement >= 80 % per network
and split, mean cross-entropy (from the float16 true-class probabilities) within 0.01,
true-class probabilities within 0.05; after epoch 2 the weights within 2 % (relative L2 over
all parameters) and the optimizer state of the same layout (momentum values not compared).
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch

from agreement_core import training
from agreement_core.agreement import agreement_table
from agreement_core.errors import ConfigError
from agreement_core.models import build_model
from agreement_core.records import RecordStore
from agreement_core.study import train_study
from agreement_core.study.runs import store_recorder
from agreement_core.training import grouped, trainer

K = 2
EPOCHS = 2
CONFIG = training.TrainConfig(arch="fastnet_small", num_networks=K, epochs=EPOCHS, batch_size=64,
                              train_subset=20, test_subset=5, seed=3)


@pytest.fixture(scope="module")
def data(locations):
    """(the study's TrainingData, its train and test datasets)."""
    locations = locations
    return (training.TrainingData.load(CONFIG, locations),
            [training.load_dataset(CONFIG, split, locations) for split in ("train", "test")])


def _setup(path, data, config=CONFIG):
    """A grouped config, a store like train_study's, the device tensors and checkpoint dir."""
    config = dataclasses.replace(config, concurrent=True)
    tensors, (train_set, test_set) = data
    store = RecordStore.create(
        path, num_networks=config.num_networks, num_epochs=config.epochs,
        splits={"train": (train_set.example_ids, train_set.targets),
                "test": (test_set.example_ids, test_set.targets)}, num_classes=10,
        with_true_prob=True, config=config.to_dict(),
        seeds=[config.seed + k for k in range(config.num_networks)], exist_ok=True)
    return config, store, tensors, path / "checkpoints"


def _train(path, data, config=CONFIG, networks=range(K)):
    config, store, tensors, ckpt = _setup(path, data, config)
    training.train_networks(config, list(networks), tensors, store_recorder(store), ckpt,
                            "cpu", progress=False)
    return RecordStore.open(path)


@pytest.fixture(scope="module")
def concurrent_store(tmp_path_factory, data):
    return _train(tmp_path_factory.mktemp("concurrent") / "store", data)


@pytest.fixture(scope="module")
def sequential_store(tmp_path_factory, locations):
    out = tmp_path_factory.mktemp("sequential") / "store"
    train_study(CONFIG, out, locations=locations, device="cpu",
                progress=False)
    return RecordStore.open(out)


def _mean_loss(store, k, split, epoch):
    prob = store.read_true_prob(k, split, epoch).astype(np.float64)
    return float(-np.log(np.maximum(prob, 1e-4)).mean())


# ---------------------------------------------------------------------- packing (no training)
def test_packing_keeps_initial_weights_and_outputs():
    models = [trainer.build_network(CONFIG, k, 10, 32) for k in (0, 2)]
    wide = grouped.GroupedFastNet.from_models(models)
    for j, k in enumerate([0, 2]):
        torch.manual_seed(CONFIG.seed + k)  # the documented seed rule: seed + k
        reference = build_model(CONFIG.arch, 10).state_dict()
        unpacked = wide.unpack(j)
        assert unpacked.keys() == reference.keys()
        for name, value in reference.items():
            assert torch.equal(unpacked[name], value), name
    x = torch.randn(2, 8, 3, 32, 32)
    for mode in ("train", "eval"):
        for m in [wide, *models]:
            m.train(mode == "train")
        with torch.no_grad():
            out = wide(x.permute(1, 0, 2, 3, 4).reshape(8, 6, 32, 32))
            for j, model in enumerate(models):
                torch.testing.assert_close(out[j], model(x[j]), atol=1e-5, rtol=1e-4)
    # Train mode updated the per-network running statistics of the wide BatchNorm exactly.
    for j, model in enumerate(models):
        torch.testing.assert_close(wide.unpack(j)["features.4.running_mean"],
                                   model.features[4].running_mean)


def test_unsupported_arch_is_trained_one_at_a_time(tmp_path, capsys):
    with pytest.raises(ConfigError, match="fastnet, fastnet_small"):
        grouped.check_arch("lenet5_bn")
    config = training.TrainConfig(arch="lenet5_bn", num_networks=3, epochs=1, concurrent=True)
    assert trainer.plan_groups(config, [0, 1, 2], tmp_path) == [[0], [1], [2]]
    assert "concurrent training unavailable for 'lenet5_bn'" in capsys.readouterr().out
    grouped_config = training.TrainConfig(num_networks=3, epochs=1, concurrent=True)
    assert trainer.plan_groups(grouped_config, [0, 2], tmp_path) == [[0, 2]]
    assert trainer.plan_groups(grouped_config, [2], tmp_path) == [[2]]
    plain = training.TrainConfig(num_networks=3, epochs=1)
    assert trainer.plan_groups(plain, [0, 1], tmp_path) == [[0], [1]]


def test_auto_groups_only_where_grouping_is_faster(tmp_path):
    auto = training.TrainConfig(num_networks=3, epochs=1, concurrent="auto")
    assert trainer.plan_groups(auto, [0, 1, 2], tmp_path, "cpu") == [[0], [1], [2]]
    assert trainer.plan_groups(auto, [0, 1, 2], tmp_path, torch.device("cuda")) == [[0, 1, 2]]
    assert trainer.plan_groups(auto, [0, 1, 2], tmp_path) == [[0], [1], [2]]  # no device
    with pytest.raises(ConfigError, match="concurrent must be True, False or 'auto'"):
        training.TrainConfig(concurrent="yes")


# ---------------------------------------------------------------------- (a) complete store
def test_concurrent_store_is_complete(concurrent_store):
    store = concurrent_store
    for k in range(K):
        assert store.completed_epochs(k) == EPOCHS
        for split in ("train", "test"):
            for epoch in range(1, EPOCHS + 1):
                path = store.path / f"net{k:03d}" / split / f"epoch{epoch:04d}.npz"
                with np.load(path) as records:
                    assert records["pred"].dtype == np.int16
                    assert records["true_prob"].dtype == np.float16
                    assert records["pred"].shape == (store.num_examples(split),)
                    assert np.all((records["true_prob"] >= 0) & (records["true_prob"] <= 1))
        state = torch.load(store.path / "checkpoints" / f"net{k:03d}.pt", weights_only=True)
        assert state["epoch"] == EPOCHS
    for split in ("train", "test"):
        table = agreement_table(store, split)
        assert list(table["epoch"]) == list(range(1, EPOCHS + 1))


# ---------------------------------------------------------------------- (b) vs sequential
def test_initial_weights_identical_to_sequential(tmp_path, data, locations):
    # lr = 0 (constant): the epoch-1 checkpoints of both paths hold the initial parameters.
    config = training.TrainConfig(arch="fastnet_small", num_networks=K, epochs=1, batch_size=64,
                                  train_subset=20, test_subset=5, seed=3, lr=0.0,
                                  schedule="constant")
    _train(tmp_path / "concurrent", data, config)
    train_study(config, tmp_path / "sequential", locations=locations,
                device="cpu", progress=False)
    for k in range(K):
        a, b = (torch.load(tmp_path / path / "checkpoints" / f"net{k:03d}.pt", weights_only=True)
                for path in ("concurrent", "sequential"))
        model = build_model(config.arch, 10)
        for name, _ in model.named_parameters():
            assert torch.equal(a["model"][name], b["model"][name]), name


def test_matches_sequential_path(concurrent_store, sequential_store):
    conc, seq = concurrent_store, sequential_store
    for k in range(K):
        for split in ("train", "test"):
            agree = np.mean(conc.read_predictions(k, split, 1) == seq.read_predictions(k, split, 1))
            assert agree >= 0.8, (k, split, agree)
            assert abs(_mean_loss(conc, k, split, 1) - _mean_loss(seq, k, split, 1)) < 0.01
            diff = np.abs(conc.read_true_prob(k, split, 1).astype(np.float64)
                          - seq.read_true_prob(k, split, 1).astype(np.float64))
            assert diff.max() < 0.05
        a, b = (torch.load(s.path / "checkpoints" / f"net{k:03d}.pt", weights_only=True)
                for s in (conc, seq))
        assert a["epoch"] == b["epoch"] == EPOCHS
        assert a["model"].keys() == b["model"].keys()
        params = [name for name, _ in build_model(CONFIG.arch, 10).named_parameters()]
        flat_a, flat_b = (torch.cat([state["model"][name].flatten() for name in params])
                          for state in (a, b))
        assert (flat_a - flat_b).norm() <= 0.02 * flat_b.norm()
        for name in a["model"]:
            assert a["model"][name].shape == b["model"][name].shape, name
        # Same optimizer-state layout as the sequential path (values: see the module doc).
        assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
        assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
        for i, entry in b["optimizer"]["state"].items():
            assert a["optimizer"]["state"][i]["momentum_buffer"].shape == \
                entry["momentum_buffer"].shape


# ---------------------------------------------------------------------- (c) resume
def _interrupt_after_epoch_1(path, data, networks=range(K)):
    config, store, tensors, ckpt = _setup(path, data)
    group = trainer.GroupTrainer(config, list(networks), tensors, ckpt, "cpu")
    group.run_epoch(1, store_recorder(store))


def test_resume_continues_from_checkpoints(tmp_path, data, concurrent_store):
    path = tmp_path / "store"
    _interrupt_after_epoch_1(path, data)
    store = RecordStore.open(path)
    assert [store.completed_epochs(k) for k in range(K)] == [1, 1]
    store = _train(path, data)
    for k in range(K):
        assert store.completed_epochs(k) == EPOCHS
        # Same process, same CPU kernels: resuming replays the uninterrupted run exactly.
        for split in ("train", "test"):
            np.testing.assert_array_equal(store.read_predictions(k, split, EPOCHS),
                                          concurrent_store.read_predictions(k, split, EPOCHS))
            np.testing.assert_array_equal(store.read_true_prob(k, split, EPOCHS),
                                          concurrent_store.read_true_prob(k, split, EPOCHS))


def test_resume_at_different_epochs_falls_back_to_sequential(tmp_path, data, concurrent_store):
    path = tmp_path / "store"
    _interrupt_after_epoch_1(path, data, networks=[0])  # network 0 at epoch 1, network 1 at 0
    store = _train(path, data)
    assert [store.completed_epochs(k) for k in range(K)] == [EPOCHS] * K
    # Network 0 resumed alone from the grouped path's checkpoint.
    agree = np.mean(store.read_predictions(0, "test", EPOCHS)
                    == concurrent_store.read_predictions(0, "test", EPOCHS))
    assert agree >= 0.8
    shutil.rmtree(path)


def test_train_study_concurrent_with_crops_adam_onecycle(tmp_path, locations):
    """The ``concurrent`` switch of train_study, with random crops (per-network generators),
    Adam and the one-cycle schedule (momentum cycled too), against the sequential path."""
    common = dict(arch="fastnet_small", num_networks=K, epochs=1, batch_size=64,
                  train_subset=20, test_subset=5, seed=1, crop=28, optimizer="adam", lr=2e-3,
                  schedule="onecycle")
    stores = {}
    for concurrent in (True, False):
        config = training.TrainConfig(**common, concurrent=concurrent)
        stores[concurrent] = train_study(
            config, tmp_path / str(concurrent), locations=locations,
            device="cpu", progress=False)
    conc, seq = stores[True], stores[False]
    for k in range(K):
        assert conc.completed_epochs(k) == 1
        for split in ("train", "test"):
            agree = np.mean(conc.read_predictions(k, split, 1) == seq.read_predictions(k, split, 1))
            assert agree >= 0.8, (k, split, agree)
            assert abs(_mean_loss(conc, k, split, 1) - _mean_loss(seq, k, split, 1)) < 0.01
        a, b = (torch.load(s.path / "checkpoints" / f"net{k:03d}.pt", weights_only=True)
                for s in (conc, seq))
        assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
        for i, entry in b["optimizer"]["state"].items():
            assert set(a["optimizer"]["state"][i]) == set(entry)  # step, exp_avg, exp_avg_sq
            assert torch.equal(a["optimizer"]["state"][i]["step"], entry["step"])


def test_grouped_bfloat16_autocasts_and_records(tmp_path, locations):
    config = training.TrainConfig(arch="fastnet_small", num_networks=K, epochs=1, batch_size=64,
                                  train_subset=20, test_subset=5, concurrent=True,
                                  precision="bfloat16")
    group = trainer.GroupTrainer(config, [0, 1], training.TrainingData.load(config, locations),
                                 tmp_path / "ckpt", "cpu")
    assert isinstance(group.group, grouped.NetworkGroup) and group.group.amp
    store = train_study(config, tmp_path / "store", locations=locations, device="cpu",
                        progress=False)
    assert store.config["precision"] == "bfloat16"
    assert [store.completed_epochs(k) for k in range(K)] == [1, 1]

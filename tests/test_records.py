"""Record store: round trips, resume, gaps, corruption, validation, and the tables on top."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from agreement_core.agreement import (
    agreement_table,
    epoch_summary,
    example_dynamics,
    example_dynamics_table,
    hacohen_agreement,
)
from agreement_core.errors import RecordStoreError
from agreement_core.records import SCHEMA_VERSION, EpochRecord, RecordStore

K, E, C = 3, 4, 5
IDS = np.array([10, 11, 12, 13, 14, 15])
TARGETS = np.array([0, 1, 2, 3, 4, 0])
TEST_IDS = np.array([100, 101, 102])
TEST_TARGETS = np.array([4, 3, 2])
CONFIG = {"arch": "lenet5", "lr": 0.1, "milestones": [30, 60]}


def make_store(path, **kw):
    args = dict(num_networks=K, num_epochs=E, num_classes=C,
                splits={"train": (IDS, TARGETS), "test": (TEST_IDS, TEST_TARGETS)},
                config=CONFIG, seeds=[1, 2, 3])
    args.update(kw)
    return RecordStore.create(path, **args)


def test_create_open_round_trip(tmp_path):
    store = make_store(tmp_path / "s")
    rng = np.random.default_rng(0)
    written = {}
    for k in range(K):
        for t in range(1, E + 1):
            for split, n in (("train", 6), ("test", 3)):
                p = rng.integers(0, C, size=n)
                store.write_epoch(k, split, t, p)
                written[k, split, t] = p
    again = RecordStore.open(tmp_path / "s")
    assert again.meta["schema_version"] == SCHEMA_VERSION
    assert (again.num_networks, again.num_epochs, again.num_classes) == (K, E, C)
    assert sorted(again.splits) == ["test", "train"]
    assert again.config == CONFIG and again.seeds == [1, 2, 3]
    assert not again.multilabel and not again.with_true_prob
    assert set(again.meta["versions"]) == {"python", "numpy", "torch"}
    assert again.meta["splits"]["train"] == {"num_examples": 6}
    np.testing.assert_array_equal(again.example_ids("train"), IDS)
    assert again.example_ids("train").dtype == np.int64
    np.testing.assert_array_equal(again.targets("test"), TEST_TARGETS)
    assert again.num_examples("test") == 3
    for (k, split, t), p in written.items():
        got = again.read_predictions(k, split, t)
        assert got.dtype == np.int16
        np.testing.assert_array_equal(got, p)
    np.testing.assert_array_equal(again.correct("train", 2),
                                  np.stack([written[k, "train", 2] for k in range(K)]) == TARGETS)
    # Atomic writes leave no temporaries behind.
    leftovers = [p for p in (tmp_path / "s").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    files = sorted(p.relative_to(tmp_path / "s").as_posix()
                   for p in (tmp_path / "s").rglob("*.npz"))
    assert "net002/test/epoch0004.npz" in files and "targets/train.npz" in files


def test_multilabel_round_trip_and_exact_match(tmp_path):
    targets = np.array([[1, 0, 1, 0, 0, 0, 0, 0, 1, 1],
                        [0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
                        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]], dtype=bool)
    store = RecordStore.create(tmp_path / "m", num_networks=2, num_epochs=1, num_classes=10,
                               multilabel=True, splits={"train": (np.arange(3), targets)})
    wrong = targets.copy()
    wrong[0, 8] = False  # example 0: a missing label
    wrong[1, 9] = True  # example 1: an extra label
    store.write_epoch(0, "train", 1, targets)
    store.write_epoch(1, "train", 1, wrong)
    store = RecordStore.open(tmp_path / "m")
    np.testing.assert_array_equal(store.targets("train"), targets)
    assert store.targets("train").dtype == np.bool_
    np.testing.assert_array_equal(store.read_predictions(1, "train", 1), wrong)
    np.testing.assert_array_equal(store.correct("train", 1),
                                  [[True, True, True], [False, False, True]])
    rec = next(store.iter_epochs("train"))
    assert rec.predictions.shape == (2, 3, 10) and rec.predictions.dtype == np.bool_
    with pytest.raises(TypeError):
        store.write_epoch(0, "train", 1, targets.astype(int))


def test_true_prob(tmp_path):
    store = make_store(tmp_path / "p", with_true_prob=True)
    prob = np.linspace(0, 1, 6)
    store.write_epoch(0, "train", 1, TARGETS, true_prob=prob)
    got = store.read_true_prob(0, "train", 1)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, prob, atol=1e-3)
    with pytest.raises(ValueError, match="true_prob"):
        store.write_epoch(0, "train", 2, TARGETS)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        store.write_epoch(0, "train", 2, TARGETS, true_prob=prob + 0.5)
    plain = make_store(tmp_path / "q")
    with pytest.raises(ValueError, match="with_true_prob"):
        plain.write_epoch(0, "train", 1, TARGETS, true_prob=prob)
    plain.write_epoch(0, "train", 1, TARGETS)
    with pytest.raises(RecordStoreError, match="true_prob"):
        plain.read_true_prob(0, "train", 1)


def test_completed_and_available_epochs_with_gaps(tmp_path):
    store = make_store(tmp_path / "g")
    assert store.completed_epochs(0) == 0 and store.available_epochs("train") == 0
    for t in (1, 2, 4):  # gap at epoch 3
        store.write_epoch(0, "train", t, TARGETS)
        store.write_epoch(0, "test", t, TEST_TARGETS)
    store.write_epoch(1, "train", 1, TARGETS)
    assert store.has_epoch(0, "train", 4) and not store.has_epoch(0, "train", 3)
    assert store.completed_epochs(0) == 2
    assert store.completed_epochs(1) == 0  # test split missing
    assert store.available_epochs("train") == 0  # network 2 has nothing
    for k in (1, 2):
        for t in (1, 2, 3):
            store.write_epoch(k, "train", t, TARGETS)
    assert store.available_epochs("train") == 2  # network 0 lacks epoch 3
    store.write_epoch(0, "train", 3, TARGETS)
    assert store.available_epochs("train") == 3
    assert [r.epoch for r in store.iter_epochs("train")] == [1, 2, 3]
    # A stray temporary (a killed writer) does not count.
    (tmp_path / "g" / "net001" / "train" / ".epoch0004.npz.abc.tmp").write_bytes(b"x")
    assert store.completed_epochs(1) == 0 and store.available_epochs("train") == 3


def test_last_correct_reads_the_last_epoch_of_all_networks(tmp_path):
    store = make_store(tmp_path / "l")
    with pytest.raises(RecordStoreError, match="no epoch of 'train'"):
        store.last_correct("train")
    wrong = (TARGETS + 1) % C
    for k in range(K):
        store.write_epoch(k, "train", 1, TARGETS)
        store.write_epoch(k, "train", 2, wrong if k == 0 else TARGETS)
    store.write_epoch(1, "train", 3, wrong)  # epoch 3 not yet recorded for all networks
    correct = store.last_correct("train")
    assert correct.shape == (K, len(IDS))
    assert correct.mean(axis=1).tolist() == [0.0, 1.0, 1.0]  # epoch 2, not 1 or 3


def test_exist_ok_resume_and_mismatch(tmp_path):
    store = make_store(tmp_path / "r")
    store.write_epoch(0, "train", 1, TARGETS)
    with pytest.raises(RecordStoreError, match="exists"):
        make_store(tmp_path / "r")
    resumed = make_store(tmp_path / "r", exist_ok=True,
                         config={"milestones": (30, 60), "lr": 0.1, "arch": "lenet5"})
    assert resumed.has_epoch(0, "train", 1)
    with pytest.raises(RecordStoreError, match="config") as info:
        make_store(tmp_path / "r", exist_ok=True, config={**CONFIG, "lr": 0.01})
    assert "num_epochs" not in str(info.value)
    assert "config.lr: 0.1 -> 0.01" in str(info.value) and "milestones" not in str(info.value)
    with pytest.raises(RecordStoreError, match="num_epochs"):
        make_store(tmp_path / "r", exist_ok=True, num_epochs=E + 1)
    with pytest.raises(RecordStoreError, match=r"splits\[train\]\.targets"):
        make_store(tmp_path / "r", exist_ok=True,
                   splits={"train": (IDS, TARGETS[::-1]), "test": (TEST_IDS, TEST_TARGETS)})
    with pytest.raises(RecordStoreError, match="splits"):
        make_store(tmp_path / "r", exist_ok=True, splits={"train": (IDS, TARGETS)})


def test_open_errors(tmp_path):
    with pytest.raises(RecordStoreError, match="nowhere"):
        RecordStore.open(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordStoreError, match="meta.json"):
        RecordStore.open(tmp_path / "empty")
    make_store(tmp_path / "v")
    meta = json.loads((tmp_path / "v" / "meta.json").read_text())
    meta["schema_version"] = 99
    (tmp_path / "v" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(RecordStoreError, match="schema_version"):
        RecordStore.open(tmp_path / "v")


def test_truncated_epoch_file(tmp_path):
    store = make_store(tmp_path / "t")
    store.write_epoch(0, "train", 1, TARGETS)
    path = tmp_path / "t" / "net000" / "train" / "epoch0001.npz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(RecordStoreError, match="epoch0001.npz"):
        store.read_predictions(0, "train", 1)
    with pytest.raises(RecordStoreError, match="epoch0002.npz"):
        store.read_predictions(0, "train", 2)


def test_write_validation(tmp_path):
    store = make_store(tmp_path / "w")
    with pytest.raises(ValueError, match="outside"):
        store.write_epoch(0, "train", 1, np.array([0, 1, 2, 3, 5, 0]))
    with pytest.raises(ValueError, match="outside"):
        store.write_epoch(0, "train", 1, np.array([0, 1, 2, 3, -1, 0]))
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        store.write_epoch(0, "train", 1, np.zeros(5, dtype=int))
    with pytest.raises(TypeError, match="integer"):
        store.write_epoch(0, "train", 1, np.zeros(6))
    with pytest.raises(ValueError, match="network"):
        store.write_epoch(K, "train", 1, TARGETS)
    with pytest.raises(ValueError, match="epoch"):
        store.write_epoch(0, "train", 0, TARGETS)
    with pytest.raises(ValueError, match="epoch"):
        store.write_epoch(0, "train", E + 1, TARGETS)
    with pytest.raises(KeyError, match="valid"):
        store.write_epoch(0, "valid", 1, TARGETS)
    assert not any((tmp_path / "w").rglob("epoch*.npz"))


def test_create_validation(tmp_path):
    with pytest.raises(ValueError, match="targets outside"):
        make_store(tmp_path / "x", splits={"train": (IDS, TARGETS + 1)})
    with pytest.raises(ValueError, match="unique"):
        make_store(tmp_path / "x", splits={"train": (np.zeros(6, int), TARGETS)})
    with pytest.raises(TypeError, match="targets"):
        make_store(tmp_path / "x", splits={"train": (IDS, TARGETS[:5])})
    with pytest.raises(ValueError, match="num_networks"):
        make_store(tmp_path / "x", num_networks=0)
    assert not (tmp_path / "x" / "meta.json").exists()


# Hand-made single-label run: K=3 networks, E=3 epochs, N=6 examples.
PREDS = np.array([
    # epoch 1
    [[0, 2, 2, 0, 1, 1],
     [0, 1, 3, 0, 4, 1],
     [1, 1, 3, 0, 3, 1]],
    # epoch 2
    [[0, 1, 2, 0, 4, 1],
     [0, 1, 2, 3, 4, 2],
     [0, 1, 3, 3, 4, 3]],
    # epoch 3
    [[0, 1, 2, 3, 4, 1],
     [0, 1, 2, 3, 4, 1],
     [0, 1, 2, 3, 0, 1]],
])


def filled_store(path, with_true_prob=False):
    store = make_store(path, num_epochs=3, with_true_prob=with_true_prob)
    for t in range(3):
        for k in range(K):
            prob = np.full(6, (t + k) / 10) if with_true_prob else None
            store.write_epoch(k, "train", t + 1, PREDS[t, k], true_prob=prob)
    return store


def test_agreement_table_matches_hand_and_epoch_summary(tmp_path):
    store = filled_store(tmp_path / "a")
    table = agreement_table(store, "train")
    assert list(table["epoch"]) == [1, 2, 3]
    # Epoch 1 correctness (targets 0 1 2 3 4 0):
    #   net0: 1 0 1 0 0 0 ; net1: 1 1 0 0 1 0 ; net2: 0 1 0 0 0 0
    # all right: none; any right: ex 0, 1, 2, 4 -> TPa 0/4 = 0.
    row = table.iloc[0]
    assert row["tpa"] == 0.0 and row["n_any_correct"] == 4 and row["n_all_correct"] == 0
    assert row["mean_acc"] == pytest.approx((2 + 3 + 1) / 18)
    # ex 3: all predict 0 vs target 3 -> fp; ex 5: all predict 1 vs 0 -> fp; 6 examples have
    # at least one wrong network -> 2/6.
    assert row["fp_agreement"] == pytest.approx(2 / 6)
    # Epoch 3: all right on 0, 1, 2, 3; ex 4: two right; ex 5 all wrong (1, same label).
    row = table.iloc[2]
    assert row["tpa"] == pytest.approx(4 / 5)
    assert row["fp_agreement"] == pytest.approx(1 / 2)
    assert row["lower_bound"] == pytest.approx(1 - (1 / 6 + 1 / 6 + 2 / 6))
    for t in range(3):
        expected = epoch_summary(PREDS[t], PREDS[t] == TARGETS)
        got = table.iloc[t].to_dict()
        for key, value in expected.items():
            assert got[key] == pytest.approx(value), key
    only = agreement_table(store, "train", epochs=[2])
    assert list(only["epoch"]) == [2]
    assert len(agreement_table(store, "test")) == 0


def test_example_dynamics_table(tmp_path):
    store = filled_store(tmp_path / "d", with_true_prob=True)
    table = example_dynamics_table(store, "train")
    assert isinstance(table, pd.DataFrame) and len(table) == 6
    np.testing.assert_array_equal(table["example_id"], IDS)
    np.testing.assert_array_equal(table["target"], TARGETS)
    # ex 0: all right from 2; ex 1: from 2; ex 2: from 3; ex 3: from 3; ex 4, 5: never.
    # Never is a missing value (nullable Int16), not -1.
    assert table["agreed_from_epoch"].dtype == "Int16"
    assert table["agreed_from_epoch"].tolist() == [2, 2, 3, 3, pd.NA, pd.NA]
    assert table["first_correct_epoch_2"].tolist() == [2, 1, 3, 2, 2, pd.NA]
    # net 2 on ex 4: wrong, right (4), wrong (0) -> forgotten once; net 1 on ex 1 never forgets
    np.testing.assert_array_equal(table["forgetting_events_2"], [0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(table["forgetting_events"], [0, 0, 0, 0, 1, 0])
    dyn = example_dynamics(PREDS == TARGETS)
    np.testing.assert_array_equal(table["agreed_from_epoch"], dyn["agreed_from_epoch"])
    for k in range(K):
        np.testing.assert_array_equal(table[f"first_correct_epoch_{k}"],
                                      dyn["first_correct_epoch"][:, k])
    np.testing.assert_allclose(table["hacohen_agreement_last"], hacohen_agreement(PREDS[-1]))
    np.testing.assert_array_equal(table["fp_agreement_last"],
                                  [False, False, False, False, False, True])
    # true_prob (t + k) / 10 over t in 0..2, k in 0..2: values 0 .1 .2 .1 .2 .3 .2 .3 .4
    vals = np.array([0, .1, .2, .1, .2, .3, .2, .3, .4], dtype=np.float16).astype(float)
    np.testing.assert_allclose(table["mean_true_prob"], vals.mean(), rtol=1e-6)
    np.testing.assert_allclose(table["std_true_prob"], vals.std(), rtol=1e-6)
    with pytest.raises(RecordStoreError):
        example_dynamics_table(store, "test")


def test_epoch_record_is_dataclass(tmp_path):
    store = filled_store(tmp_path / "e")
    rec = next(store.iter_epochs("train", epochs=[3]))
    assert isinstance(rec, EpochRecord) and rec.epoch == 3
    assert rec.predictions.shape == (K, 6) and rec.predictions.dtype == np.int16
    np.testing.assert_array_equal(rec.correct, PREDS[2] == TARGETS)


def test_multilabel_tables(tmp_path):
    targets = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]], dtype=bool)
    store = RecordStore.create(tmp_path / "ml", num_networks=2, num_epochs=2, num_classes=3,
                               multilabel=True, splits={"train": (np.arange(3), targets)})
    other = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=bool)
    store.write_epoch(0, "train", 1, targets)
    store.write_epoch(1, "train", 1, other)  # ex 0 missing a label, ex 2 all wrong
    store.write_epoch(0, "train", 2, targets)
    store.write_epoch(1, "train", 2, targets)
    table = agreement_table(store, "train")
    # epoch 1: all right on ex 1, any right on 0, 1, 2 -> 1/3
    assert table["tpa"].tolist() == pytest.approx([1 / 3, 1.0])
    dyn = example_dynamics_table(store, "train")
    assert "target" not in dyn.columns
    np.testing.assert_array_equal(dyn["agreed_from_epoch"], [2, 1, 2])

"""The compact record encoding: same predictions as plain, smaller files, safe conversion."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from agreement_core import records
from agreement_core.agreement import agreement_table, example_dynamics_table
from agreement_core.data.labels import is_correct
from agreement_core.errors import RecordStoreError
from agreement_core.records import RecordStore, compact_store

K, E, C, N = 3, 4, 10, 500
RNG = np.random.default_rng(7)
TARGETS = RNG.integers(0, C, size=N)
IDS = np.arange(N) + 1000


def predictions(seed):
    """Predictions right on a growing share of the examples, as in training."""
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(K):
        for t in range(1, E + 1):
            pred = rng.integers(0, C, size=N)
            right = rng.random(N) < 0.2 * t
            out[k, t] = np.where(right, TARGETS, pred)
    return out


def filled(path, preds, **kw):
    store = RecordStore.create(path, num_networks=K, num_epochs=E, num_classes=C,
                               splits={"train": (IDS, TARGETS)}, **kw)
    for (k, t), pred in preds.items():
        prob = np.full(N, 0.5) if kw.get("with_true_prob") else None
        store.write_epoch(k, "train", t, pred, true_prob=prob)
    return store


def test_compact_store_reads_back_every_prediction_and_the_same_tables(tmp_path):
    preds = predictions(0)
    plain = filled(tmp_path / "plain", preds)
    compact = filled(tmp_path / "compact", preds, encoding="compact")
    again = RecordStore.open(tmp_path / "compact")
    assert again.encoding == "compact" and not again.with_true_prob
    for (k, t), pred in preds.items():
        np.testing.assert_array_equal(again.read_predictions(k, "train", t), pred)
        np.testing.assert_array_equal(again.correct("train", t)[k], pred == TARGETS)
    pd.testing.assert_frame_equal(agreement_table(compact, "train"),
                                  agreement_table(plain, "train"))
    pd.testing.assert_frame_equal(example_dynamics_table(compact, "train"),
                                  example_dynamics_table(plain, "train"))


def test_compact_files_are_smaller_once_most_predictions_are_right(tmp_path):
    n, rng = 20_000, np.random.default_rng(5)
    targets = rng.integers(0, C, size=n)
    pred = np.where(rng.random(n) < 0.9, targets, rng.integers(0, C, size=n))
    sizes = {}
    for encoding in ("plain", "compact"):
        store = RecordStore.create(tmp_path / encoding, num_networks=1, num_epochs=1,
                                   num_classes=C, splits={"train": (np.arange(n), targets)},
                                   encoding=encoding)
        store.write_epoch(0, "train", 1, pred)
        sizes[encoding] = store._epoch_path(0, "train", 1).stat().st_size
    assert sizes["compact"] < sizes["plain"] / 3


def test_compact_multilabel_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    targets = rng.random((40, 20)) < 0.2
    store = RecordStore.create(tmp_path / "m", num_networks=2, num_epochs=1, num_classes=20,
                               multilabel=True, splits={"train": (np.arange(40), targets)},
                               encoding="compact")
    pred = targets.copy()
    pred[::3] = rng.random((14, 20)) < 0.2
    store.write_epoch(0, "train", 1, pred)
    store.write_epoch(1, "train", 1, targets)
    np.testing.assert_array_equal(store.read_predictions(0, "train", 1), pred)
    np.testing.assert_array_equal(store.correct("train", 1),
                                  np.stack([is_correct(pred, targets), np.ones(40, bool)]))


def test_compact_refuses_true_prob_and_unknown_encodings(tmp_path):
    with pytest.raises(ValueError, match="compact encoding keeps no true_prob"):
        filled(tmp_path / "a", {}, encoding="compact", with_true_prob=True)
    with pytest.raises(ValueError, match="unknown encoding 'zip'"):
        filled(tmp_path / "b", {}, encoding="zip")
    store = filled(tmp_path / "c", {}, encoding="compact")
    with pytest.raises(ValueError, match="with_true_prob=False"):
        store.write_epoch(0, "train", 1, TARGETS, true_prob=np.ones(N))


def test_compact_store_converts_in_place_and_drops_only_true_prob(tmp_path):
    preds = predictions(1)
    filled(tmp_path / "s", preds, with_true_prob=True)
    before = agreement_table(RecordStore.open(tmp_path / "s"), "train")
    assert compact_store(tmp_path / "s") == K * E
    store = RecordStore.open(tmp_path / "s")
    assert store.encoding == "compact" and not store.with_true_prob
    assert store.meta["compacted"]["dropped"] == ["true_prob"]
    for (k, t), pred in preds.items():
        np.testing.assert_array_equal(store.read_predictions(k, "train", t), pred)
    pd.testing.assert_frame_equal(agreement_table(store, "train"), before)
    assert compact_store(tmp_path / "s") == 0  # already compact: nothing to do


def test_an_interrupted_compaction_leaves_a_plain_store_and_resumes(tmp_path, monkeypatch):
    preds = predictions(2)
    filled(tmp_path / "s", preds)
    real, calls = RecordStore.write_epoch, []

    def dies_on_the_fifth(self, *args, **kw):
        calls.append(args)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(self, *args, **kw)

    monkeypatch.setattr(RecordStore, "write_epoch", dies_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        compact_store(tmp_path / "s")
    monkeypatch.setattr(RecordStore, "write_epoch", real)
    half = RecordStore.open(tmp_path / "s")
    assert half.encoding == "plain"  # meta.json is written last
    with pytest.raises(RecordStoreError, match="interrupted compaction.*agreement_core compact"):
        half.read_predictions(0, "train", 1)  # compacted before the interruption
    assert compact_store(tmp_path / "s") == K * E - 4  # the four done are verified and kept
    store = RecordStore.open(tmp_path / "s")
    for (k, t), pred in preds.items():
        np.testing.assert_array_equal(store.read_predictions(k, "train", t), pred)


def test_a_compact_file_with_a_wrong_count_of_wrong_predictions_is_an_error(tmp_path):
    store = filled(tmp_path / "s", predictions(3), encoding="compact")
    path = store._epoch_path(1, "train", 2)
    arrays = dict(np.load(path))
    arrays["wrong_pred"] = arrays["wrong_pred"][:-1]
    records._write_record(path, store._epoch_identity(1, "train", 2), arrays)
    header = json.loads(np.load(path).zip.comment)
    assert header["arrays"]["wrong_pred"]["shape"] == [arrays["wrong_pred"].shape[0]]
    with pytest.raises(RecordStoreError, match="wrong predictions for"):
        store.read_predictions(1, "train", 2)
    with pytest.raises(RecordStoreError, match=str(path)):
        store.correct("train", 2)


def test_resuming_a_plain_store_as_compact_names_the_encoding(tmp_path):
    filled(tmp_path / "s", {})
    with pytest.raises(RecordStoreError, match="encoding: plain -> compact"):
        filled(tmp_path / "s", {}, encoding="compact", exist_ok=True)

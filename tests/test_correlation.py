"""Correlation of learning order with image statistics: curves, shares, Spearman tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from agreement_core.agreement import example_dynamics_table
from agreement_core.correlation import (
    agreement_curves,
    categorical_agreement_shares,
    correlation_table,
    rank_agreed_from,
    resample_spearman,
    spearman,
    spearman_test,
    tie_groups,
)
from agreement_core.records import RecordStore

C = 3


def make_store(path, correct, targets, ids=None):
    """A store whose network k is right on example n at epoch t iff ``correct[t-1, k, n]``."""
    correct = np.asarray(correct, dtype=bool)
    n_epochs, k_nets, n = correct.shape
    targets = np.asarray(targets, dtype=np.int64)
    ids = np.arange(n) if ids is None else np.asarray(ids)
    store = RecordStore.create(path, num_networks=k_nets, num_epochs=n_epochs, num_classes=C,
                               splits={"train": (ids, targets)})
    for t in range(n_epochs):
        for k in range(k_nets):
            store.write_epoch(k, "train", t + 1, np.where(correct[t, k], targets,
                                                           (targets + 1) % C))
    return store


# ---------------------------------------------------------------------- hand-made store
# 2 networks x 4 epochs x 5 examples (ids 10..50).
HAND = np.array([
    [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],  # epoch 1: acc 0, nothing agreed
    [[1, 1, 0, 0, 0], [1, 0, 0, 0, 0]],  # epoch 2: acc 0.3, agreed {10}
    [[1, 1, 1, 0, 0], [1, 1, 0, 1, 0]],  # epoch 3: acc 0.6, agreed {10, 20}
    [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]],  # epoch 4: acc 0.9, agreed {10, 20, 30, 40}
], dtype=bool)
HAND_IDS = np.array([10, 20, 30, 40, 50])
HAND_TARGETS = np.array([0, 1, 2, 0, 1])


@pytest.fixture
def hand_store(tmp_path):
    return make_store(tmp_path / "hand", HAND, HAND_TARGETS, HAND_IDS)


def hand_statistics(shuffle_seed=None):
    table = pd.DataFrame({
        "example_id": [10, 20, 30, 40, 50, 99],  # 99: not in the store, ignored
        "label": [0, 1, 2, 0, 1, 0],
        "s": [1.0, 2.0, 4.0, 8.0, 16.0, 1000.0],
        "t": [1.0, np.nan, 3.0, 5.0, 100.0, 1000.0],
        "kind": ["x", "y", "x", "y", "x", "y"],
    })
    if shuffle_seed is not None:
        table = table.sample(frac=1.0, random_state=shuffle_seed).reset_index(drop=True)
    return table


@pytest.mark.parametrize("shuffle_seed", [None, 3])
def test_curves_hand_computed(hand_store, shuffle_seed):
    table = agreement_curves(hand_store, "train", hand_statistics(shuffle_seed),
                             min_epoch=1, min_accuracy=0.25)
    # default columns: numeric, not example_id / label
    assert list(table.columns) == ["epoch", "mean_acc", "tpa", "lower_bound", "n_agreed",
                                   "s", "t"]
    assert table["epoch"].tolist() == [2, 3, 4]  # epoch 1 below min_accuracy
    assert table["mean_acc"].tolist() == pytest.approx([0.3, 0.6, 0.9])
    assert table["n_agreed"].tolist() == [1, 2, 4]
    assert table["s"].tolist() == pytest.approx([1.0, 1.5, 15 / 4])
    # NaN values are left out of the mean: epoch 3 is the mean of {1}
    assert table["t"].tolist() == pytest.approx([1.0, 1.0, 3.0])
    assert table["tpa"].tolist() == pytest.approx([1 / 2, 2 / 4, 4 / 5])
    assert table["lower_bound"].tolist() == pytest.approx([0.0, 0.2, 0.8])


def test_curves_share_the_agreement_table_numbers(hand_store):
    from agreement_core.agreement import agreement_table

    curves = agreement_curves(hand_store, "train", hand_statistics(), min_epoch=1,
                              min_accuracy=0.0).set_index("epoch")
    table = agreement_table(hand_store, "train").set_index("epoch")
    for column in ("tpa", "lower_bound"):
        assert curves[column].tolist() == table[column].tolist()  # exactly
    assert curves["n_agreed"].tolist() == table["n_all_correct"].tolist()
    # the curves' mean_acc is the pooled accuracy over all K x N predictions
    assert curves["mean_acc"].tolist() == [float(HAND[t].mean()) for t in range(4)]
    shares = categorical_agreement_shares(hand_store, "train", hand_statistics(), "kind",
                                          min_epoch=1, min_accuracy=0.0)
    assert (shares.groupby("epoch")["n_agreed"].sum() == table["n_all_correct"]).all()


def test_curves_filters(hand_store):
    stats_table = hand_statistics()
    assert agreement_curves(hand_store, "train", stats_table)["epoch"].tolist() == []
    table = agreement_curves(hand_store, "train", stats_table, "s", min_epoch=3)
    assert table["epoch"].tolist() == [3, 4]
    assert list(table.columns)[-1] == "s"
    table = agreement_curves(hand_store, "train", stats_table, ["s"], min_epoch=1,
                             min_accuracy=0.65)
    assert table["epoch"].tolist() == [4]
    # empty agreed set: mean is NaN
    table = agreement_curves(hand_store, "train", stats_table, ["s"], min_epoch=1,
                             min_accuracy=0.0)
    assert table["epoch"].tolist() == [1, 2, 3, 4]
    assert table["n_agreed"].iloc[0] == 0 and np.isnan(table["s"].iloc[0])


def test_curves_errors(hand_store):
    stats_table = hand_statistics()
    with pytest.raises(ValueError, match="lacks 2 of the 5 example ids"):
        agreement_curves(hand_store, "train", stats_table[~stats_table.example_id.isin([20, 40])])
    with pytest.raises(ValueError, match="unknown column"):
        agreement_curves(hand_store, "train", stats_table, ["nope"])
    with pytest.raises(ValueError, match="not numeric"):
        agreement_curves(hand_store, "train", stats_table, ["kind"])
    with pytest.raises(ValueError, match="example_id"):
        agreement_curves(hand_store, "train", stats_table.drop(columns="example_id"))
    with pytest.raises(ValueError, match="not unique"):
        agreement_curves(hand_store, "train", pd.concat([stats_table, stats_table]))
    with pytest.raises(ValueError, match="min_epoch"):
        agreement_curves(hand_store, "train", stats_table, min_epoch=0)
    with pytest.raises(ValueError, match="min_accuracy"):
        agreement_curves(hand_store, "train", stats_table, min_accuracy=20)
    with pytest.raises(ValueError, match="clash"):
        agreement_curves(hand_store, "train", stats_table.rename(columns={"s": "tpa"}))


def test_categorical_shares_hand_computed(hand_store):
    factors = pd.DataFrame({"example_id": [50, 40, 30, 20, 10],
                            "kind": ["b", "b", "b", "a", "a"]})
    table = categorical_agreement_shares(hand_store, "train", factors, "kind", min_epoch=1,
                                         min_accuracy=0.25)
    assert list(table.columns) == ["epoch", "value", "share", "n_value", "n_agreed"]
    assert table["epoch"].tolist() == [2, 2, 3, 3, 4, 4]
    assert table["value"].tolist() == ["a", "b"] * 3
    assert table["n_value"].tolist() == [2, 3] * 3
    # agreed: epoch 2 {10}, epoch 3 {10, 20}, epoch 4 {10, 20, 30, 40}
    assert table["share"].tolist() == pytest.approx([1 / 2, 0, 1, 0, 1, 2 / 3])
    assert table["n_agreed"].tolist() == [1, 0, 2, 0, 2, 2]


def test_categorical_shares_categorical_dtype_and_missing(hand_store):
    values = pd.Categorical(["a", "a", "b", "b", None], categories=["b", "a", "z"])
    factors = pd.DataFrame({"example_id": HAND_IDS, "kind": values})
    table = categorical_agreement_shares(hand_store, "train", factors, "kind", min_epoch=4)
    assert table["value"].tolist() == ["b", "a", "z"]  # category order, unused kept
    assert table["n_value"].tolist() == [2, 2, 0]  # id 50 has no value
    share = table["share"].to_numpy()
    assert share[:2].tolist() == [1.0, 1.0] and np.isnan(share[2])


def test_categorical_shares_errors(hand_store):
    factors = pd.DataFrame({"example_id": HAND_IDS, "kind": list("aabbb")})
    with pytest.raises(ValueError, match="unknown column 'pose'"):
        categorical_agreement_shares(hand_store, "train", factors, "pose")
    with pytest.raises(ValueError, match="lacks 1 of the 5"):
        categorical_agreement_shares(hand_store, "train", factors.iloc[1:], "kind")
    empty = categorical_agreement_shares(hand_store, "train", factors, "kind", min_epoch=5)
    assert empty.empty and list(empty.columns) == ["epoch", "value", "share", "n_value",
                                                   "n_agreed"]


# ---------------------------------------------------------------------- ranks, Spearman
def test_rank_agreed_from():
    got = rank_agreed_from(np.array([3, 1, 10], dtype=np.int16), 10)
    assert got.tolist() == [3, 1, 10] and got.dtype == np.int64
    # never agreed is missing, in any of its encodings, and ranks last (E + 1)
    assert rank_agreed_from(np.array([2.0, np.nan]), 4).tolist() == [2, 5]
    nullable = pd.Series([3, None, 1, 10], dtype="Int16")
    assert rank_agreed_from(nullable, 10).tolist() == [3, 11, 1, 10]
    assert rank_agreed_from(nullable.to_numpy(), 10).tolist() == [3, 11, 1, 10]  # object
    assert rank_agreed_from(np.ma.array([3, 7], mask=[False, True]), 10).tolist() == [3, 11]
    for bad in ([0], [11], [-2]):
        with pytest.raises(ValueError, match=r"missing \(never agreed\) or in \[1, 10\]"):
            rank_agreed_from(np.array(bad), 10)
    # the old sentinel is rejected, with the way out in the message
    for old in (np.array([3, -1], dtype=np.int16), pd.Series([-1, None], dtype="Int16")):
        with pytest.raises(ValueError, match="-1, the old encoding"):
            rank_agreed_from(old, 10)
    with pytest.raises(TypeError):
        rank_agreed_from(np.array([True, False]), 10)
    with pytest.raises(ValueError, match="integers"):
        rank_agreed_from(np.array([1.5]), 10)
    with pytest.raises(ValueError, match="num_epochs"):
        rank_agreed_from(np.array([1]), 0)


def test_spearman_matches_scipy():
    rng = np.random.default_rng(0)
    for n in (2, 5, 50, 500):
        x = rng.integers(0, 4, n).astype(float)  # many ties
        y = rng.normal(size=n) + x
        y[: n // 3] = y[0]
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_spearman_nan_pairs_dropped_and_degenerate():
    x = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 3.0])
    y = np.array([2.0, 1.0, 7.0, np.nan, 9.0, 4.0])
    keep = [0, 1, 4, 5]
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x[keep], y[keep]).statistic)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert np.isnan(spearman([1.0], [2.0]))
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2, 3], [1, 2])
    with pytest.raises(TypeError, match="numeric"):
        spearman(["a", "b"], [1, 2])


def testresample_spearman_equals_ranking_each_resample():
    rng = np.random.default_rng(1)
    n = 41
    x = rng.integers(0, 5, n).astype(float)
    y = rng.normal(size=n)
    y[:6] = y[6]
    idx = rng.integers(0, n, size=(30, n))
    w = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(float)
    got = resample_spearman(w, tie_groups(x), tie_groups(y))
    expected = [stats.spearmanr(x[row], y[row]).statistic for row in idx]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # Resamples of different sizes (a subset of the examples of each resample, e.g. a class).
    keep = np.arange(n) % 3 == 0
    sub = resample_spearman(w[:, keep], tie_groups(x[keep]), tie_groups(y[keep]))
    expected = [stats.spearmanr(x[row[keep[row]]], y[row[keep[row]]]).statistic for row in idx]
    np.testing.assert_allclose(sub, expected, atol=1e-12)


def test_spearman_test_deterministic_and_valid():
    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    y = x + rng.normal(size=300) * 2
    a = spearman_test(x, y, n_boot=200, n_perm=200, seed=7)
    b = spearman_test(x, y, n_boot=200, n_perm=200, seed=7)
    c = spearman_test(x, y, n_boot=200, n_perm=200, seed=8)
    assert a == b
    assert a["ci_low"] != c["ci_low"]
    assert a["rho"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert a["ci_low"] < a["rho"] < a["ci_high"]
    assert a["p_value"] == pytest.approx(1 / 201)  # no permutation as extreme: (0 + 1) / 201
    assert a["n"] == 300 and a["n_groups"] == 1
    none = spearman_test(x, y, n_boot=0, n_perm=0)
    assert np.isnan(none["ci_low"]) and np.isnan(none["p_value"])
    assert none["rho"] == a["rho"]


def test_spearman_test_null_p_value_not_small():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=200), rng.normal(size=200)
    res = spearman_test(x, y, n_boot=200, n_perm=500, seed=0)
    assert res["ci_low"] < 0 < res["ci_high"]
    assert res["p_value"] > 0.05
    assert res["p_value"] >= 1 / 501


def test_spearman_test_groups():
    rng = np.random.default_rng(4)
    groups = np.repeat(["a", "b", "c", "d", "e"], [40, 60, 50, 2, 30])
    x = rng.normal(size=groups.size)
    y = x + rng.normal(size=groups.size)
    x[groups == "e"] = 1.0  # constant: skipped; "d" has 2 examples: skipped
    res = spearman_test(x, y, groups=groups, n_boot=100, n_perm=100, seed=0)
    per_group = [stats.spearmanr(x[groups == g], y[groups == g]).statistic for g in "abc"]
    assert res["rho"] == pytest.approx(np.mean(per_group))
    assert res["n_groups"] == 3 and res["n"] == 150
    assert res["ci_low"] < res["rho"] < res["ci_high"]
    with pytest.raises(ValueError, match="groups must be 1-D"):
        spearman_test(x, y, groups=groups[:-1])


def test_spearman_test_bad_arguments():
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="same length"):
        spearman_test(x, x[:-1])
    with pytest.raises(ValueError, match="n_boot"):
        spearman_test(x, x, n_boot=-1)
    with pytest.raises(ValueError, match="n_perm"):
        spearman_test(x, x, n_perm=1.5)
    with pytest.raises(ValueError, match="confidence"):
        spearman_test(x, x, confidence=1.0)
    degenerate = spearman_test([1.0, 2.0], [2.0, 1.0])  # fewer than 3 pairs
    assert np.isnan(degenerate["rho"]) and degenerate["n"] == 0


# ---------------------------------------------------------------------- planted structure
E = 10


def planted_store(tmp_path, order_score, classes, seed=0):
    """K=3 networks; example n is right (for good) from epoch ~ 1 + 9 * order_score[n]."""
    rng = np.random.default_rng(seed)
    n = order_score.size
    start = 1 + 9 * order_score + rng.normal(0, 0.7, n)
    # each network starts within one epoch of the example's start; > E: never agreed
    nets = np.round(start[None, :] + rng.uniform(0, 1, (3, n))).astype(int)
    epochs = np.arange(1, E + 1)[:, None, None]
    correct = epochs >= nets[None]
    return make_store(tmp_path / "planted", correct, classes)


def test_correlation_table_planted(tmp_path):
    rng = np.random.default_rng(5)
    n = 400
    stat = rng.uniform(0, 1, n)
    classes = rng.integers(0, C, n)
    store = planted_store(tmp_path, stat, classes)
    dynamics = example_dynamics_table(store, "train")
    assert dynamics["agreed_from_epoch"].dtype == "Int16"
    assert dynamics["agreed_from_epoch"].isna().any()  # the never-agreed case is exercised
    statistics = pd.DataFrame({"example_id": np.arange(n), "label": classes, "stat": stat,
                               "shuffled": rng.permutation(stat)})
    statistics = statistics.sample(frac=1.0, random_state=0)  # aligned by id, not by row
    table = correlation_table(dynamics, statistics, num_epochs=E, n_boot=300, n_perm=300)
    assert list(table.columns) == ["statistic", "scope", "rho", "ci_low", "ci_high",
                                   "p_value", "n", "n_groups"]
    assert table[["statistic", "scope"]].values.tolist() == [
        ["stat", "all"], ["stat", "within_class"],
        ["shuffled", "all"], ["shuffled", "within_class"]]
    rows = table.set_index(["statistic", "scope"])
    for scope in ("all", "within_class"):
        planted = rows.loc[("stat", scope)]
        assert planted["rho"] > 0.8
        assert planted["ci_low"] > 0 and planted["p_value"] < 0.01
        null = rows.loc[("shuffled", scope)]
        assert null["ci_low"] < 0 < null["ci_high"]
        assert null["p_value"] > 0.01
    assert rows.loc[("stat", "all"), "n"] == n
    assert rows.loc[("stat", "within_class"), "n_groups"] == C
    expected = spearman(stat, rank_agreed_from(dynamics["agreed_from_epoch"], E))
    assert rows.loc[("stat", "all"), "rho"] == pytest.approx(expected)
    # never agreed ranks last: the same rho as with "never" written as epoch E + 1
    filled = dynamics["agreed_from_epoch"].fillna(E + 1).to_numpy(dtype=float)
    assert rows.loc[("stat", "all"), "rho"] == pytest.approx(spearman(stat, filled))


def test_correlation_table_class_confound(tmp_path):
    """Order depends only on the class; a statistic differing only between classes
    correlates over all examples but not within classes."""
    rng = np.random.default_rng(6)
    n = 300
    classes = rng.integers(0, C, n)
    score = classes / (C - 1) * 0.8 + rng.uniform(0, 0.2, n)  # noise unrelated to stats
    store = planted_store(tmp_path, score, classes, seed=1)
    dynamics = example_dynamics_table(store, "train")
    class_stat = classes * 1.5
    statistics = pd.DataFrame({"example_id": np.arange(n), "class_stat": class_stat,
                               "class_stat_noisy": class_stat + rng.uniform(0, 0.5, n)})
    table = correlation_table(dynamics, statistics, num_epochs=E, n_boot=200, n_perm=200)
    rows = table.set_index(["statistic", "scope"])
    for name in ("class_stat", "class_stat_noisy"):
        assert rows.loc[(name, "all"), "rho"] > 0.7
        assert rows.loc[(name, "all"), "p_value"] < 0.01
    # Constant within every class: no usable class, so the within-class rho is NaN.
    const = rows.loc[("class_stat", "within_class")]
    assert np.isnan(const["rho"]) and np.isnan(const["ci_low"]) and np.isnan(const["p_value"])
    assert const["n"] == 0 and const["n_groups"] == 0
    # Varying within classes only by noise: within-class rho ~ 0, CI covers 0.
    noisy = rows.loc[("class_stat_noisy", "within_class")]
    assert abs(noisy["rho"]) < 0.2 and noisy["ci_low"] < 0 < noisy["ci_high"]


def test_correlation_table_without_labels_and_errors():
    dynamics = pd.DataFrame({"example_id": [3, 1, 2, 0],
                             "agreed_from_epoch": pd.array([1, None, 2, 3], dtype="Int16")})
    statistics = pd.DataFrame({"example_id": [0, 1, 2, 3], "s": [3.0, 4.0, 2.0, 1.0]})
    table = correlation_table(dynamics, statistics, num_epochs=3, n_boot=50, n_perm=50)
    assert table["scope"].tolist() == ["all"]  # no target column: no within-class row
    # aligned by id: s = [1, 4, 2, 3] against order [1, 4, 2, 3] -> rho 1
    assert table["rho"].iloc[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown column"):
        correlation_table(dynamics, statistics, ["x"], num_epochs=3)
    with pytest.raises(ValueError, match="lacks 1 of the 4 example ids"):
        correlation_table(dynamics, statistics.iloc[1:], num_epochs=3)
    with pytest.raises(ValueError, match="agreed_from_epoch"):
        correlation_table(dynamics.drop(columns="agreed_from_epoch"), statistics,
                          num_epochs=3)
    with pytest.raises(ValueError, match=r"or in \[1, 2\]"):
        correlation_table(dynamics, statistics, num_epochs=2)
    old_encoding = dynamics.assign(agreed_from_epoch=[1, -1, 2, 3])
    with pytest.raises(ValueError, match="old encoding"):
        correlation_table(old_encoding, statistics, num_epochs=3)
    with pytest.raises(TypeError, match="DataFrame"):
        correlation_table(dynamics.to_dict(), statistics, num_epochs=3)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_group_with_no_complete_pair_is_skipped_quietly():
    x = np.array([1.0, 2.0, 3.0, 4.0, np.nan, np.nan])
    y = np.array([1.0, 3.0, 2.0, 4.0, 5.0, 6.0])
    groups = np.array([0, 0, 0, 0, 1, 1])  # group 1 has no complete (x, y) pair
    result = spearman_test(x, y, groups=groups, n_boot=50, n_perm=50)
    assert result["n_groups"] == 1 and result["rho"] == pytest.approx(0.8)

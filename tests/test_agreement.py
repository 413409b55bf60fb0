"""Agreement metrics: hand-computed cases, the paper's lower-bound cases, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from agreement_core.agreement import (
    DynamicsAccumulator,
    epoch_summary,
    exact_match,
    example_dynamics,
    false_positive_agreement,
    hacohen_agreement,
    hacohen_tp_agreement,
    lower_bound,
    true_positive_agreement,
)

# 3 networks x 5 examples. Example 0: all right; 1: two right; 2: one right; 3: none right;
# 4: all right.
CORRECT = np.array([
    [1, 1, 1, 0, 1],
    [1, 1, 0, 0, 1],
    [1, 0, 0, 0, 1],
], dtype=bool)


def test_tpa_hand_computed():
    # all right: examples 0 and 4 -> 2; any right: 0, 1, 2, 4 -> 4.
    assert true_positive_agreement(CORRECT) == pytest.approx(2 / 4)
    assert true_positive_agreement(CORRECT.astype(np.int64)) == pytest.approx(0.5)


def test_tpa_zero_over_zero_is_zero():
    assert true_positive_agreement(np.zeros((3, 7), dtype=bool)) == 0.0


def test_tpa_validation():
    with pytest.raises(ValueError, match="shape"):
        true_positive_agreement(np.ones(5, dtype=bool))
    with pytest.raises(TypeError):
        true_positive_agreement(np.ones((2, 5), dtype=float))
    with pytest.raises(ValueError, match="0 and 1"):
        true_positive_agreement(np.full((2, 5), 2))


@pytest.mark.parametrize("k", [2, 3, 4, 5, 10])
def test_lower_bound_paper_cases_are_zero(k):
    # The paper: K networks at (K-1)/K accuracy can split the errors so none is shared.
    assert lower_bound(np.full(k, (k - 1) / k)) == pytest.approx(0.0, abs=1e-12)


def test_lower_bound_cases():
    assert lower_bound([0.5, 0.5]) == pytest.approx(0.0)
    assert lower_bound([2 / 3, 2 / 3, 2 / 3]) == pytest.approx(0.0, abs=1e-12)
    assert lower_bound([0.2, 0.1]) == 0.0  # errors sum far above 1: clipped
    # Above the bound: errors 0.1 + 0.2 = 0.3 -> at least 70 % shared.
    assert lower_bound([0.9, 0.8]) == pytest.approx(0.7)
    assert lower_bound([1.0, 1.0, 1.0]) == 1.0
    with pytest.raises(ValueError):
        lower_bound([1.2, 0.5])
    with pytest.raises(ValueError):
        lower_bound([])


def test_exact_match_multilabel():
    targets = np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)
    pred = np.array([
        [[1, 0, 1], [0, 1, 0]],   # perfect
        [[1, 0, 0], [0, 1, 0]],   # example 0: missing label 2
        [[1, 1, 1], [0, 1, 1]],   # both: an extra label
    ], dtype=bool)
    np.testing.assert_array_equal(
        exact_match(pred, targets), [[True, True], [False, True], [False, False]])
    np.testing.assert_array_equal(exact_match(pred[1], targets), [False, True])
    with pytest.raises(ValueError):
        exact_match(pred[:, :1], targets)
    with pytest.raises(TypeError):
        exact_match(pred.astype(int), targets)


def test_hacohen_agreement_hand_computed():
    pred = np.array([
        [0, 1, 2, 3],
        [0, 1, 5, 4],
        [0, 2, 5, 5],
        [1, 2, 6, 6],
    ])
    # example 0: label 0 by 3 of 4; 1: 1 and 2 twice each -> 2/4; 2: 5 twice; 3: all differ.
    np.testing.assert_allclose(hacohen_agreement(pred), [0.75, 0.5, 0.5, 0.25])


def test_hacohen_agreement_multilabel_sets():
    pred = np.array([
        [[1, 0], [1, 1]],
        [[1, 0], [0, 1]],
        [[0, 1], [1, 0]],
    ], dtype=bool)
    np.testing.assert_allclose(hacohen_agreement(pred), [2 / 3, 1 / 3])


def test_hacohen_tp_agreement():
    np.testing.assert_allclose(hacohen_tp_agreement(CORRECT), [1, 2 / 3, 1 / 3, 0, 1])


def test_false_positive_agreement():
    targets = np.array([0, 0, 0, 0])
    pred = np.array([
        [3, 1, 0, 2],
        [3, 2, 0, 2],
        [3, 1, 0, 0],
    ])
    correct = pred == targets
    # ex 0: all wrong, same label 3 -> yes; ex 1: all wrong, different labels -> no;
    # ex 2: all right -> no; ex 3: one right -> no.
    np.testing.assert_array_equal(false_positive_agreement(pred, correct),
                                  [True, False, False, False])


def test_false_positive_agreement_multilabel():
    targets = np.array([[1, 0, 0], [1, 0, 0]], dtype=bool)
    pred = np.array([
        [[0, 1, 0], [0, 1, 0]],
        [[0, 1, 0], [0, 0, 1]],
    ], dtype=bool)
    np.testing.assert_array_equal(
        false_positive_agreement(pred, exact_match(pred, targets)), [True, False])


def test_epoch_summary_hand_computed():
    targets = np.array([0, 1, 2, 3, 4])
    pred = np.array([
        [0, 1, 2, 9, 4],
        [0, 1, 7, 9, 4],
        [0, 5, 8, 9, 4],
    ])
    correct = pred == targets
    np.testing.assert_array_equal(correct, CORRECT)
    s = epoch_summary(pred, correct)
    accs = np.array([4, 3, 2]) / 5
    assert s["tpa"] == pytest.approx(0.5)
    assert s["lower_bound"] == pytest.approx(0.0)  # errors 0.2 + 0.4 + 0.6 >= 1
    assert s["mean_acc"] == pytest.approx(0.6)
    assert s["std_acc"] == pytest.approx(np.sqrt(((accs - 0.6) ** 2).mean()))  # ddof=0
    # hacohen: ex0 1, ex1 2/3, ex2 1/3 (2, 7, 8), ex3 1 (all 9), ex4 1
    assert s["hacohen_agreement"] == pytest.approx((1 + 2 / 3 + 1 / 3 + 1 + 1) / 5)
    assert s["hacohen_tp_agreement"] == pytest.approx(9 / 15)
    # at least one wrong: ex 1, 2, 3 -> 3; all wrong with same label: ex 3 -> 1/3
    assert s["fp_agreement"] == pytest.approx(1 / 3)
    assert (s["n_all_correct"], s["n_any_correct"], s["n_examples"]) == (2, 4, 5)


def test_epoch_summary_fp_zero_over_zero():
    pred = np.array([[1, 2], [1, 2]])
    s = epoch_summary(pred, np.ones((2, 2), dtype=bool))
    assert s["fp_agreement"] == 0.0
    assert s["tpa"] == 1.0 and s["lower_bound"] == 1.0


def test_epoch_summary_shape_mismatch():
    with pytest.raises(ValueError, match="match"):
        epoch_summary(np.zeros((2, 3), dtype=int), np.zeros((2, 4), dtype=bool))


# Three networks, four examples, five epochs; rows are epochs.
#   ex 0: all correct from epoch 1 -> agreed 1
#   ex 1: net 0 correct 1, forgotten 2, relearned 3..5; nets 1, 2 correct from 2 -> agreed 3
#   ex 2: never all correct at the last epoch (net 2 wrong at 5) -> never (NaN)
#   ex 3: nobody ever correct -> never agreed, never correct (NaN)
DYN = np.zeros((5, 3, 4), dtype=bool)
DYN[:, :, 0] = True
DYN[:, 0, 1] = [1, 0, 1, 1, 1]
DYN[:, 1, 1] = [0, 1, 1, 1, 1]
DYN[:, 2, 1] = [0, 1, 1, 1, 1]
DYN[:, 0, 2] = [1, 1, 1, 1, 1]
DYN[:, 1, 2] = [0, 0, 1, 1, 1]
DYN[:, 2, 2] = [1, 0, 1, 1, 0]


def test_example_dynamics_hand_made():
    d = example_dynamics(DYN)
    np.testing.assert_array_equal(d["agreed_from_epoch"], [1, 3, np.nan, np.nan])
    np.testing.assert_array_equal(d["first_correct_epoch"],
                                  [[1, 1, 1], [1, 2, 2], [1, 3, 1], [np.nan] * 3])
    np.testing.assert_array_equal(d["forgetting_events"],
                                  [[0, 0, 0], [1, 0, 0], [0, 0, 2], [0, 0, 0]])
    # "never" is a missing value (NaN in float64), not a sentinel epoch
    assert d["agreed_from_epoch"].dtype == np.float64
    assert d["first_correct_epoch"].dtype == np.float64
    assert d["forgetting_events"].dtype == np.int16
    assert np.isnan(d["agreed_from_epoch"]).tolist() == [False, False, True, True]
    assert not (d["agreed_from_epoch"] < 0).any() and not (d["first_correct_epoch"] < 0).any()
    # statistics over the agreed examples skip the never-agreed ones (-1 would give 0.5)
    assert np.nanmean(d["agreed_from_epoch"]) == 2.0
    assert np.nanmedian(d["first_correct_epoch"][:, 1]) == 2.0


def test_example_dynamics_table_never_is_nullable_int16(tmp_path):
    from agreement_core.agreement import example_dynamics_table
    from agreement_core.records import RecordStore

    n_epochs, k_nets, n = DYN.shape
    targets = np.zeros(n, dtype=np.int64)
    store = RecordStore.create(tmp_path / "s", num_networks=k_nets, num_epochs=n_epochs,
                               num_classes=2, splits={"train": (np.arange(n), targets)})
    for t in range(n_epochs):
        for k in range(k_nets):
            store.write_epoch(k, "train", t + 1, np.where(DYN[t, k], 0, 1))
    table = example_dynamics_table(store, "train")
    columns = ["agreed_from_epoch", *(f"first_correct_epoch_{k}" for k in range(k_nets))]
    for column in columns:
        assert table[column].dtype == "Int16", column
    assert table["agreed_from_epoch"].isna().tolist() == [False, False, True, True]
    assert table["agreed_from_epoch"].iloc[:2].tolist() == [1, 3]
    assert table["first_correct_epoch_1"].isna().tolist() == [False, False, False, True]
    assert table["agreed_from_epoch"].mean() == 2.0  # pandas skips <NA>
    # the table and the in-memory function agree, missing included
    dyn = example_dynamics(DYN)
    np.testing.assert_array_equal(
        table["agreed_from_epoch"].to_numpy(dtype=np.float64, na_value=np.nan),
        dyn["agreed_from_epoch"])
    assert table["forgetting_events_2"].tolist() == [0, 0, 2, 0]


def test_example_dynamics_agreement_broken_and_restored():
    # all correct at 1, someone wrong at 2, all correct 3..4 -> agreed from 3
    c = np.array([[[1], [1]], [[1], [0]], [[1], [1]], [[1], [1]]], dtype=bool)
    assert example_dynamics(c)["agreed_from_epoch"].tolist() == [3]


def _accumulate(c):
    acc = DynamicsAccumulator()
    for t in range(c.shape[0]):
        acc.update(t + 1, c[t])
    return acc.result()


def test_accumulator_never_is_nan():
    d = _accumulate(DYN)
    assert np.isnan(d["agreed_from_epoch"][2:]).all()
    assert np.isnan(d["first_correct_epoch"][3]).all()
    # agreement broken at the last epoch: back to never
    acc = DynamicsAccumulator()
    acc.update(1, np.ones((2, 1), dtype=bool))
    assert acc.result()["agreed_from_epoch"].tolist() == [1.0]
    acc.update(2, np.array([[True], [False]]))
    assert np.isnan(acc.result()["agreed_from_epoch"]).all()


def test_accumulator_matches_in_memory_hand_made():
    a, b = example_dynamics(DYN), _accumulate(DYN)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        assert a[key].dtype == b[key].dtype


def test_accumulator_order_enforced():
    acc = DynamicsAccumulator()
    with pytest.raises(ValueError, match="order"):
        acc.update(2, DYN[0])
    acc.update(1, DYN[0])
    with pytest.raises(ValueError, match="shape"):
        acc.update(2, DYN[0, :, :2])
    with pytest.raises(ValueError):
        DynamicsAccumulator().result()


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.bool_, st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 30))))
def test_accumulator_matches_in_memory_property(c):
    a, b = example_dynamics(c), _accumulate(c)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.bool_, st.tuples(st.integers(1, 6), st.integers(1, 40))))
def test_lower_bound_property(c):
    k, n = c.shape
    accs = c.mean(axis=1)
    n_all = c.all(axis=0).sum()
    assert n_all >= n * lower_bound(accs) - 1e-9
    assert 0.0 <= true_positive_agreement(c) <= 1.0
    assert true_positive_agreement(c) >= lower_bound(accs) - 1e-9


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.int16, st.tuples(st.integers(1, 6), st.integers(1, 40)),
                  elements=st.integers(0, 3)))
def test_hacohen_range_property(pred):
    k = pred.shape[0]
    h = hacohen_agreement(pred)
    assert np.all(h >= 1 / k - 1e-12) and np.all(h <= 1.0)


def test_epoch_record_caches_the_agreed_set_and_accuracies():
    from agreement_core.records import EpochRecord

    rec = EpochRecord(epoch=3, predictions=np.zeros(CORRECT.shape, np.int16), correct=CORRECT)
    np.testing.assert_array_equal(rec.agreed, [1, 0, 0, 0, 1])
    np.testing.assert_array_equal(rec.any_correct, [1, 1, 1, 0, 1])
    assert rec.num_correct.tolist() == [4, 3, 2]
    # bitwise the values the metrics used to compute themselves
    assert np.array_equal(rec.accuracies, CORRECT.mean(axis=1))
    assert rec.agreed is rec.agreed and rec.accuracies is rec.accuracies  # computed once
    with pytest.raises(ValueError):
        rec.agreed[0] = False  # shared by every consumer of the epoch: read-only
    empty = EpochRecord(epoch=1, predictions=np.zeros((2, 0), np.int16),
                        correct=np.zeros((2, 0), bool))
    assert empty.accuracies.tolist() == [0.0, 0.0] and empty.agreed.shape == (0,)


def test_epoch_agreement_is_the_summary_of_the_record():
    from agreement_core.agreement import epoch_agreement
    from agreement_core.records import EpochRecord

    rng = np.random.default_rng(4)
    for k, n in [(3, 5), (4, 37), (1, 9), (2, 0)]:
        correct = rng.random((k, n)) < 0.6
        pred = rng.integers(0, 3, (k, n))
        full = epoch_summary(pred, correct)
        row = epoch_agreement(EpochRecord(epoch=1, predictions=pred, correct=correct))
        for key, value in row.items():
            assert full[key] == value, key  # exactly, not approximately
        # the pooled accuracy is bitwise correct.mean(), what the curves report and filter on
        assert row["hacohen_tp_agreement"] == (float(correct.mean()) if n else 0.0)
        if n:
            assert row["tpa"] == true_positive_agreement(correct)
            assert row["lower_bound"] == lower_bound(correct.mean(axis=1))


def test_independent_agreement():
    from agreement_core.agreement import independent_agreement

    assert independent_agreement([1.0, 1.0]) == 1.0
    assert independent_agreement([0.0, 0.0]) == 0.0
    assert independent_agreement([0.5, 0.5]) == pytest.approx(0.25 / 0.75)
    rng = np.random.default_rng(0)  # simulated independent networks agree as predicted
    acc = np.array([0.7, 0.6, 0.8])
    correct = rng.random((3, 200_000)) < acc[:, None]
    assert true_positive_agreement(correct) == pytest.approx(independent_agreement(acc),
                                                             abs=0.005)
    with pytest.raises(ValueError):
        independent_agreement([1.5])

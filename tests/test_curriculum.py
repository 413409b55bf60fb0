"""Curriculum learning: pacing, orders, paced sampling, tiny real runs with resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from agreement_core.errors import ConfigError
from agreement_core.training import TrainConfig, curriculum, load_dataset
from agreement_core.training.curriculum import (
    CURVE_COLUMNS,
    MODES,
    agreement_scores,
    available_examples,
    balance_classes,
    compare_curricula,
    difficulty_order,
    exponential_pacing,
    loss_peaks,
    paced_batches,
    resolve_pacing,
    shuffled_batches,
    summarize_curricula,
    train_with_curriculum,
)

TINY = dict(dataset="cifar10", arch="fastnet_small", num_networks=2, epochs=2,
            train_subset=10, test_subset=5, batch_size=32)


# ------------------------------------------------------------------ pacing
@pytest.mark.parametrize("step, expected", [(0, 100), (9, 100), (10, 200), (19, 200),
                                            (20, 400), (30, 800), (39, 800), (40, 1000),
                                            (10_000, 1000)])
def test_exponential_pacing_hand_computed(step, expected):
    assert exponential_pacing(step, 1000, starting_fraction=0.1, increase=2,
                              step_length=10) == expected


def test_exponential_pacing_rounds_up_and_keeps_one():
    assert exponential_pacing(0, 15, starting_fraction=0.1, increase=2, step_length=5) == 2
    assert exponential_pacing(5, 15, starting_fraction=0.1, increase=2, step_length=5) == 3
    assert exponential_pacing(0, 3, starting_fraction=0.01) == 1
    assert exponential_pacing(10**6, 7, starting_fraction=0.5, increase=1.0) == 4  # no growth
    assert exponential_pacing(10**9, 7, starting_fraction=1e-3, increase=10.0) == 7


@pytest.mark.parametrize("kwargs", [dict(starting_fraction=0), dict(starting_fraction=1.5),
                                    dict(starting_fraction=-0.1), dict(increase=0.5),
                                    dict(step_length=0), dict(step_length=2.5)])
def test_exponential_pacing_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        exponential_pacing(0, 100, **kwargs)


def test_exponential_pacing_rejects_bad_step_and_size():
    with pytest.raises(ValueError):
        exponential_pacing(-1, 100)
    with pytest.raises(ValueError):
        exponential_pacing(0, 0)


def test_resolve_pacing_reaches_full_set_at_half_budget():
    pacing = resolve_pacing(None, total_steps=80)
    assert pacing == dict(starting_fraction=0.1, increase=2.0, step_length=10)  # 4 doublings
    assert exponential_pacing(39, 1000, **pacing) == 800
    assert exponential_pacing(40, 1000, **pacing) == 1000
    assert resolve_pacing(dict(step_length=7), 80)["step_length"] == 7
    assert resolve_pacing(None, total_steps=3)["step_length"] == 1
    with pytest.raises(ConfigError):
        resolve_pacing(dict(speed=3), 80)
    with pytest.raises(ValueError):
        resolve_pacing(dict(increase=0.5), 80)


def test_available_examples_keeps_one_batch():
    pacing = dict(starting_fraction=0.1, increase=2, step_length=10)
    assert available_examples(0, 1000, 32, pacing) == 100
    assert available_examples(0, 100, 32, pacing) == 32  # 10 paced, one batch kept
    assert available_examples(0, 20, 32, pacing) == 20
    assert available_examples(0, 100, 32, None) == 100


# ------------------------------------------------------------------ orders
def test_difficulty_order_modes():
    scores = np.array([3.0, 1.0, 2.0, 5.0, 4.0])
    assert difficulty_order(scores, mode="curriculum").tolist() == [1, 2, 0, 4, 3]
    assert difficulty_order(scores, mode="anti").tolist() == [3, 4, 0, 2, 1]
    random = difficulty_order(scores, mode="random", seed=3)
    assert sorted(random.tolist()) == [0, 1, 2, 3, 4]
    assert np.array_equal(random, difficulty_order(scores, mode="random", seed=3))
    assert sorted(difficulty_order(scores, mode="standard").tolist()) == [0, 1, 2, 3, 4]


def test_difficulty_order_ties_random_but_deterministic():
    scores = np.repeat([2.0, 1.0, np.inf], 50)
    orders = [difficulty_order(scores, mode="curriculum", seed=s) for s in (0, 0, 1)]
    assert np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[0], orders[2])
    for order in orders:
        assert np.array_equal(scores[order], np.sort(scores))
        assert sorted(order[:50].tolist()) == list(range(50, 100))  # all score-1 rows first
        assert not np.array_equal(order[:50], np.arange(50, 100))  # ties shuffled
    anti = difficulty_order(scores, mode="anti", seed=0)
    assert np.array_equal(scores[anti], np.sort(scores)[::-1])
    assert set(anti[:50]) == set(range(100, 150))
    random = [difficulty_order(scores, mode="random", seed=s) for s in range(3)]
    assert len({tuple(r) for r in random}) == 3


def test_difficulty_order_rejects_nan_and_bad_mode():
    with pytest.raises(ValueError, match="NaN"):
        difficulty_order([1.0, np.nan], mode="curriculum")
    with pytest.raises(ValueError, match="mode"):
        difficulty_order([1.0, 2.0], mode="easy")
    with pytest.raises(ValueError):
        difficulty_order(np.zeros((2, 2)), mode="curriculum")


def test_balance_classes_round_robin():
    labels = np.array([0, 0, 0, 1, 1, 2])
    order = np.array([0, 1, 3, 2, 4, 5])  # classes along it: 0 0 1 0 1 2
    assert balance_classes(order, labels).tolist() == [0, 3, 5, 1, 4, 2]
    scores = np.array([1.0, 2.0, 3.0, 1.5, 2.5, 9.0])
    balanced = difficulty_order(scores, mode="curriculum", labels=labels)
    assert balanced.tolist() == [0, 3, 5, 1, 4, 2]
    assert difficulty_order(scores, mode="anti", labels=labels).tolist() == [5, 2, 4, 1, 3, 0]
    with pytest.raises(ValueError):
        balance_classes(order, labels[:3])


def test_agreement_scores_never_agreed_is_hardest():
    # Never agreed is missing (<NA> in the nullable column), not -1.
    dynamics = pd.DataFrame({"example_id": [10, 11, 12, 13],
                             "agreed_from_epoch": pd.array([2, None, 1, 4], dtype="Int16")})
    ids = [13, 12, 11, 10]
    assert agreement_scores(dynamics, ids, num_epochs=4).tolist() == [4, 1, 5, 2]
    inf = agreement_scores(dynamics, ids)
    assert inf[2] == np.inf and inf[[0, 1, 3]].tolist() == [4, 1, 2]
    order = difficulty_order(inf, mode="curriculum")
    assert [ids[i] for i in order] == [12, 10, 13, 11]
    with pytest.raises(KeyError):
        agreement_scores(dynamics, [10, 99])
    old = dynamics.assign(agreed_from_epoch=np.array([2, -1, 1, 4], dtype=np.int16))
    with pytest.raises(ValueError, match="1-based epoch or missing"):
        agreement_scores(old, ids)  # the old -1 encoding is refused, not averaged


# ------------------------------------------------------------------ sampling
def test_paced_batches_draw_only_from_the_easiest():
    order = np.random.default_rng(0).permutation(1000)
    pacing = dict(starting_fraction=0.1, increase=2, step_length=10)
    generator = torch.Generator().manual_seed(0)
    batches = list(paced_batches(order, 50, 16, pacing, generator))
    assert len(batches) == 50
    rank = np.empty(1000, int)
    rank[order] = np.arange(1000)
    for step, batch in enumerate(batches):
        rows = batch.numpy()
        assert len(rows) == 16 and len(set(rows)) == 16  # a full batch of distinct rows
        assert rank[rows].max() < exponential_pacing(step, 1000, **pacing)
    # the pool does grow: later steps reach beyond the first stage
    assert max(rank[b.numpy()].max() for b in batches[40:]) >= 800
    again = list(paced_batches(order, 50, 16, pacing, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))


def test_paced_batches_small_pool_still_full_batches():
    batches = list(paced_batches(np.arange(100), 3, 32, dict(starting_fraction=0.1),
                                 torch.Generator().manual_seed(1)))
    assert all(len(b) == 32 and int(b.max()) < 32 for b in batches)
    unpaced = list(paced_batches(np.arange(10), 2, 4, None, torch.Generator().manual_seed(1)))
    assert all(len(b) == 4 for b in unpaced)


def test_shuffled_batches_are_epochs():
    batches = list(shuffled_batches(10, 8, 4, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4, 4, 2] * 2 + [4, 4]
    assert sorted(torch.cat(batches[:3]).tolist()) == list(range(10))
    assert sorted(torch.cat(batches[3:6]).tolist()) == list(range(10))


# ------------------------------------------------------------------ tiny real runs
@pytest.fixture(scope="module")
def tiny_scores(locations):
    ids = np.asarray(load_dataset(TrainConfig(**TINY), "train", locations).example_ids)
    rng = np.random.default_rng(0)
    return pd.Series(rng.integers(1, 4, len(ids)).astype(float), index=ids)


def test_curriculum_run_writes_curves_and_resumes(tmp_path, tiny_scores, monkeypatch, locations):
    config = TrainConfig(**TINY)
    run = dict(mode="curriculum", out=tmp_path, locations=locations,
               eval_every=3, progress=False)
    curves = train_with_curriculum(config, tiny_scores, **run)
    files = sorted(p.name for p in (tmp_path / "curriculum").glob("*.parquet"))
    assert files == ["net000.parquet", "net001.parquet"]
    assert list(curves.columns) == list(CURVE_COLUMNS)
    # 100 images, batch 32: 4 steps per epoch, 8 steps; evaluated at 0, 3, 6 and the end
    for k in (0, 1):
        assert curves[curves.network == k].step.tolist() == [0, 3, 6, 8]
    assert (curves.total_steps == 8).all() and (curves["mode"] == "curriculum").all()
    assert curves.available_fraction.iloc[0] == pytest.approx(0.32)  # 10% -> one batch
    assert curves.available_fraction.iloc[-1] == 1.0
    for column in ("test_accuracy", "train_accuracy", "available_accuracy"):
        assert curves[column].between(0, 1).all()

    def no_training(*args, **kwargs):
        raise AssertionError("retrained a finished network")

    monkeypatch.setattr(curriculum, "_train_curve", no_training)
    again = train_with_curriculum(config, tiny_scores, **run)
    pd.testing.assert_frame_equal(curves, again)
    with pytest.raises(ConfigError, match="other settings"):
        train_with_curriculum(config, tiny_scores * 2, **run)
    with pytest.raises(ConfigError, match="other settings"):
        train_with_curriculum(config, tiny_scores, balance=True, **run)


def test_compare_curricula_all_modes(tmp_path, tiny_scores, locations):
    config = TrainConfig(**{**TINY, "epochs": 1})
    curves = compare_curricula(config, tiny_scores.to_numpy(), tmp_path,
                               locations=locations, progress=False)
    assert list(curves["mode"].unique()) == list(MODES)
    for mode in MODES:
        assert (tmp_path / mode / "net001.parquet").is_file()
        part = curves[curves["mode"] == mode]
        assert sorted(part.network.unique()) == [0, 1] and part.step.max() == 4
    assert (curves[curves["mode"] == "standard"].available_fraction == 1).all()
    # network k starts from the same weights in every mode
    start = curves[curves.step == 0].groupby("network").test_accuracy.nunique()
    assert (start == 1).all()
    summary = summarize_curricula(curves)
    assert summary["mode"].tolist() == list(MODES) and (summary.networks == 2).all()
    assert summary.final_test_mean.between(0, 1).all()
    assert summary.auc_test_mean.between(0, 1).all()
    with pytest.raises(ConfigError):
        compare_curricula(config, None, tmp_path, modes=("curriculum",),
                          locations=locations, progress=False)
    with pytest.raises(ConfigError):
        compare_curricula(config, None, tmp_path, modes=("easy",))


def test_summarize_curricula_hand_computed():
    curves = pd.DataFrame({"mode": ["a"] * 6, "network": [0, 0, 0, 1, 1, 1],
                           "step": [0, 5, 10] * 2, "total_steps": 10,
                           "test_accuracy": [0.0, 0.5, 1.0, 0.0, 1.0, 1.0],
                           "train_accuracy": 0.5})
    row = summarize_curricula(curves).iloc[0]
    assert row.final_test_mean == 1.0 and row.final_test_std == 0.0
    # areas: 0.5 * (0.25 + 0.75) = 0.5 and 0.5 * (0.5 + 1.0) = 0.75
    assert row.auc_test_mean == pytest.approx(0.625)
    assert row.auc_test_std == pytest.approx(np.std([0.5, 0.75], ddof=1))


def test_loss_peaks_hand_computed():
    # "b" climbs over its first steps and ends near ln 4 (a uniform guess); "a" only descends
    curves = pd.DataFrame({"mode": ["a"] * 4 + ["b"] * 4, "network": 0,
                           "step": [0, 4, 8, 12] * 2, "lr": [0.1, 0.1, 0.05, 0.01] * 2,
                           "train_loss": [np.nan, 1.5, 0.8, 0.2, np.nan, 2.0, 4.0, 1.3]})
    peaks = loss_peaks(curves.iloc[::-1], num_classes=4).set_index("mode")
    assert peaks.loc["a"][["first_loss", "peak_loss", "peak_step", "final_loss"]].tolist() \
        == [1.5, 1.5, 4, 0.2]
    b = peaks.loc["b"]
    assert (b.first_loss, b.peak_loss, b.peak_step, b.peak_lr, b.final_loss) \
        == (2.0, 4.0, 8, 0.05, 1.3)
    assert b.peak_over_chance == pytest.approx(4.0 / np.log(4))
    assert b.final_over_chance == pytest.approx(1.3 / np.log(4))

"""The pruning experiment: orders by each score, kept subsets, resumable runs, the figure."""

import numpy as np
import pandas as pd
import pytest

from agreement_core import findings, plots
from agreement_core.data import CIFAR10
from agreement_core.errors import ConfigError
from agreement_core.records import RecordStore
from agreement_core.study.pruning import difficulty_order, kept_ids, run_pruning, subset_of


def _scores():
    return pd.DataFrame({
        "example_id": [10, 11, 12, 13, 14],
        "agreed_from_epoch": pd.array([3, None, 1, 2, 1], dtype="Int16"),
        "aum": [0.5, -2.0, 3.0, 1.0, 2.5],
        "el2n": [0.4, 1.2, 0.1, 0.3, 0.2],
        "forgetting_events": [1, 4, 0, 2, 0]})


def test_each_score_orders_easy_to_hard():
    scores = _scores()
    assert difficulty_order(scores, "aum", 3).tolist() == [12, 14, 13, 10, 11]
    assert difficulty_order(scores, "el2n", 3).tolist() == [12, 14, 13, 10, 11]
    # Agreed at epoch 1 (12, 14, in a seeded random order), 2, 3, never agreed last.
    order = difficulty_order(scores, "agreed_from_epoch", 3).tolist()
    assert set(order[:2]) == {12, 14} and order[2:] == [13, 10, 11]
    assert difficulty_order(scores, "forgetting_events", 3)[-1] == 11
    with pytest.raises(ConfigError, match="unknown pruning score"):
        difficulty_order(scores, "loss", 3)


def test_kept_subsets_by_rule():
    order = np.array([12, 14, 13, 10, 11])
    assert kept_ids(order, 0.4, "easiest").tolist() == [12, 14]
    assert kept_ids(order, 0.4, "hardest").tolist() == [10, 11]
    random = kept_ids(order, 0.6, "random", seed=3)
    assert len(random) == 3 and set(random) <= set(order)
    assert kept_ids(order, 0.6, "random", seed=3).tolist() == random.tolist()  # seeded
    with pytest.raises(ConfigError, match="fraction"):
        kept_ids(order, 0.0, "easiest")


def test_a_small_real_pruning_run_keeps_what_it_says_and_resumes(tmp_path, data_root, mirror):
    train = CIFAR10("test", root=data_root, mirror=mirror, subset=4)   # 40 real images
    test = CIFAR10("test", root=data_root, mirror=mirror, subset=2)
    scores = pd.DataFrame({"example_id": train.example_ids,
                           "aum": np.arange(len(train), dtype=float)})
    options = dict(score_names=("aum",), fractions=(0.5,), num_networks=1, epochs=1,
                   batch_size=16, num_epochs_scored=1)
    results = run_pruning(tmp_path, scores, train, test, **options)
    assert sorted(zip(results["rule"], results["kept"], strict=True)) == [
        ("easiest", 20), ("hardest", 20), ("random", 20)]
    easiest = RecordStore.open(tmp_path / "aum-easiest-0.5")
    # The easiest by AUM are the 20 with the largest margin: the last 20 rows here.
    assert easiest.example_ids("train").tolist() == sorted(train.example_ids[20:].tolist())
    assert (tmp_path / "results.csv").is_file()
    again = run_pruning(tmp_path, scores, train, test,
                        on_batch=lambda *a: pytest.fail("retrained"), **options)
    pd.testing.assert_frame_equal(again, results)
    fig = plots.pruning_figure(results)
    assert plots.smallest_font_pt(fig) >= plots.MIN_FONT_PT
    with pytest.raises(ConfigError, match="not in"):
        subset_of(train, np.array([999_999]))


def _results(easiest: float, hardest: float, random: float = 0.5) -> pd.DataFrame:
    rows = [("random", "random", random)]
    for score in ("aum", "el2n"):
        rows += [(score, "easiest", easiest), (score, "hardest", hardest)]
    return pd.DataFrame([{"score": s, "rule": r, "fraction": f, "kept": int(f * 1000),
                          "network": k, "test_accuracy": a + 0.01 * k}
                         for s, r, a in rows for f in (0.5, 0.9) for k in range(3)])


@pytest.mark.parametrize("easiest, hardest, says", [
    (0.6, 0.4, "keeping the easiest examples is the better rule"),
    (0.4, 0.6, "keeping the hardest examples is the better rule"),
    (0.6, 0.6, "neither rule wins"),
])
def test_pruning_headline_names_the_rule_that_beats_random(easiest, hardest, says):
    text = findings.pruning_headline(_results(easiest, hardest))
    assert says in text
    assert "Keeping 50% (500 images)" in text and "0.510" in text  # the random mean
    assert f"AUM {easiest - 0.5:+.3f}" in text
    assert "every training image" not in text
    assert findings.pruning_headline(_results(easiest, hardest), full_data=[0.7, 0.8]).endswith(
        "Trained on every training image, the networks reach 0.750.")


def test_pruning_figure_draws_the_whole_training_set_at_fraction_one():
    results = _results(0.6, 0.4)
    fig = plots.pruning_figure(results, full_data=[0.7, 0.72, 0.74])
    panel = fig.axes[0]
    points = [line.get_xydata() for line in panel.get_lines() if line.get_marker() == "s"]
    assert len(points) == 1 and points[0].tolist() == [[1.0, pytest.approx(0.72)]]
    assert "all training images" in [t.get_text() for t in fig.legends[0].get_texts()]
    assert not [line for line in plots.pruning_figure(results).axes[0].get_lines()
                if line.get_marker() == "s"]

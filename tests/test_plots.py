"""Shared plots render headless and draw what the paper's figures draw."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from agreement_core.agreement import agreement_table  # noqa: E402
from agreement_core.plots import agreement_figure, plot_agreement  # noqa: E402
from agreement_core.records import RecordStore  # noqa: E402


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    n, epochs = 200, 8
    targets = rng.integers(0, 3, n)
    store = RecordStore.create(tmp_path / "s", num_networks=3, num_epochs=epochs,
                               splits={"train": (np.arange(n), targets)}, num_classes=3)
    learned = 1 + rng.random(n) * epochs
    for k in range(3):
        for epoch in range(1, epochs + 1):
            correct = epoch >= learned + rng.normal(0, 0.3, n)
            store.write_epoch(k, "train", epoch, np.where(correct, targets, (targets + 1) % 3))
    stats = pd.DataFrame({"example_id": np.arange(n), "clutter": learned})
    return store, stats


def test_agreement_panel_draws_the_curves_and_areas(store):
    table = agreement_table(store[0], "train")
    ax = plot_agreement(table, title="train")
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["true-positive agreement", "lower bound", "mean accuracy ± std"]
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2
    assert np.allclose(ax.get_lines()[0].get_ydata(), table["tpa"])
    with pytest.raises(ValueError, match="lacks the columns"):
        plot_agreement(table.drop(columns=["tpa"]))


def test_figure_with_statistic_overlay_saves_a_png(store, tmp_path):
    records, stats = store
    fig = agreement_figure(records, statistics={"train": stats}, statistic="clutter",
                           min_epoch=2, min_accuracy=0.0, title="planted")
    twin = fig.axes[-1]
    assert twin.get_lines()[0].get_label() == "mean clutter of agreed examples"
    out = tmp_path / "figure.png"
    fig.savefig(out, dpi=60)
    assert out.stat().st_size > 5000


def test_shared_figure_functions_draw_one_panel_per_item(store):
    from agreement_core import plots
    from agreement_core.correlation import categorical_agreement_shares

    s, stats = store
    table = agreement_table(s, "train")
    fig = plots.agreement_panels({"a": table, "b": table, "c": table}, ncols=2)
    assert sum(ax.get_visible() for ax in fig.axes) == 3
    stats = stats.assign(other=-stats["clutter"], kind=np.where(stats["clutter"] > 4, "x", "y"))
    fig = plots.statistic_panels(s, "train", stats, ["clutter", "other", "missing"], min_epoch=1)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["train set: clutter", "train set: other"]
    shares = {"kind": categorical_agreement_shares(s, "train", stats, "kind", min_epoch=1)}
    fig = plots.categorical_panels(shares)
    assert len(fig.axes[0].get_lines()) == 2  # one line per value
    fig = plots.statistic_histograms({"train": stats}, ["clutter", "other", "absent"])
    assert len(fig.axes) == 2
    fig = plots.metric_comparison({"a": table, "b": table}, ["tpa", "fp_agreement"])
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2]
    with pytest.raises(ValueError, match="no agreement tables"):
        plots.agreement_panels({})


def test_correlation_forest_and_curriculum_curves():
    from agreement_core import plots

    table = pd.DataFrame({"statistic": ["a", "a"], "scope": ["all", "within_class"],
                          "rho": [-0.2, 0.1], "ci_low": [-0.3, 0.0], "ci_high": [-0.1, 0.2]})
    ax = plots.correlation_forest(table)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a / all", "a / within_class"]
    curves = pd.DataFrame({"mode": ["m"] * 4 + ["n"] * 4, "network": [0, 0, 1, 1] * 2,
                           "step": [0, 10] * 4, "total_steps": 10,
                           "test_accuracy": [0.1, 0.5, 0.1, 0.7, 0.1, 0.3, 0.1, 0.3]})
    fig = plots.curriculum_curves(curves)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["m", "n"]
    assert np.allclose(lines[0].get_ydata(), [0.1, 0.6])

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


@pytest.fixture
def shown(monkeypatch):
    """The (figure, caption) pairs that plots.show would display, closed and not displayed."""
    import matplotlib.pyplot as plt

    from agreement_core import plots

    calls = []

    def record(fig, caption=None):
        calls.append((fig, caption))
        plt.close(fig)

    monkeypatch.setattr(plots, "show", record)
    return calls


def test_correlation_figure_is_sized_to_its_rows():
    from agreement_core import plots

    table = pd.DataFrame({"split": "x train", "statistic": ["a", "a", "b"],
                          "scope": ["all", "within_class", "all"], "rho": [-0.2, 0.1, 0.3],
                          "ci_low": [-0.3, 0.0, 0.2], "ci_high": [-0.1, 0.2, 0.4]})
    fig = plots.correlation_figure(table, title="t")
    assert tuple(fig.get_size_inches()) == pytest.approx((7, 0.3 * 3 + 1.2))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "x train / a / all", "x train / a / within_class", "x train / b / all"]


def test_per_split_figures_draw_one_panel_per_store(store, shown):
    from agreement_core import plots

    s, _ = store
    plots.show_agreement_by_split({"batch 64": s, "batch 128": s}, "caption", splits=["train"])
    (fig, caption), = shown
    assert caption == "caption"
    assert [ax.get_title() for ax in fig.axes] == ["batch 64, train", "batch 128, train"]
    shown.clear()
    plots.show_metric_comparison_by_split({"online": s, "eval": s}, ["tpa", "mean_acc"], "c",
                                          splits=["train"], suptitle="CIFAR-10 {split} set")
    (fig, caption), = shown
    assert fig._suptitle.get_text() == "CIFAR-10 train set"
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2]
    assert np.allclose(fig.axes[0].get_lines()[0].get_ydata(),
                       agreement_table(s, "train")["tpa"])


def test_combined_agreement_panels_one_per_split(store):
    from agreement_core import plots
    from agreement_core.agreement import combined_agreement_table

    s, _ = store
    fig = plots.combined_agreement_panels([s, s], splits=["train"], network=1,
                                          title="one network of each, {split}")
    assert [ax.get_title() for ax in fig.axes] == ["one network of each, train"]
    table = combined_agreement_table([s, s], "train", network=1)
    assert np.allclose(fig.axes[0].get_lines()[0].get_ydata(), table["tpa"])


def test_statistic_panels_per_study_skip_studies_without_columns(store, shown):
    from types import SimpleNamespace

    from agreement_core import plots

    s, stats = store
    studies = {name: SimpleNamespace(store=s, statistics={"train": stats}, caption=name)
               for name in ("a", "b", "c")}
    plots.show_statistic_panels_per_study(studies, "train", {"a": ["clutter"], "c": ["clutter"]},
                                          min_epoch=1)
    assert [caption for _, caption in shown] == ["a", "c"]
    assert shown[0][0].axes[0].get_title() == "train set: clutter"


def test_scrubbers_and_unavailable_are_shown(store, monkeypatch, capsys):
    import IPython.display

    from agreement_core import plots, widgets
    from agreement_core.widgets import PlotlyHTML, scrubber_data

    s, stats = store
    images = np.zeros((s.num_examples("train"), 4, 4, 3), np.uint8)
    data = scrubber_data(s, "train", images, stats, caption="the study")
    displayed = []
    monkeypatch.setattr(IPython.display, "display", displayed.append)
    widgets.show_scrubbers({"toy train": data})
    assert isinstance(displayed[0], PlotlyHTML) and displayed[0].css_class == "epoch-scrubber"
    assert displayed[1].data == "*toy train set. the study*"
    plots.show_unavailable({"voc": "not here", "kth": "nor here"})
    plots.show_unavailable({})
    assert capsys.readouterr().out == "voc: not here\nkth: nor here\n"

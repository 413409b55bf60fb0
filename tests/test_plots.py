"""Shared plots render headless and draw what the paper's figures draw."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from agreement_core import plots  # noqa: E402
from agreement_core.agreement import agreement_table  # noqa: E402
from agreement_core.plots import agreement_figure, plot_agreement  # noqa: E402
from agreement_core.records import RecordStore  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _close_figures():
    """Every test's figures are closed after it (matplotlib keeps pyplot figures open)."""
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


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
    assert fig._suptitle is None  # the curves are drawn: nothing to explain
    fig = plots.statistic_panels(s, "train", stats, ["clutter"], min_epoch=1, min_accuracy=1.0)
    assert "no statistic curve: no epoch from 1 on reaches a mean accuracy of 100%" \
        in fig._suptitle.get_text()
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


def test_per_split_figures_show_their_caption_once(store, shown):
    """Fig. 8 printed the same caption under its train and its test figure."""
    from agreement_core import plots

    s, _ = store
    # The planted store has one split: drawn twice, it stands for the train and test figures.
    plots.show_agreement_by_split({"a": s}, "caption", splits=["train", "train"])
    assert [caption for _, caption in shown] == [None, "caption"]
    shown.clear()
    plots.show_metric_comparison_by_split({"a": s}, ["tpa"], "c", splits=["train", "train"])
    assert [caption for _, caption in shown] == [None, "c"]


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
    assert displayed[1].data == ("*toy train set. the study Click the figure (or tab to it): "
                                 "the arrow keys move the slider.*")
    assert "ArrowRight" in displayed[0].html()  # the keyboard and narrow-screen script
    plots.show_unavailable({"voc": "not here", "kth": "nor here"})
    plots.show_unavailable({})
    # A paragraph per entry (Markdown the page wraps), not a printed line in a code block.
    assert len(displayed) == 3 and capsys.readouterr().out == ""
    assert displayed[2].data == ("**Not shown here.** voc: not here\n\n"
                                 "**Not shown here.** kth: nor here")
    assert plots.unavailable_markdown({"kth": "extract it into <data root>"}) == (
        "**Not shown here.** kth: extract it into &lt;data root&gt;")


# ----------------------------------------------------------------- legible at page width
def _figures(store):
    """One figure of every kind the notebooks show, drawn from the planted store."""
    from agreement_core import plots
    from agreement_core.correlation import categorical_agreement_shares

    s, stats = store
    stats = stats.assign(other=-stats["clutter"], third=stats["clutter"] ** 2,
                         fourth=np.sqrt(stats["clutter"]),
                         kind=np.where(stats["clutter"] > 4, "x", "y"))
    table = agreement_table(s, "train")
    rng = np.random.default_rng(1)
    images = {"easy: agreed from epoch 1": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
              "voc_2008_000123: difficulty 2.31\nentropy 6.512\nsegments 23":
                  rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)}
    correlations = pd.DataFrame({"split": "cifar10 train", "statistic": ["a", "a"],
                                 "scope": ["all", "within_class"], "rho": [-0.2, 0.1],
                                 "ci_low": [-0.3, 0.0], "ci_high": [-0.1, 0.2]})
    curves = pd.DataFrame({"mode": ["m"] * 4, "network": [0, 0, 1, 1], "step": [0, 10] * 2,
                           "total_steps": 10, "test_accuracy": [0.1, 0.5, 0.1, 0.7]})
    return {
        "agreement_figure": plots.agreement_figure(s, statistics={"train": stats},
                                                   statistic="clutter", min_epoch=1,
                                                   title="a long title " * 12),
        "agreement_panels": plots.agreement_panels({f"batch {b}": table for b in range(4)},
                                                   ncols=4),
        "statistic_panels": plots.statistic_panels(s, "train", stats,
                                                   ["clutter", "other", "third", "fourth"],
                                                   ncols=3, min_epoch=1),
        "categorical_panels": plots.categorical_panels(
            {f"f{i}": categorical_agreement_shares(s, "train", stats, "kind", min_epoch=1)
             for i in range(3)}),
        "statistic_histograms": plots.statistic_histograms(
            {"cifar10 train": stats, "cifar10 test": stats},
            ["clutter", "other", "third", "fourth"]),
        "statistic_maps_figure": plots.statistic_maps_figure(images),
        "correlation_figure": plots.correlation_figure(correlations),
        "metric_comparison": plots.metric_comparison({"a": table, "b": table, "c": table},
                                                     ["fp_agreement", "hacohen_agreement",
                                                      "tpa"]),
        "curriculum_curves": plots.curriculum_curves(curves),
        **_order_figures(),
    }


def _order_figures():
    """The learning-order chapter's figures, from the committed tables."""
    from agreement_core import plots

    root = REPO / "results" / "full" / "hacohen"
    t = {p.stem: pd.read_csv(p) for p in root.glob("*/*.csv")}
    return {"order_reliability_figure": plots.order_reliability_figure(t["ceiling"],
                                                                       t["explained"]),
            "nested_figure": plots.nested_figure(t["nested"]),
            "synthetic_figure": plots.synthetic_figure(t["groups"], t["cross_groups"])}


def _check_fits(name: str, fig, width_in: float) -> None:
    """Shown at its natural size the figure is at most ``width_in`` wide (3% for the tight
    bounding box), no text is under MIN_FONT_PT points, every plotting panel has both axis
    labels."""
    from agreement_core import plots

    png, width = plots.figure_png(fig)
    assert width <= width_in * plots.CSS_PX_PER_IN * 1.03, (name, width_in, width)
    assert plots.smallest_font_pt(fig) >= plots.MIN_FONT_PT, (name, width_in)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        if ax.images:  # image panels: their column's title is on the first row
            continue
        twin = ax.get_ylabel() and not ax.get_xlabel()  # a statistic's right axis
        assert (ax.get_xlabel() or twin) and ax.get_ylabel(), (name, ax.get_title())


def test_every_figure_fits_the_page_and_the_phone_with_legible_text_and_labelled_axes(store):
    """Page width and fonts: shown at its natural size (at most the column's 7 inches), no
    figure has text under MIN_FONT_PT points (11.3 px); every plotting panel has both axis
    labels. The same for every figure drawn again for a phone (PHONE_WIDTH_IN), and there a
    grid of panels is one column."""
    import matplotlib.pyplot as plt

    from agreement_core import plots

    for name, fig in _figures(store).items():
        _check_fits(name, fig, plots.PAGE_WIDTH_IN)
        phone = plots.redraw(fig, plots.PHONE_WIDTH_IN)
        assert phone is not None, name
        _check_fits(name, phone, plots.PHONE_WIDTH_IN)
        if name in ("agreement_panels", "statistic_panels", "metric_comparison"):
            lefts = {round(ax.get_position().x0, 2) for ax in phone.axes
                     if ax.get_visible() and ax.get_ylabel() and ax.get_xlabel()}
            assert len(lefts) == 1, (name, lefts)  # one column of panels
        plt.close(fig)
        plt.close(phone)


def test_the_column_is_the_page_unless_a_block_says_otherwise():
    from agreement_core import plots

    assert plots.column_width() == plots.PAGE_WIDTH_IN
    with plots.column(plots.PHONE_WIDTH_IN):
        assert plots.column_width() == plots.PHONE_WIDTH_IN
    assert plots.column_width() == plots.PAGE_WIDTH_IN
    with pytest.raises(ValueError, match="wider than 0"):
        with plots.column(0):
            pass
    import matplotlib.pyplot as plt

    assert plots.redraw(plt.figure(), 4) is None  # not drawn by a figure function


def test_figure_png_records_the_smallest_text_and_its_display_width(store):
    import io

    from PIL import Image

    from agreement_core import plots

    fig = plots.agreement_figure(store[0])
    png, width = plots.figure_png(fig, dpi=150)
    image = Image.open(io.BytesIO(png))
    assert float(image.info[plots.MIN_FONT_KEY]) == pytest.approx(
        plots.smallest_font_pt(fig) * 150 / 72, abs=0.01)
    assert width == round(image.width * 96 / 150)


def _pictures(html_text: str) -> list[dict]:
    """The images of a figure_html <picture>: attributes and decoded PNG of each."""
    import base64
    import io
    import re

    from PIL import Image

    found = []
    for tag in re.findall(r"<(?:source|img) [^>]*>", html_text):
        attributes = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag))
        uri = attributes.get("srcset") or attributes["src"]
        png = base64.b64decode(uri.removeprefix("data:image/png;base64,"))
        attributes["image"] = Image.open(io.BytesIO(png))
        found.append(attributes)
    return found


def test_show_displays_the_png_at_its_natural_width(store, monkeypatch):
    import IPython.display

    from agreement_core import plots

    displayed = []
    monkeypatch.setattr(IPython.display, "display", displayed.append)
    plots.show(plots.agreement_figure(store[0], title="the title"), "the caption")
    figure, caption = displayed
    assert figure.data.startswith('<picture class="agreement-figure">')
    *_, image = _pictures(figure.data)
    assert image["image"].format == "PNG" and image["alt"] == "the title"
    assert abs(int(image["width"]) - 4.5 * 96) < 15  # one split: a 4.5-inch panel, 96 px/in
    assert int(image["width"]) == round(image["image"].width * 96 / plots.FIGURE_DPI)
    assert caption.data == "*the caption*"


def test_show_adds_a_phone_version_legible_on_a_phone(store, monkeypatch):
    """A grid of panels: the wide PNG on a page, a one-column PNG on screens too narrow to
    show the wide one's text at 9 px; shown in a 400-px window's column (368 px) and a
    360-px one's (328 px), the phone version's text is at least 9 px."""
    import IPython.display

    from agreement_core import plots

    displayed = []
    monkeypatch.setattr(IPython.display, "display", displayed.append)
    table = agreement_table(store[0], "train")
    plots.show(plots.agreement_panels({f"batch {b}": table for b in range(4)}, ncols=4))
    (figure,) = displayed
    phone, wide = _pictures(figure.data)
    text = {key: float(p["image"].info[plots.MIN_FONT_KEY]) * 96 / plots.FIGURE_DPI
            for key, p in (("phone", phone), ("wide", wide))}
    assert int(wide["width"]) > 600 and int(phone["width"]) <= plots.PHONE_WIDTH_IN * 96 * 1.03
    assert int(phone["height"]) > 2 * int(wide["height"])  # the panels one above the other
    breakpoint = int(phone["media"].removeprefix("(max-width: ").removesuffix("px)"))
    # Just wider than the breakpoint, the wide version's text is legible in the column.
    column = breakpoint + 1 - plots.COLUMN_MARGIN_PX
    assert text["wide"] * min(1, column / int(wide["width"])) >= plots.MIN_SHOWN_TEXT_PX
    for column in (368, 328):
        shown = text["phone"] * min(1, column / int(phone["width"]))
        assert shown >= plots.MIN_SHOWN_TEXT_PX, (column, shown)


def test_legends_name_the_colours(store):
    from matplotlib.colors import to_hex

    from agreement_core import plots

    s, stats = store
    fig = plots.agreement_figure(s, statistics={"train": stats}, statistic="clutter",
                                 min_epoch=1)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["agreement above the lower bound", "true-positive agreement (TPa)",
                     "lower bound of TPa", "mean accuracy ± std",
                     "mean statistic of the agreed examples (right axis)"]
    table = pd.DataFrame({"statistic": ["a", "a"], "scope": ["all", "within_class"],
                          "rho": [-0.2, 0.1], "ci_low": [-0.3, 0.0], "ci_high": [-0.1, 0.2]})
    ax = plots.correlation_forest(table)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["all examples", "within classes"]
    colours = [to_hex(h.get_color()) for h in legend.legend_handles]
    assert colours == [plots.AGREEMENT_COLOR, plots.STATISTIC_COLOR]


def test_dct_panel_draws_the_kept_coefficients_in_the_colour_its_title_names():
    from agreement_core import plots
    from agreement_core.statistics.maps import statistic_maps

    image = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    fig = plots.statistic_maps_figure({"one": image})
    dct = fig.axes[4]
    assert "orange: kept" in dct.get_title()
    overlay = dct.images[-1].get_array()
    kept = statistic_maps(image)["dct_kept"].astype(bool)
    assert kept.any() and not kept.all()
    orange = np.array(plots._rgb(plots.STATISTIC_COLOR))
    assert np.allclose(overlay[kept][:, :3], orange) and (overlay[kept][:, 3] > 0.5).all()
    assert (overlay[~kept][:, 3] == 0).all()  # the rest shows the grey log|c| map


def test_p_values_at_the_permutation_floor_read_as_a_bound():
    assert plots.p_value_text(1 / 1001, 1000) == "< 0.001"
    assert plots.p_value_text(0.0123456, 1000) == "0.0123"
    assert plots.p_value_text(float("nan"), 1000) == ""
    table = pd.DataFrame({"statistic": ["entropy"], "rho": [-0.1234], "ci_low": [-0.2],
                          "ci_high": [-0.05], "p_value": [1 / 201], "n": [500]})
    html = plots.correlation_view(table, n_perm=200).to_html()
    assert "&lt; 0.005" in html and "-0.123" in html


def test_the_verdict_box_quotes_numbers_and_reasons():
    from agreement_core.claims import CLAIM_COLUMNS

    nan = float("nan")
    base = dict.fromkeys(CLAIM_COLUMNS, nan)
    table = pd.DataFrame([
        {**base, "spec_id": "a", "claim_id": "a", "claim": "Agreement <exceeds> the bound",
         "paper": "Sec. 3", "quote": "We found agreement.", "measure": "area", "study": "s",
         "value": 0.25, "ci_low": 0.2, "ci_high": 0.3, "seed_min": 0.21, "seed_max": 0.27,
         "n_seed_groups": 3, "p_value": 0.0004, "p_holm": 0.02, "verdict": "reproduced",
         "note": ""},
        {**base, "spec_id": "b", "claim_id": "b", "claim": "Edges fall", "paper": "App.",
         "quote": "Edges fall slightly.", "measure": "rho", "study": "s", "value": 0.1,
         "ci_low": 0.05, "ci_high": 0.15, "n_seed_groups": 1, "curve_change": 0.3,
         "curve_low": 0.1, "curve_high": 0.5, "never_agreed": 0.25,
         "verdict": "inconclusive", "note": "1 seed group"}])
    html = plots.verdict_box(table, ["5,000 training images (the paper: 50,000)"])
    assert "&ldquo;We found agreement.&rdquo;" in html and "&lt;exceeds&gt;" in html
    assert "+0.250 [+0.200, +0.300]" in html and "+0.210 to +0.270 (3)" in html
    assert "Holm p 0.020" in html and "curve +0.300 [+0.100, +0.500]" in html
    assert "never agreed 25.0%" in html
    assert "1 reproduced, 1 inconclusive" in html and "1 seed group" in html
    assert "50,000" in html
    # The verdict is the first column: it stays on screen on a phone.
    assert html.index("<th>verdict</th>") < html.index("<th>claim (measure)</th>")
    claims = plots.claims_view(table).to_html()
    assert claims == plots.claims_view(table)._repr_html_()
    assert "p &lt; 0.001 (Holm 0.020)" in claims and "Edges fall (App.)" in claims
    assert claims.index("verdict") < claims.index("claim (paper)")
    # Every cell names its column: on a phone each row is a card (book/_static/book.css).
    for page in (html, claims):
        assert 'class="verdict-table"' in page
        cells = page.count("<td")
        assert cells == page.count("<td class=\"verdict\" data-label=\"verdict\"") \
            + page.count('<td data-label="') and cells == 2 * 5

"""Shared plots: the paper's agreement figure and its statistic overlay.

Every notebook and the README draw through these functions, so that one figure
style serves the whole study (matplotlib, the Agg backend works headless).

Every figure is sized for the book's text column: at most :data:`PAGE_WIDTH_IN` inches
wide, drawn with :data:`STYLE` (no text under :data:`MIN_FONT_PT` points), so that shown at
its natural size (96 CSS pixels per inch, :func:`show`) its smallest text is
``MIN_FONT_PT * 96 / 72`` pixels high. A phone's column is too narrow for that: a figure
shrunk to fit it would show its text at 5 px. So :func:`show` draws every figure a second
time for a :data:`PHONE_WIDTH_IN`-inch column (:func:`column`: grids of panels restacked into
one column, long labels wrapped) and lets the browser pick (:func:`figure_html`, an HTML
``<picture>``). It saves both at :data:`FIGURE_DPI` (sharp when enlarged) and records their
smallest text size in the PNG (``figure_png``), which the book's browser test reads back.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import functools
import html
import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from skimage.color import label2rgb

from .agreement import agreement_table, combined_agreement_table
from .correlation import agreement_curves
from .statistics.maps import statistic_maps

# Matplotlib's tab10 blue, red and orange, as hex so that Plotly accepts them too.
AGREEMENT_COLOR, ACCURACY_COLOR, STATISTIC_COLOR = "#1f77b4", "#d62728", "#ff7f0e"

#: Width of the book's text column in inches at 96 CSS pixels per inch: a notebook cell's
#: output is 688 px wide in a 1280-px window (measured in Chromium), 672 px is 7 inches.
PAGE_WIDTH_IN = 7.0
#: Resolution of the PNGs the book shows: 1.56 image pixels per CSS pixel at natural size.
FIGURE_DPI = 150
#: The smallest font size on any figure, in points (11.3 CSS px at natural size).
MIN_FONT_PT = 8.5
#: CSS pixels per inch (the size at which :func:`show` displays a figure).
CSS_PX_PER_IN = 96
#: PNG text key under which :func:`figure_png` records the smallest text height (pixels).
MIN_FONT_KEY = "agreement_core:min_font_px"
#: Narrowest panel in a grid of panels (inches): with labels on every panel, narrower ones
#: leave no room for the curves.
MIN_PANEL_IN = 2.3
#: Narrowest histogram panel (inches): no second axis, short labels.
MIN_HISTOGRAM_IN = 2.0
#: Width of a figure's phone version (inches, 403 CSS px). A phone's column is its screen
#: less 32 px (sphinx-book-theme, measured in Chromium: 368 px on a 400-px screen, 328 px on
#: a 360-px one), so the phone version's text is at least :data:`MIN_SHOWN_TEXT_PX` on
#: screens from 352 px wide.
PHONE_WIDTH_IN = 4.2
#: Smallest figure text a reader should see as shown (CSS px; the book's browser test).
MIN_SHOWN_TEXT_PX = 9
#: Most the book's column loses to margins below the theme's sidebar breakpoint (CSS px:
#: 32 up to 900 px wide, 64 up to 991 px; measured in Chromium): a figure's phone version is
#: chosen on screens up to its wide version's legible column width plus this.
COLUMN_MARGIN_PX = 64

#: The figures' matplotlib settings (applied while a figure is built, :func:`styled`).
STYLE = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": 9,
    "figure.titlesize": 11,
    "figure.dpi": 100,
    "savefig.dpi": FIGURE_DPI,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}


#: The width (inches) of the text column the figures are being drawn for (:func:`column`).
_COLUMN_IN = contextvars.ContextVar("agreement_core_column_in", default=PAGE_WIDTH_IN)
#: Attribute under which a figure keeps how to draw it again (:func:`styled`, :func:`redraw`).
_REDRAW = "_agreement_core_redraw"


@contextlib.contextmanager
def column(width_in: float):
    """Draw the figures built inside this block for a text column ``width_in`` inches wide.

    The figure functions size themselves by :func:`column_width`: under
    :data:`PHONE_WIDTH_IN` a grid of panels becomes one column (two for histograms), side-by-
    side panels stack, and long tick labels take two lines. :func:`show` uses it to draw the
    phone version of every figure.
    """
    if not width_in > 0:
        raise ValueError(f"a column is wider than 0 inches, got {width_in}")
    token = _COLUMN_IN.set(float(width_in))
    try:
        yield
    finally:
        _COLUMN_IN.reset(token)


def column_width() -> float:
    """The width (inches) of the column the figures are drawn for: :data:`PAGE_WIDTH_IN`
    unless a :func:`column` block says otherwise."""
    return _COLUMN_IN.get()


def _narrow() -> bool:
    """Whether the column holds one panel a row (a phone's)."""
    return column_width() < 2 * MIN_PANEL_IN


def styled(function):
    """Build the figure of ``function`` under :data:`STYLE` (fonts, spines, resolution).

    A returned figure remembers the call, so that :func:`redraw` can draw it again for
    another column (:func:`show`'s phone version), and gets its axis labels and titles
    wrapped to the width of their panel (:func:`_fit_labels`).
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            result = function(*args, **kwargs)
            if isinstance(result, Figure):
                _fit_labels(result)
        if isinstance(result, Figure):
            setattr(result, _REDRAW, functools.partial(wrapper, *args, **kwargs))
        return result
    return wrapper


def redraw(fig, width_in: float):
    """``fig`` drawn again for a column ``width_in`` inches wide (:func:`column`), or None
    for a figure that was not built by one of this module's figure functions."""
    again = getattr(fig, _REDRAW, None)
    if again is None:
        return None
    with column(width_in):
        return again()


def _fit_labels(fig) -> None:
    """Wrap the axis labels and titles that are longer than their panel is wide (or, for a
    y label, high) onto more lines: on a phone's narrow panels they would otherwise run into
    their neighbours or off the figure."""
    fig.canvas.draw()  # the constrained layout places the panels; then measure against them
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        box = ax.get_window_extent(renderer)
        for text, room, along in ((ax.xaxis.label, box.width, "width"),
                                  (ax.title, box.width, "width"),
                                  (ax.yaxis.label, box.height, "height")):
            label = text.get_text()
            if not label.strip() or room <= 0:
                continue
            size = getattr(text.get_window_extent(renderer), along)
            if size <= room * 1.02:
                continue
            longest = max(len(line) for line in label.splitlines())
            chars = max(8, int(longest * room / size))
            text.set_text("\n".join(textwrap.fill(line, chars, break_long_words=False)
                                    for line in label.splitlines()))


def _figure(nrows: int = 1, ncols: int = 1, *, figsize, **kwargs):
    """``plt.subplots`` with the constrained layout (room for every label and legend)."""
    return plt.subplots(nrows, ncols, figsize=figsize, layout="constrained", **kwargs)


def smallest_font_pt(fig) -> float:
    """The smallest font size (points) of the visible, non-empty text of a figure.

    Tick labels, axis labels, titles, legends and figure texts; the text of hidden axes
    (unused cells of a grid) does not count.
    """
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()
             and (t.axes is None or t.axes.get_visible())]
    if not sizes:
        raise ValueError("the figure has no text")
    return float(min(sizes))


def figure_png(fig, dpi: int = FIGURE_DPI) -> tuple[bytes, int]:
    """The figure as PNG bytes, and the width (CSS pixels) to show it at its natural size.

    The PNG records the height in image pixels of the figure's smallest text under
    :data:`MIN_FONT_KEY` (``smallest_font_pt * dpi / 72``): the displayed text size is that
    times the shown width over the image's width.
    """
    fig.canvas.draw()  # lay out (constrained layout) before measuring and saving
    min_px = smallest_font_pt(fig) * dpi / 72
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.06,
                facecolor="white", metadata={MIN_FONT_KEY: f"{min_px:.2f}"})
    png = _palette_png(buffer.getvalue(), {MIN_FONT_KEY: f"{min_px:.2f}"})
    width = int.from_bytes(png[16:20], "big")  # IHDR: width, height
    return png, round(width * CSS_PX_PER_IN / dpi)


def _palette_png(png: bytes, text: dict[str, str]) -> bytes:
    """The PNG with a 256-colour palette (dithered) when that is smaller: figures with
    photographs shrink about fourfold (the page-weight budget of the book), plots barely
    change. ``text`` is kept as PNG text chunks."""
    from PIL import Image, PngImagePlugin

    image = Image.open(io.BytesIO(png)).convert("RGB")
    quantized = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                               dither=Image.Dither.FLOYDSTEINBERG)
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    quantized.save(buffer, format="png", optimize=True, pnginfo=info)
    return buffer.getvalue() if buffer.tell() < len(png) else png


def _legend_below(fig, handles, labels, ncols: int | None = None) -> None:
    """One legend for all panels, under them (the constrained layout makes room), in at most
    ``ncols`` columns: fewer where the figure is too narrow for them (a phone's)."""
    renderer = fig.canvas.get_renderer()
    ncols = ncols or min(len(labels), 2)
    while True:
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=ncols,
                            handler_map={tuple: HandlerTuple(ndivide=None)})
        if ncols == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width:
            return
        legend.remove()
        ncols -= 1


def _agreement_handles(statistic: bool = False):
    """Legend entries of :func:`plot_agreement` (band and line together for the accuracy)."""
    ax_handles = [Patch(color=AGREEMENT_COLOR, alpha=0.25),
                  plt.Line2D([], [], color=AGREEMENT_COLOR),
                  plt.Line2D([], [], color=AGREEMENT_COLOR, linestyle="--", linewidth=1),
                  (Patch(color=ACCURACY_COLOR, alpha=0.3),
                   plt.Line2D([], [], color=ACCURACY_COLOR))]
    labels = ["agreement above the lower bound", "true-positive agreement (TPa)",
              "lower bound of TPa", "mean accuracy ± std"]
    if statistic:
        ax_handles.append(plt.Line2D([], [], color=STATISTIC_COLOR, marker="o", markersize=3))
        labels.append("mean statistic of the agreed examples (right axis)")
    return ax_handles, labels


@styled
def plot_agreement(table: pd.DataFrame, ax=None, *, title: str | None = None):
    """Draw one split's agreement figure (Pliushch et al., Fig. 2) from an agreement table.

    Blue: true-positive agreement, its lower bound (dashed) and the area between them
    (the agreement that the accuracies alone do not force). Red: mean accuracy of the K
    networks with a band of one standard deviation.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`agreement_core.agreement.agreement_table` of one split.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    missing = {"epoch", "tpa", "lower_bound", "mean_acc", "std_acc"} - set(table.columns)
    if missing:
        raise ValueError(f"the agreement table lacks the columns {sorted(missing)}")
    if ax is None:
        ax = _figure(figsize=(4.5, 3.2))[1]
    epoch, tpa, bound = table["epoch"], table["tpa"], table["lower_bound"]
    mean, std = table["mean_acc"], table["std_acc"]
    ax.fill_between(epoch, bound, tpa, color=AGREEMENT_COLOR, alpha=0.25,
                    label="agreement above the lower bound")
    ax.plot(epoch, tpa, color=AGREEMENT_COLOR, label="true-positive agreement")
    ax.plot(epoch, bound, color=AGREEMENT_COLOR, linestyle="--", linewidth=1,
            label="lower bound")
    ax.fill_between(epoch, mean - std, mean + std, color=ACCURACY_COLOR, alpha=0.3)
    ax.plot(epoch, mean, color=ACCURACY_COLOR, label="mean accuracy ± std")
    ax.set(xlabel="epoch", ylabel="fraction of examples", ylim=(0, 1))
    if title:
        ax.set_title(title)
    return ax


def plot_statistic(curves: pd.DataFrame, statistic: str, ax):
    """Overlay the mean of ``statistic`` over the agreed examples per epoch (orange, right axis).

    ``curves`` is :func:`agreement_core.correlation.agreement_curves`; returns the twin axis.
    """
    if statistic not in curves.columns:
        raise ValueError(f"no column {statistic!r} in the curves; have {list(curves.columns)}")
    twin = ax.twinx()
    twin.plot(curves["epoch"], curves[statistic], color=STATISTIC_COLOR, marker="o",
              markersize=3, label=f"mean {statistic} of agreed examples")
    twin.set_ylabel(f"mean {statistic} (agreed)", color=STATISTIC_COLOR)
    twin.tick_params(axis="y", colors=STATISTIC_COLOR)
    twin.spines["right"].set_visible(True)
    twin.spines["right"].set_color(STATISTIC_COLOR)
    return twin


def _suptitle(fig, title: str | None) -> None:
    if title:
        fig.suptitle(title, wrap=True)


@styled
def agreement_figure(store, *, splits=None, statistics: dict | None = None,
                     statistic: str | None = None, title: str | None = None, **curve_kwargs):
    """One panel per split; with ``statistics`` (split -> table) and ``statistic``, the overlay.

    ``curve_kwargs`` go to :func:`~agreement_core.correlation.agreement_curves`
    (``min_epoch``, ``min_accuracy``).
    """
    splits = list(splits or store.splits)
    ncols = min(len(splits), 1 if _narrow() else 2)
    nrows = -(-len(splits) // ncols)
    fig, axes = _figure(nrows, ncols, figsize=(column_width() if ncols > 1
                                               else min(4.5, column_width()),
                                               3.1 * nrows + 0.6), squeeze=False)
    for ax in axes.flat[len(splits):]:
        ax.set_visible(False)
    overlay = False
    for ax, split in zip(axes.flat, splits, strict=False):
        plot_agreement(agreement_table(store, split), ax, title=f"{split} set")
        table = (statistics or {}).get(split)
        if statistic and table is not None:
            curves = agreement_curves(store, split, table, [statistic], **curve_kwargs)
            if len(curves):
                plot_statistic(curves, statistic, ax)
                overlay = True
    _legend_below(fig, *_agreement_handles(overlay))
    _suptitle(fig, title)
    return fig


#: Fig. 1's cells: a network right, wrong, and all K right (the example is agreed upon).
STRIP_COLOURS = {"right": "#9ecae1", "wrong": "#eeeeee", "agreed": AGREEMENT_COLOR}


@styled
def agreement_strip(store, split: str, examples: dict, *, epochs=None,
                    title: str | None = None):
    """Fig. 1 from real records: a strip of images, each network's right or wrong on each of
    them at every epoch, and the resulting agreement.

    Each example gets an image and below it an epoch x network grid: light blue where the
    network is right, grey where it is wrong, dark blue on the epochs where all K are right.
    The last column counts, per epoch, the shown examples all K get right over those at
    least one gets right, and gives the true-positive agreement (eq. 2) of the whole split.

    Parameters
    ----------
    store : RecordStore
    split : str
    examples : dict of int to (str, ndarray)
        Row -> (label, uint8 image), e.g.
        :meth:`agreement_core.study.FigureStudy.learning_order_strip`.
    epochs : sequence of int, optional
        1-based epochs shown; default every recorded epoch.
    title : str, optional
    """
    epochs = list(epochs or range(1, store.available_epochs(split) + 1))
    rows = list(examples)
    correct = np.stack([store.correct(split, e)[:, rows] for e in epochs])  # (E, K, N)
    k = correct.shape[1]
    split_tpa = agreement_table(store, split, epochs)["tpa"].to_numpy()
    n = len(rows)
    # One row of examples on a page; on a phone rows of at most three, so that every
    # example keeps room for its class name and its network numbers.
    per_row = -(-n // -(-n // 3)) if _narrow() else n
    bands = -(-n // per_row)
    fig = plt.figure(figsize=(column_width(), bands * (1.3 + 0.24 * len(epochs)) + 0.6),
                     layout="constrained")
    grid = fig.add_gridspec(2 * bands, per_row + 1,
                            height_ratios=[1.5, 0.24 * len(epochs)] * bands,
                            width_ratios=[1] * per_row + [1.9])
    colours = np.array([matplotlib.colors.to_rgb(STRIP_COLOURS[c])
                        for c in ("wrong", "right", "agreed")])
    all_right = correct.all(axis=1)                                       # (E, N)
    for i, (label, image) in enumerate(examples.values()):
        band, slot = divmod(i, per_row)
        ax = fig.add_subplot(grid[2 * band, slot])
        ax.imshow(image)
        ax.set_title(textwrap.shorten(label, 18, placeholder="..."), fontsize=9)
        ax.axis("off")
        ax = fig.add_subplot(grid[2 * band + 1, slot])
        state = correct[:, :, i].astype(int) + all_right[:, i, None]       # 0, 1 or 2
        ax.imshow(colours[state], aspect="auto", interpolation="nearest")
        ax.set_xticks(range(k), [str(j + 1) for j in range(k)], fontsize=MIN_FONT_PT)
        ax.set_xlabel("network", fontsize=9)
        ax.set_yticks(range(len(epochs)), [str(e) for e in epochs] if slot == 0 else [])
        if slot == 0:
            ax.set_ylabel("epoch")
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
    # The counts of the shown examples and the split's TPa, per epoch: beside the last band.
    ax = fig.add_subplot(grid[2 * bands - 1, per_row])
    ax.set_xlim(0, 1)
    ax.set_ylim(len(epochs) - 0.5, -0.5)
    ax.axis("off")
    any_right = correct.any(axis=1).sum(axis=1)
    ax.text(0.0, -0.9, "shown: all / any\nsplit: TPa", fontsize=MIN_FONT_PT, va="bottom")
    for j in range(len(epochs)):
        ax.text(0.0, j, f"{int(all_right[j].sum())} / {int(any_right[j])}   {split_tpa[j]:.2f}",
                fontsize=MIN_FONT_PT, va="center", family="monospace")
    handles = [Patch(color=STRIP_COLOURS[c]) for c in ("right", "wrong", "agreed")]
    _legend_below(fig, handles, ["network right", "network wrong",
                                 f"all {k} right (agreed)"], ncols=3)
    _suptitle(fig, title)
    return fig


@styled
def data_map(table: pd.DataFrame, *, title: str | None = None, max_points: int = 20_000,
             seed: int = 0):
    """The data map (Swayamdipta et al., 2020): each example's confidence (mean probability
    of its true class over epochs and networks) against its variability (the standard
    deviation of the same), coloured by correctness (the fraction of right predictions).

    Easy-to-learn examples sit top left, hard-to-learn ones bottom left, ambiguous ones to
    the right. Beside it, the same plane coloured by the agreed-from epoch when ``table``
    has it (the study's own difficulty score).

    Parameters
    ----------
    table : pandas.DataFrame
        ``confidence``, ``variability``, ``correctness`` and optionally
        ``agreed_from_epoch`` (:func:`agreement_core.scores.example_scores`).
    max_points : int
        At most this many examples are drawn (a random choice), for legible plots.
    """
    missing = [c for c in ("confidence", "variability", "correctness") if c not in table]
    if missing:
        raise ValueError(f"the data map needs columns {missing} (a store that keeps "
                         "probabilities: keep='probs' or with_true_prob=True)")
    shown = table.sample(min(len(table), max_points), random_state=seed)
    panels = 2 if "agreed_from_epoch" in shown else 1
    if _narrow():  # one above the other
        fig, axes = _figure(panels, 1, figsize=(column_width(), 3.4 * panels + 0.3),
                            squeeze=False)
    else:
        fig, axes = _figure(1, panels, figsize=(column_width() if panels == 2 else 4.2, 3.6),
                            squeeze=False)
    axes = axes.reshape(1, panels)
    ax = axes[0, 0]
    points = ax.scatter(shown["variability"], shown["confidence"], c=shown["correctness"],
                        cmap="viridis", vmin=0, vmax=1, s=6, alpha=0.7, linewidths=0)
    fig.colorbar(points, ax=ax, label="correctness")
    ax.set_title("data map")
    if panels == 2:
        ax = axes[0, 1]
        epochs = shown["agreed_from_epoch"].astype("Float64")
        last = float(np.nanmax(epochs.to_numpy(np.float64, na_value=np.nan)))
        never = epochs.isna().to_numpy()
        ax.scatter(shown["variability"][never], shown["confidence"][never], s=6, c="#bbbbbb",
                   linewidths=0, label="never agreed")
        points = ax.scatter(shown["variability"][~never], shown["confidence"][~never],
                            c=epochs[~never].to_numpy(np.float64), cmap="plasma_r", vmin=1,
                            vmax=max(last, 2), s=6, alpha=0.8, linewidths=0)
        fig.colorbar(points, ax=ax, label="agreed-from epoch")
        ax.legend(loc="lower right", markerscale=2)
        ax.set_title("coloured by the agreed-from epoch")
    for ax in axes.flat:
        ax.set_xlabel("variability (std of the true-class probability)")
        ax.set_ylabel("confidence (mean true-class probability)")
        ax.set_ylim(-0.02, 1.02)
    _suptitle(fig, title)
    return fig


#: Line colours of the pruning rules (random: the grey reference).
PRUNING_COLOURS = {"easiest": "#1f77b4", "hardest": "#d62728", "random": "#7f7f7f"}


@styled
def pruning_figure(results: pd.DataFrame, *, full_data=None, title: str | None = None):
    """Test accuracy against the kept fraction of the training set, one panel per score:
    keeping the easiest (blue) or the hardest (red) examples by that score, and a random
    subset of the same size (grey, the same in every panel). Points: the mean over the
    networks of a run; bars: their smallest and largest value.

    Parameters
    ----------
    results : pandas.DataFrame
        ``score``, ``rule``, ``fraction``, ``network``, ``test_accuracy``
        (:func:`agreement_core.study.pruning.run_pruning`).
    full_data : array-like of float, optional
        Test accuracy of each network trained on the whole training set with the same
        settings (the run the scores come from): drawn at fraction 1 (black), where every
        rule keeps everything.
    """
    summary = (results.groupby(["score", "rule", "fraction"])["test_accuracy"]
               .agg(["mean", "min", "max"]).reset_index())
    random = summary[summary["rule"] == "random"]
    scores = [s for s in dict.fromkeys(summary["score"]) if s != "random"]
    fig, axes = _grid(len(scores), 2, aspect=0.75)
    for ax, score in zip(axes, scores, strict=True):
        for rule, rows in (("random", random),
                           *((r, summary[(summary["score"] == score) & (summary["rule"] == r)])
                             for r in ("easiest", "hardest"))):
            if rows.empty:
                continue
            ax.errorbar(rows["fraction"], rows["mean"],
                        yerr=[rows["mean"] - rows["min"], rows["max"] - rows["mean"]],
                        color=PRUNING_COLOURS[rule], marker="o", capsize=3,
                        linestyle="--" if rule == "random" else "-", label=rule)
        if full_data is not None:
            full = np.asarray(full_data, dtype=float)
            ax.errorbar([1.0], [full.mean()], yerr=[[full.mean() - full.min()],
                                                    [full.max() - full.mean()]],
                        color="black", marker="s", capsize=3)
        ax.set_title(score.replace("_", " "))
        ax.set_xlabel("kept fraction of the training set")
        ax.set_ylabel("test accuracy")
    handles = [plt.Line2D([], [], color=PRUNING_COLOURS[r], marker="o",
                          linestyle="--" if r == "random" else "-") for r in PRUNING_COLOURS]
    labels = ["keep the easiest", "keep the hardest", "keep a random subset"]
    if full_data is not None:
        handles.append(plt.Line2D([], [], color="black", marker="s", linestyle=""))
        labels.append("all training images")
    _legend_below(fig, handles, labels, ncols=len(labels))
    _suptitle(fig, title)
    return fig


def _grid(n: int, ncols: int, *, aspect: float = 0.78, max_panel: float = 4.5,
          extra_height: float = 0.7):
    """``n`` panels in rows of at most ``ncols``, as wide as the column allows (hidden extras).

    Panels are at least :data:`MIN_PANEL_IN` wide (fewer columns when the column,
    :func:`column_width`, is too narrow for ``ncols``: one on a phone) and at most
    ``max_panel``; their height is ``aspect`` times it.
    """
    width = column_width()
    ncols = max(1, min(ncols, n, int(width // MIN_PANEL_IN)))
    nrows = -(-n // ncols)
    panel = min(width / ncols, max_panel)
    fig, axes = _figure(nrows, ncols, figsize=(panel * ncols,
                                               panel * aspect * nrows + extra_height),
                        squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


@styled
def agreement_panels(tables: dict, *, ncols: int = 3, suptitle: str | None = None):
    """One agreement panel per entry of ``tables`` (title -> agreement table): ablations."""
    if not tables:
        raise ValueError("no agreement tables to plot")
    fig, axes = _grid(len(tables), ncols)
    for ax, (title, table) in zip(axes, tables.items(), strict=True):
        plot_agreement(table, ax, title=title)
    _legend_below(fig, *_agreement_handles())
    _suptitle(fig, suptitle)
    return fig


@styled
def statistic_panels(store, split: str, statistics: pd.DataFrame, columns, *, ncols: int = 2,
                     suptitle: str | None = None, **curve_kwargs):
    """The paper's statistics figure: one agreement panel per statistic with its orange curve.

    ``statistics`` is keyed by ``example_id``; ``curve_kwargs`` go to
    :func:`~agreement_core.correlation.agreement_curves`. At most two panels a row: each
    has a left (agreement) and a right (statistic) axis.
    """
    columns = [c for c in columns if c in statistics.columns]
    if not columns:
        raise ValueError("none of the requested statistics is in the table")
    table = agreement_table(store, split)
    curves = agreement_curves(store, split, statistics, columns, **curve_kwargs)
    fig, axes = _grid(len(columns), min(ncols, 2))
    overlay = False
    for ax, column in zip(axes, columns, strict=True):
        plot_agreement(table, ax, title=f"{split} set: {column}")
        if len(curves) and curves[column].notna().any():
            plot_statistic(curves, column, ax)
            overlay = True
    _legend_below(fig, *_agreement_handles(overlay))
    if not overlay:
        # Say why the paper's orange curve is absent rather than leave the reader guessing.
        accuracy = curve_kwargs.get("min_accuracy", 0.2)
        start = curve_kwargs.get("min_epoch", 5)
        suptitle = ((f"{suptitle}\n" if suptitle else "")
                    + f"no statistic curve: no epoch from {start} on reaches a mean accuracy "
                    f"of {accuracy:.0%}")
    _suptitle(fig, suptitle)
    return fig


@styled
def categorical_panels(shares: dict, *, ncols: int = 3, suptitle: str | None = None):
    """Share of each value's examples that are agreed upon, per epoch (KTH illumination, pose).

    ``shares`` maps a factor name to
    :func:`~agreement_core.correlation.categorical_agreement_shares`.
    """
    fig, axes = _grid(len(shares), ncols, extra_height=0.4)
    for ax, (factor, table) in zip(axes, shares.items(), strict=True):
        for value, rows in table.groupby("value", sort=False):
            ax.plot(rows["epoch"], rows["share"], marker="o", markersize=3, label=str(value))
        ax.set(xlabel="epoch", ylabel="share agreed upon", ylim=(0, 1), title=factor)
        ax.legend(title=factor)
    _suptitle(fig, suptitle)
    return fig


@styled
def statistic_histograms(tables: dict, columns, *, bins: int = 40, ncols: int = 3,
                         suptitle: str | None = None):
    """Histograms of every statistic of every table (name -> statistics table): Figs. 12-15.

    Each table's statistics fill rows of ``ncols`` panels (a new row for each table): the
    panel's title names the table, its x axis the statistic; the black line is the mean.
    Statistics a table lacks get no panel.
    """
    panels = []
    for name, table in tables.items():
        present = []
        for column in columns:
            values = pd.to_numeric(table[column], errors="coerce").dropna() \
                if column in table.columns else pd.Series(dtype=float)
            if len(values):
                present.append((name, column, values))
        panels.append(present)
    width = column_width()
    ncols = max(1, min(ncols, max((len(p) for p in panels), default=1),
                       int(width // MIN_HISTOGRAM_IN)))
    rows = [p[i:i + ncols] for p in panels for i in range(0, len(p), ncols)]
    if not rows:
        raise ValueError("none of the requested statistics is in the tables")
    panel = width / ncols
    fig = plt.figure(figsize=(width, panel * 0.72 * len(rows) + 0.4), layout="constrained")
    grid = fig.add_gridspec(len(rows), ncols)
    for r, row in enumerate(rows):
        for c, (name, column, values) in enumerate(row):
            ax = fig.add_subplot(grid[r, c])
            ax.hist(values, bins=bins, color=STATISTIC_COLOR, alpha=0.8)
            ax.axvline(values.mean(), color="black", linewidth=1)
            ax.xaxis.set_major_locator(MaxNLocator(4))  # long numbers: no overlapping ticks
            ax.set(title=name, xlabel=column, ylabel="examples")
    _suptitle(fig, suptitle)
    return fig


#: The columns of :func:`statistic_maps_figure` (two lines each: the panels are narrow).
MAP_COLUMNS = ["image", "segments\n(mean colours)", "entropy\n(bright: high)",
               "Sobel edges\n(bright: strong)", "DCT log|c|\n(orange: kept)"]


@styled
def statistic_maps_figure(images: dict, *, suptitle: str | None = None):
    """Figs. 3, 10, 11: each image (title -> uint8 RGB) with segments, entropy, edges, DCT.

    The DCT panel shows log|c| in grey with the coefficients that reach the threshold (the
    ones the DCT share counts) in orange. On a page each image's title is at the left of its
    row; on a phone (:func:`column`) above it, so that the five maps keep the whole width.
    """
    columns = MAP_COLUMNS
    if _narrow():
        return _statistic_maps_stacked(images, suptitle)
    titles = ["\n".join(textwrap.fill(line, 22) for line in str(t).splitlines())
              for t in images]
    longest = max((len(line) for t in titles for line in t.splitlines()), default=0)
    label_in = 0.25 + longest * 0.5 * 9 / 72  # room for the row titles at the left
    width = column_width()
    side = (width - label_in) / len(columns)
    fig, axes = _figure(len(images), len(columns),
                        figsize=(width, 0.92 * side * len(images) + 0.5), squeeze=False)
    for r, (title, image) in enumerate(zip(titles, images.values(), strict=True)):
        _draw_maps(axes[r], image, columns if r == 0 else None)
        axes[r][0].set_ylabel(title, fontsize=9, rotation=0, ha="right", va="center",
                              labelpad=6)
    _suptitle(fig, suptitle)
    return fig


def _statistic_maps_stacked(images: dict, suptitle: str | None):
    """:func:`statistic_maps_figure` for a narrow column: one band per image, its title
    (one line, wrapped to the width) above its five maps, the maps' names over the first."""
    width = column_width()
    chars = int(width * 72 / (9 * 0.55))  # characters of 9-point text on a line
    titles = [textwrap.fill("; ".join(str(t).splitlines()), chars) for t in images]
    side = width / len(MAP_COLUMNS)
    heights = [side * 0.92 + 0.2 * (t.count("\n") + 1) + (0.5 if r == 0 else 0.1)
               for r, t in enumerate(titles)]
    fig = plt.figure(figsize=(width, sum(heights) + (0.4 if suptitle else 0)),
                     layout="constrained")
    bands = fig.subfigures(len(images), 1, height_ratios=heights, squeeze=False)[:, 0]
    for r, (band, title, image) in enumerate(zip(bands, titles, images.values(), strict=True)):
        band.suptitle(title, fontsize=9, x=0.0, ha="left")
        _draw_maps(band.subplots(1, len(MAP_COLUMNS)), image, MAP_COLUMNS if r == 0 else None)
    _suptitle(fig, suptitle)
    return fig


def _draw_maps(axes, image: np.ndarray, columns=None) -> None:
    """One image and its four statistic maps on a row of ``axes``, titled ``columns``."""
    maps = statistic_maps(image)
    panels = [image, label2rgb(maps["segments"], image, kind="avg"), maps["entropy"],
              maps["sobel"], maps["dct"]]
    kept_rgba = np.array([*_rgb(STATISTIC_COLOR), 0.85])
    for c, (ax, panel) in enumerate(zip(axes, panels, strict=True)):
        if c == 4:
            ax.imshow(panel, cmap="gray")
            overlay = np.zeros(maps["dct_kept"].shape + (4,))
            overlay[maps["dct_kept"].astype(bool)] = kept_rgba
            ax.imshow(overlay)
        else:
            ax.imshow(panel, cmap=None if c < 2 else "magma")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.spines[:].set_visible(False)
        if columns is not None:
            ax.set_title(columns[c], fontsize=9)


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    value = hex_colour.lstrip("#")
    return tuple(int(value[i:i + 2], 16) / 255 for i in (0, 2, 4))


#: Height of a row of the correlation forest (inches): one line of label, two on a phone.
_FOREST_ROW_IN = {False: 0.3, True: 0.42}
#: How the scopes of a correlation table are drawn and named in the legend.
_SCOPES = (("all", AGREEMENT_COLOR, "all examples"),
           ("within_class", STATISTIC_COLOR, "within classes"))


@styled
def correlation_forest(table: pd.DataFrame, ax=None, *, title: str | None = None):
    """Spearman rho with its bootstrap interval per statistic and scope (a forest plot).

    ``table`` is :func:`~agreement_core.correlation.correlation_table` (optionally with a
    ``split`` column). Negative rho: examples with a higher statistic are agreed on earlier.
    Blue: all examples; orange: within classes (the legend says so).
    """
    rows = table.reset_index(drop=True)
    parts = [c for c in ("split", "statistic", "scope") if c in rows]
    # On a phone the split takes a line of its own: one line would leave no room for the plot.
    lines = [parts[:1], parts[1:]] if _narrow() and len(parts) == 3 else [parts]
    labels = ["\n".join(" / ".join(str(r[c]) for c in line) for line in lines)
              for _, r in rows.iterrows()]
    if ax is None:
        ax = _figure(figsize=(column_width(), _FOREST_ROW_IN[_narrow()] * len(rows) + 1.2))[1]
    y = np.arange(len(rows))[::-1]
    for scope, color, name in _SCOPES:
        mask = (rows["scope"] == scope).to_numpy()
        part = rows[mask]
        if not mask.any():
            continue
        ax.errorbar(part["rho"], y[mask], xerr=[part["rho"] - part["ci_low"],
                                                part["ci_high"] - part["rho"]],
                    fmt="o", markersize=4, color=color, capsize=2, label=name)
    ax.axvline(0, color="gray", linewidth=0.8)
    ax.set_yticks(list(y), labels, fontsize=9)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("Spearman rho with the agreed-from epoch (95% bootstrap CI)")
    ax.set_ylabel("split / statistic / scope" if "split" in rows else "statistic / scope")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2,
              title=None, borderaxespad=0.2)
    if title:
        ax.set_title(title, pad=24)
    return ax


#: Axis labels of the agreement-table columns :func:`metric_comparison` draws.
METRIC_LABELS = {"tpa": "true-positive agreement", "fp_agreement": "false-positive agreement",
                 "hacohen_agreement": "Hacohen et al.'s agreement",
                 "hacohen_tp_agreement": "Hacohen et al.'s TP agreement",
                 "mean_acc": "mean accuracy", "std_acc": "std of the accuracies",
                 "lower_bound": "lower bound of TPa"}


@styled
def metric_comparison(tables: dict, metrics, *, suptitle: str | None = None):
    """One panel per metric (column of agreement tables), one line per table (label -> table).

    Serves online vs eval recording and false-positive agreement across studies.
    """
    fig, axes = _grid(len(metrics), len(metrics), aspect=0.85, extra_height=0.9)
    for ax, metric in zip(axes, metrics, strict=True):
        for label, table in tables.items():
            ax.plot(table["epoch"], table[metric], marker="o", markersize=3, label=label)
        name = METRIC_LABELS.get(metric, metric.replace("_", " "))
        ax.set(xlabel="epoch", ylabel=name)
    handles, labels = axes[0].get_legend_handles_labels()
    _legend_below(fig, handles, labels, ncols=min(len(labels), 3))
    _suptitle(fig, suptitle)
    return fig


@styled
def curriculum_curves(curves: pd.DataFrame, *, suptitle: str | None = None):
    """Mean test accuracy (± std over networks) against training progress, one line per mode."""
    fig, ax = _figure(figsize=(min(5.6, column_width()), 3.6))
    for mode, rows in curves.groupby("mode", sort=False):
        rows = rows.assign(progress=rows["step"] / rows["total_steps"])
        stats = rows.groupby("progress")["test_accuracy"].agg(["mean", "std"]).reset_index()
        ax.plot(stats["progress"], stats["mean"], marker="o", markersize=3, label=mode)
        ax.fill_between(stats["progress"], stats["mean"] - stats["std"].fillna(0),
                        stats["mean"] + stats["std"].fillna(0), alpha=0.15)
    ax.set(xlabel="fraction of the training budget", ylabel="test accuracy")
    ax.legend(title="order (band: ± std)")
    if suptitle:
        ax.set_title(suptitle)
    return fig


@styled
def correlation_figure(table: pd.DataFrame, *, title: str | None = None):
    """The correlation forest (:func:`correlation_forest`) on a figure sized to its rows.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~agreement_core.correlation.correlation_table` rows (optionally with a
        ``split`` column, as :func:`agreement_core.findings.correlation_rows` gives).
    title : str, optional

    Returns
    -------
    matplotlib Figure
        As wide as the column (:func:`column_width`, 7 inches), 0.3 inch per row plus 1.2
        high (0.42 inch per row on a phone: the labels take two lines).
    """
    fig, ax = _figure(figsize=(column_width(), _FOREST_ROW_IN[_narrow()] * len(table) + 1.2))
    correlation_forest(table, ax, title=title)
    return fig


def show_agreement_by_split(stores: dict, caption: str | None = None, *,
                            splits=("train", "test"), ncols: int = 3) -> None:
    """Show one figure per split with one agreement panel per store: Figs. 8 and 9.

    Parameters
    ----------
    stores : dict of str to RecordStore
        Label -> store; panels are titled ``"<label>, <split>"``.
    caption : str, optional
        Shown once, under the last figure.
    splits : sequence of str
    ncols : int
        Panels per row (:func:`agreement_panels`).
    """
    for i, split in enumerate(splits):
        tables = {f"{label}, {split}": agreement_table(store, split)
                  for label, store in stores.items()}
        # One caption for all the figures, under the last: the same text under each read
        # as a repetition.
        show(agreement_panels(tables, ncols=ncols), caption if i == len(splits) - 1 else None)


def show_metric_comparison_by_split(stores: dict, metrics, caption: str | None = None, *,
                                    splits=("train", "test"),
                                    suptitle: str = "{split} set") -> None:
    """Show one :func:`metric_comparison` per split, one line per store.

    Parameters
    ----------
    stores : dict of str to RecordStore
        Label -> store (the lines' labels).
    metrics : list of str
        Columns of :func:`~agreement_core.agreement.agreement_table`, one panel each.
    caption : str, optional
        Shown once, under the last figure.
    splits : sequence of str
    suptitle : str
        Formatted with the split (e.g. ``"CIFAR-10 {split} set"``).
    """
    for i, split in enumerate(splits):
        tables = {label: agreement_table(store, split) for label, store in stores.items()}
        show(metric_comparison(tables, metrics, suptitle=suptitle.format(split=split)),
             caption if i == len(splits) - 1 else None)  # one caption, under the last


def combined_agreement_panels(stores, *, splits=("train", "test"), network: int = 0,
                              title: str = "one network of each study, {split}",
                              ncols: int = 2):
    """One agreement panel per split of one network taken from each store.

    Parameters
    ----------
    stores : iterable of RecordStore
        At least two, holding the same examples (e.g. one study per architecture); see
        :func:`~agreement_core.agreement.combined_agreement_table`.
    splits : sequence of str
    network : int
        The network taken from every store.
    title : str
        The panels' title, formatted with the split.
    ncols : int

    Returns
    -------
    matplotlib Figure
    """
    stores = list(stores)
    tables = {title.format(split=split): combined_agreement_table(stores, split, network)
              for split in splits}
    return agreement_panels(tables, ncols=ncols)


def show_statistic_panels_per_study(studies: dict, split: str, columns: dict, **kwargs
                                    ) -> None:
    """Show :func:`statistic_panels` of one split for every study, with its caption: Fig. 7.

    Parameters
    ----------
    studies : dict
        Name -> an object with ``store``, ``statistics`` (split -> statistics table) and
        ``caption`` (e.g. :class:`~agreement_core.study.FigureStudy`).
    split : str
    columns : dict of str to list of str
        Name -> the statistics to draw; studies without an entry are skipped.
    **kwargs
        Passed to :func:`statistic_panels` (``ncols``, ``min_epoch``, ...).
    """
    for name, study in studies.items():
        if name in columns:
            show(statistic_panels(study.store, split, study.statistics[split], columns[name],
                                  **kwargs), study.caption)


def show_factor_panels_per_study(studies: dict, split: str, factors: dict) -> None:
    """Show :func:`categorical_panels` of one split for every study that has factors to
    draw (KTH-TIPS2-b's illumination, pose and scale: Figs. 5 and 17), with its caption;
    studies absent from ``studies`` (not on this machine) are skipped without an error.

    Parameters
    ----------
    studies : dict
        Name -> an object with ``store``, ``statistics`` (split -> table holding the factor
        columns) and ``caption`` (e.g. :class:`~agreement_core.study.FigureStudy`).
    split : str
    factors : dict of str to list of str
        Name -> the categorical factors to draw; studies without an entry are skipped.
    """
    from .correlation import categorical_agreement_shares

    for name, study in studies.items():
        if name in factors:
            shares = {factor: categorical_agreement_shares(study.store, split,
                                                           study.statistics[split], factor)
                      for factor in factors[name]}
            show(categorical_panels(shares), study.caption)


#: Background of each verdict in the claims table (colour-blind-safe, light enough for text).
VERDICT_COLOURS = {"reproduced": "#d9f0d3", "mixed": "#fee8a8", "differs": "#fbd3c6",
                   "inconclusive": "#e6e0f2", "not testable here": "#e8e8e8",
                   "descriptive": "#f2f2f2"}


def _claim_number(value, low, high, fmt="{:+.3f}") -> str:
    if pd.isna(value):
        return ""
    text = fmt.format(value)
    return text if pd.isna(low) else f"{text} [{fmt.format(low)}, {fmt.format(high)}]"


def _p_text(p) -> str:
    return "" if pd.isna(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _seed_text(row) -> str:
    n = int(row.n_seed_groups) if not pd.isna(row.n_seed_groups) else 0
    return "" if n < 2 else f"{row.seed_min:+.3f} to {row.seed_max:+.3f} ({n})"


def _order_text(row) -> str:
    """The learning-order measures beside the primary one: curve and within class."""
    parts = []
    if not pd.isna(row.curve_change):
        parts.append("curve " + _claim_number(row.curve_change, row.curve_low, row.curve_high))
    if not pd.isna(row.within_class):
        parts.append("within class "
                     + _claim_number(row.within_class, row.within_low, row.within_high))
    if not pd.isna(row.never_agreed):
        parts.append(f"never agreed {row.never_agreed:.1%}")
    return "; ".join(parts)


class HTMLTable:
    """A table as HTML: IPython shows it (``_repr_html_``), ``to_html`` returns it."""

    def __init__(self, html_text: str):
        self.html = html_text

    def _repr_html_(self) -> str:
        return self.html

    def to_html(self) -> str:
        return self.html


#: The columns of a verdict table (:func:`verdict_box`, :func:`claims_view`), verdict first.
VERDICT_COLUMNS = ("verdict", "claim", "study", "ours [95% CI]", "also")


def _also_text(row, raw_p: bool = False) -> str:
    """What a verdict table's last column says: the seed groups' range, the (Holm-adjusted)
    p-value and the learning-order measures beside the primary one."""
    seeds = _seed_text(row)
    p = ""
    if not pd.isna(row.p_holm):
        p = (f"p {_p_text(row.p_value)} (Holm {_p_text(row.p_holm)})"
             if raw_p and not pd.isna(row.p_value) else f"Holm p {_p_text(row.p_holm)}")
    return "; ".join(x for x in (f"seed groups {seeds}" if seeds else "", p, _order_text(row))
                     if x)


def _verdict_table(table: pd.DataFrame, claim_header: str, claim_cell, raw_p: bool = False
                   ) -> str:
    """Rows of the claims table as an HTML table of :data:`VERDICT_COLUMNS`, the verdict
    first and coloured.

    Every cell names its column (``data-label``): on a narrow screen the book's stylesheet
    (``book/_static/book.css``) turns each row into a card, the verdict on top and each value
    under its column's name, so nothing is read by scrolling sideways. ``claim_cell(row)``
    gives the claim column's HTML.
    """
    esc = html.escape
    labels = ["verdict", claim_header, *VERDICT_COLUMNS[2:]]
    parts = ['<table class="verdict-table"><thead><tr>'
             + "".join(f"<th>{esc(label)}</th>" for label in labels)
             + "</tr></thead><tbody>"]
    for row in table.itertuples(index=False):
        colour = VERDICT_COLOURS.get(row.verdict, "white")
        cells = [f'<td class="verdict" data-label="verdict" '
                 f'style="background-color: {colour}"><strong>{esc(row.verdict)}</strong></td>',
                 f'<td data-label="{esc(claim_header)}">{claim_cell(row)}</td>',
                 f'<td data-label="study">{esc(row.study)}</td>',
                 f'<td data-label="ours [95% CI]">'
                 f'{esc(_claim_number(row.value, row.ci_low, row.ci_high))}</td>',
                 f'<td data-label="also"><small>{esc(_also_text(row, raw_p))}</small></td>']
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _note_html(row) -> str:
    note = row.note
    return f"<br><small>{html.escape(note)}</small>" if isinstance(note, str) and note else ""


def claims_view(table: pd.DataFrame) -> HTMLTable:
    """The claims table as the book shows it: one line per claim and study, the verdict
    first (coloured), the claim with the paper's place and the reason for the verdict, our
    number with its interval over seed groups and examples, then the range over seed groups,
    the raw and Holm-adjusted p-values and the learning-order measures.

    ``table`` has the columns of :data:`agreement_core.claims.CLAIM_COLUMNS`; returns an
    :class:`HTMLTable` (a card per claim on a phone, :func:`_verdict_table`).
    """
    def claim(row) -> str:
        return f"{html.escape(row.claim)} ({html.escape(row.paper)}){_note_html(row)}"

    return HTMLTable(_verdict_table(table, "claim (paper)", claim, raw_p=True))


def verdict_summary(table: pd.DataFrame) -> str:
    """``"3 reproduced, 1 differs, ..."``: the count of each verdict, in the specification's
    order."""
    counts = table["verdict"].value_counts()
    return ", ".join(f"{counts[v]} {v}" for v in VERDICT_COLOURS if v in counts) or "none"


def p_value_text(p: float, n_perm: int) -> str:
    """A permutation p-value as text: ``"< 1/(n_perm + 1)"`` at the floor of the test (no
    permutation as extreme as the data), else three significant digits."""
    if pd.isna(p):
        return ""
    floor = 1.0 / (n_perm + 1)
    return f"< {floor:.2g}" if p <= floor * (1 + 1e-9) else f"{p:.3g}"


def correlation_view(table: pd.DataFrame, n_perm: int):
    """A correlation table (:func:`agreement_core.findings.correlation_rows`) as the book
    shows it: rho and its interval to three decimals, the p-value as text (``"< 0.001"`` at
    the permutation floor, :func:`p_value_text`), counts as integers; a pandas ``Styler``."""
    shown = table.copy()
    if "p_value" in shown:
        shown["p_value"] = [p_value_text(p, n_perm) for p in shown["p_value"]]
    numbers = {c: "{:+.3f}" for c in ("rho", "ci_low", "ci_high") if c in shown}
    style = shown.style.hide(axis="index").format(numbers, na_rep="")
    if "p_value" in shown:
        style = style.format(subset=["p_value"], escape="html")
    return style.set_properties(**{"text-align": "left"})


def verdict_box(table: pd.DataFrame, differences: Sequence[str] = ()) -> str:
    """A figure page's verdict as HTML: each of the paper's claims in its own words, then per
    study the verdict, our number with its interval (over seed groups and examples), the
    learning-order measures and the reason (a card per study on a phone,
    :func:`_verdict_table`); then how our setup differs from the paper's.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of the claims table (columns :data:`agreement_core.claims.CLAIM_COLUMNS`).
    differences : sequence of str
        How the studies behind the page differ from the paper's (e.g. from
        :meth:`agreement_core.study.FigureSession.setup_differences`).

    Returns
    -------
    str
        HTML; ``IPython.display.HTML(...)`` shows it (:meth:`FigureSession.verdict` does).
    """
    esc = html.escape

    def claim(row) -> str:
        return f"{esc(row.claim)}<br><small>{esc(row.measure)}</small>{_note_html(row)}"

    parts = ['<div class="claim-verdicts">',
             '<p class="claim-verdicts-title">The paper says, we measure</p>']
    for (quote, paper), rows in table.groupby(["quote", "paper"], sort=False):
        parts.append(f'<blockquote>&ldquo;{esc(quote)}&rdquo; <cite>({esc(paper)})</cite>'
                     '</blockquote>')
        parts.append(_verdict_table(rows, "claim (measure)", claim))
    parts.append(f'<p class="claim-verdicts-summary">Verdicts: {esc(verdict_summary(table))}.'
                 "</p>")
    if differences:
        lead = ("Where we differ, the likeliest reasons are how our setup differs from the "
                "paper's:" if (table["verdict"] == "differs").any()
                else "How our setup differs from the paper's:")
        parts.append(f"<p>{lead}</p><ul>"
                     + "".join(f"<li>{esc(d)}</li>" for d in differences) + "</ul>")
    parts.append("</div>")
    return "".join(parts)


def unavailable_markdown(reasons: dict) -> str:
    """``"**Not shown here.** <name>: <reason>"``, one paragraph per entry; ``""`` for none.

    Markdown, not printed text: the book wraps it like any paragraph (a printed line is a
    code block that a narrow page cuts off).
    """
    # Escaped: a reason's "<data root>" would otherwise be read as an HTML tag and vanish.
    return "\n\n".join(f"**Not shown here.** {html.escape(name)}: {html.escape(reason)}"
                        for name, reason in reasons.items())


def show_unavailable(reasons: dict) -> None:
    """Show why some studies or tables are missing, one paragraph per entry (Markdown,
    :func:`unavailable_markdown`); nothing when there is none.

    Parameters
    ----------
    reasons : dict of str to str
        E.g. a :class:`~agreement_core.study.FigureSession`'s ``unavailable``.
    """
    if reasons:
        from IPython.display import Markdown, display

        display(Markdown(unavailable_markdown(reasons)))


@dataclass(frozen=True)
class FigureImage:
    """A figure saved for the page: the PNG (:func:`figure_png`), its natural size in CSS
    pixels and the height of its smallest text at that size."""

    png: bytes
    width: int
    height: int
    text_px: float

    @classmethod
    def of(cls, fig, dpi: int = FIGURE_DPI) -> FigureImage:
        png, width = figure_png(fig, dpi)
        pixels = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        return cls(png=png, width=width, height=round(pixels[1] * CSS_PX_PER_IN / dpi),
                   text_px=smallest_font_pt(fig) * CSS_PX_PER_IN / 72)

    @property
    def uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    def legible_from(self) -> int:
        """The narrowest column (CSS px) that shows its smallest text at
        :data:`MIN_SHOWN_TEXT_PX` or more."""
        return math.ceil(self.width * MIN_SHOWN_TEXT_PX / self.text_px)


def figure_html(wide: FigureImage, narrow: FigureImage | None = None, alt: str = "") -> str:
    """A figure as an HTML ``<picture>``: ``wide`` at its natural size, and ``narrow`` (its
    phone version) on screens too narrow for ``wide``'s text to be legible, up to its
    :meth:`~FigureImage.legible_from` column plus :data:`COLUMN_MARGIN_PX`.

    Both PNGs are data URIs, so the notebook stands alone; the book's build writes them to
    files (``book/_ext/book_assets.py``), and a browser loads only the one it shows. The
    ``width`` and ``height`` of each are its natural size in CSS pixels (the page's
    stylesheet lets a figure shrink to its column, never grow).
    """
    alt_text = html.escape(alt, quote=True)
    source = ""
    if narrow is not None:
        media = f"(max-width: {wide.legible_from() + COLUMN_MARGIN_PX}px)"
        source = (f'<source media="{media}" srcset="{narrow.uri}" width="{narrow.width}" '
                  f'height="{narrow.height}">')
    return (f'<picture class="agreement-figure">{source}<img src="{wide.uri}" '
            f'width="{wide.width}" height="{wide.height}" alt="{alt_text}"></picture>')


def _alt_text(fig) -> str:
    """The figure's title, else its panels' titles: a short name for screen readers (the
    caption under the figure describes it)."""
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    if title.strip():
        return " ".join(title.split())
    names = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    return "; ".join(" ".join(n.split()) for n in names[:4]) or "figure"


def show(fig, caption: str | None = None) -> None:
    """Display a figure in a notebook, close it, and print its caption below it (Markdown).

    The figure goes out as a PNG at :data:`FIGURE_DPI` shown at its natural size (96 CSS
    pixels per inch; the page scales it down where it is narrower), with its smallest text
    size recorded (:func:`figure_png`). A figure wider than :data:`PHONE_WIDTH_IN` that one
    of this module's functions built is drawn again for a phone's column (:func:`redraw`):
    the page shows that version on screens too narrow for the first (:func:`figure_html`).
    In the book a click enlarges a figure.
    """
    from IPython.display import HTML, Markdown, display

    wide = FigureImage.of(fig)
    narrow = None
    if wide.width > PHONE_WIDTH_IN * CSS_PX_PER_IN + 8:  # else it already fits a phone
        small = redraw(fig, PHONE_WIDTH_IN)
        if small is not None:
            narrow = FigureImage.of(small)
            plt.close(small)
    alt = _alt_text(fig)
    plt.close(fig)
    display(HTML(figure_html(wide, narrow, alt)))
    if caption:
        display(Markdown(f"*{caption}*"))


# ------------------------------------------------------------------ learning order (Hacohen)
#: Width of the learning-order figures: one column (a phone gets its own width).
ORDER_FIGURE_IN = 4.6


def _order_width() -> float:
    return min(ORDER_FIGURE_IN, column_width())


def _interval_rows(ax, labels, values, lows, highs, colours) -> None:
    """Points with their intervals, one row each, top to bottom."""
    y = np.arange(len(labels))[::-1]
    for yi, v, lo, hi, c in zip(y, values, lows, highs, colours, strict=True):
        ax.errorbar([v], [yi], xerr=[[v - lo], [hi - v]] if np.isfinite(lo) else None,
                    fmt="o", markersize=4, color=c, capsize=2)
    ax.set_yticks(list(y), labels)
    ax.set_ylim(-0.7, len(labels) - 0.3)


@styled
def order_reliability_figure(ceiling: pd.DataFrame, explained: pd.DataFrame,
                             split: str = "train"):
    """How reproducible the learning order is, and how much of it a predictor recovers.

    Spearman rho of the agreed-from order (never agreed last) between seed groups of one
    architecture and between architectures (``ceiling.csv`` of
    :func:`agreement_core.hacohen.run_study_order`), and the out-of-fold rho of each
    predictor (``explained.csv``) with the pooled order of the seed groups, beside the most
    any predictor can reach against that noisy target: the square root of its Spearman-Brown
    reliability (dashed).
    """
    c = ceiling[(ceiling["split"] == split) & (ceiling["order"] == "order_key")]
    e = explained[explained["split"] == split] if "split" in explained else explained
    labels, values, lows, highs, colours = [], [], [], [], []
    for r in c.itertuples(index=False):
        same = r.between.endswith(" seeds")
        labels.append(f"{r.between.removesuffix(' seeds')}: seed groups" if same
                      else r.between.replace(" vs ", " vs\n"))
        values.append(r.rho), lows.append(r.rho_ci_low), highs.append(r.rho_ci_high)
        colours.append(AGREEMENT_COLOR if same else "#6baed6")
    for r in e.itertuples(index=False):
        what = r.predictor + (" + class" if r.with_class else "")
        labels.append(f"{what}\n({r.model}, cross-validated)")
        values.append(r.rho_oof), lows.append(r.rho_oof_ci_low), highs.append(r.rho_oof_ci_high)
        colours.append(STATISTIC_COLOR)
    fig, ax = _figure(figsize=(_order_width(), 0.42 * len(labels) + 1.3))
    _interval_rows(ax, labels, values, lows, highs, colours)
    reliability = c.loc[c["between"].str.endswith(" seeds"), "reliability"]
    if len(reliability):
        ceiling_rho = float(np.sqrt(reliability.iloc[0]))
        ax.axvline(ceiling_rho, color="gray", linestyle="--", linewidth=1)
        ax.text(ceiling_rho, len(labels) - 0.4, f" ceiling {ceiling_rho:.2f}", fontsize=9,
                color="gray", va="bottom", ha="right")
    ax.axvline(0, color="gray", linewidth=0.8)
    ax.set_xlim(min(0.0, min(lows) - 0.05) if lows else 0, 1.0)
    ax.set_xlabel(f"Spearman rho, {split} examples (95% CI)")
    ax.set_ylabel("order of / predictor")
    ax.set_title("blue: order between networks; orange: predicted from the examples",
                 fontsize=9)
    return fig


@styled
def nested_figure(nested: pd.DataFrame, split: str = "train", sets: str = "agreed_from"):
    """Claim 2: per epoch, the share of the weaker family's agreed set that the stronger one
    has also agreed on (solid), against independent sets of the same sizes (dashed); one
    colour per pair (``nested.csv`` of :func:`agreement_core.hacohen.run_study_order`)."""
    rows = nested[(nested["split"] == split) & (nested["sets"] == sets)]
    fig, ax = _figure(figsize=(_order_width(), 4.6))
    for (weak, strong), part in rows.groupby(["weaker", "stronger"], sort=False):
        label = f"{weak} in {strong}"
        line, = ax.plot(part["epoch"], part["share"], marker="o", markersize=3, label=label)
        ax.fill_between(part["epoch"], part["share_ci_low"], part["share_ci_high"],
                        color=line.get_color(), alpha=0.2)
        ax.plot(part["epoch"], part["chance"], linestyle="--", color=line.get_color())
    ax.set(xlabel="epoch", ylabel="share also agreed by the other", ylim=(0, 1.02),
           title="solid: measured; dashed: chance")
    _legend_below(fig, *ax.get_legend_handles_labels(), ncols=1)
    return fig


@styled
def synthetic_figure(groups: pd.DataFrame, cross_groups: pd.DataFrame | None = None):
    """Claims 3-5: excess TP-agreement (above independent learners at the same accuracies)
    per dataset and learner, one point per seed group and the mean (bar); and, for the
    datasets with boosting, the rho of a network group's and of a boosting group's order
    with the other network groups' pooled order (``groups.csv``, ``cross_groups.csv`` of
    :func:`agreement_core.hacohen.run_hacohen`)."""
    panels = 2 if cross_groups is not None and len(cross_groups) else 1
    fig, axes = _figure(panels, 1, figsize=(_order_width(), 3.2 * panels + 0.4),
                        squeeze=False)
    ax = axes[0, 0]
    keys = list(dict.fromkeys(zip(groups["dataset"], groups["learner"], strict=True)))
    colours = {"network": AGREEMENT_COLOR, "boosting": STATISTIC_COLOR}
    for i, (dataset, learner) in enumerate(keys):
        part = groups[(groups["dataset"] == dataset) & (groups["learner"] == learner)]
        ax.barh(-i, part["excess"].mean(), color=colours.get(learner, "gray"), alpha=0.5)
        ax.plot(part["excess"], [-i] * len(part), "o", markersize=3, color="black")
    ax.set_yticks([-i for i in range(len(keys))],
                  [f"{d} ({'MLP' if lr == 'network' else lr})" for d, lr in keys])
    ax.axvline(0, color="gray", linewidth=0.8)
    ax.set_xlabel("TP-agreement minus independent learners'")
    ax.set_ylabel("dataset (learner)")
    if panels == 2:
        ax = axes[1, 0]
        rows = cross_groups[cross_groups["order"] == "order_key"]
        datasets = list(dict.fromkeys(rows["dataset"]))
        for i, dataset in enumerate(datasets):
            part = rows[rows["dataset"] == dataset]
            for j, (column, learner) in enumerate((("network_rho", "network"),
                                                    ("boosting_rho", "boosting"))):
                y = -i - 0.35 * j
                ax.barh(y, part[column].mean(), height=0.3, color=colours[learner],
                        alpha=0.5, label=("MLP group" if j == 0 else "boosting group")
                        if i == 0 else None)
                ax.plot(part[column], [y] * len(part), "o", markersize=3, color="black")
        ax.set_yticks([-i - 0.17 for i in range(len(datasets))], datasets)
        ax.set_xlabel("rho with the other MLP groups' order")
        ax.set_ylabel("dataset")
        ax.set_xlim(0, 1)
        ax.legend(loc="lower right")
    return fig

"""Shared plots: the paper's agreement figure and its statistic overlay.

Every notebook and the README draw through these functions, so that one figure
style serves the whole study (matplotlib, the Agg backend works headless).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from skimage.color import label2rgb

from .agreement import agreement_table, combined_agreement_table
from .correlation import agreement_curves
from .statistics.maps import statistic_maps

# Matplotlib's tab10 blue, red and orange, as hex so that Plotly accepts them too.
AGREEMENT_COLOR, ACCURACY_COLOR, STATISTIC_COLOR = "#1f77b4", "#d62728", "#ff7f0e"


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
    ax = ax if ax is not None else plt.subplots(figsize=(5, 3.5))[1]
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
    twin.set_ylabel(f"{statistic} (agreed examples)", color=STATISTIC_COLOR)
    twin.tick_params(axis="y", colors=STATISTIC_COLOR)
    return twin


def agreement_figure(store, *, splits=None, statistics: dict | None = None,
                     statistic: str | None = None, title: str | None = None, **curve_kwargs):
    """One panel per split; with ``statistics`` (split -> table) and ``statistic``, the overlay.

    ``curve_kwargs`` go to :func:`~agreement_core.correlation.agreement_curves`
    (``min_epoch``, ``min_accuracy``).
    """
    splits = list(splits or store.splits)
    fig, axes = plt.subplots(1, len(splits), figsize=(5.2 * len(splits), 3.8), squeeze=False)
    for ax, split in zip(axes[0], splits, strict=True):
        plot_agreement(agreement_table(store, split), ax, title=f"{split} set")
        table = (statistics or {}).get(split)
        if statistic and table is not None:
            curves = agreement_curves(store, split, table, [statistic], **curve_kwargs)
            if len(curves):
                plot_statistic(curves, statistic, ax)
    axes[0][0].legend(loc="upper left", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _grid(n: int, ncols: int, size=(4.2, 3.3)):
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def agreement_panels(tables: dict, *, ncols: int = 4, suptitle: str | None = None):
    """One agreement panel per entry of ``tables`` (title -> agreement table): ablations."""
    if not tables:
        raise ValueError("no agreement tables to plot")
    fig, axes = _grid(len(tables), ncols)
    for ax, (title, table) in zip(axes, tables.items(), strict=True):
        plot_agreement(table, ax, title=title)
    axes[0].legend(loc="upper left", fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


def statistic_panels(store, split: str, statistics: pd.DataFrame, columns, *, ncols: int = 3,
                     suptitle: str | None = None, **curve_kwargs):
    """The paper's statistics figure: one agreement panel per statistic with its orange curve.

    ``statistics`` is keyed by ``example_id``; ``curve_kwargs`` go to
    :func:`~agreement_core.correlation.agreement_curves`.
    """
    columns = [c for c in columns if c in statistics.columns]
    if not columns:
        raise ValueError("none of the requested statistics is in the table")
    table = agreement_table(store, split)
    curves = agreement_curves(store, split, statistics, columns, **curve_kwargs)
    fig, axes = _grid(len(columns), ncols)
    for ax, column in zip(axes, columns, strict=True):
        plot_agreement(table, ax, title=f"{split} set: {column}")
        if len(curves) and curves[column].notna().any():
            plot_statistic(curves, column, ax)
    axes[0].legend(loc="upper left", fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


def categorical_panels(shares: dict, *, ncols: int = 3, suptitle: str | None = None):
    """Share of each value's examples that are agreed upon, per epoch (KTH illumination, pose).

    ``shares`` maps a factor name to
    :func:`~agreement_core.correlation.categorical_agreement_shares`.
    """
    fig, axes = _grid(len(shares), ncols)
    for ax, (factor, table) in zip(axes, shares.items(), strict=True):
        for value, rows in table.groupby("value", sort=False):
            ax.plot(rows["epoch"], rows["share"], marker="o", markersize=3, label=str(value))
        ax.set(xlabel="epoch", ylabel="share agreed upon", ylim=(0, 1), title=factor)
        ax.legend(fontsize=7, title=factor, title_fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


def statistic_histograms(tables: dict, columns, *, bins: int = 40, suptitle: str | None = None):
    """Histograms of every statistic, one row per table (name -> statistics table): Figs. 12-15."""
    names = list(tables)
    columns = [c for c in columns if any(c in tables[n].columns for n in names)]
    fig, axes = plt.subplots(len(names), len(columns), figsize=(3.1 * len(columns),
                                                                2.5 * len(names)),
                             squeeze=False)
    for r, name in enumerate(names):
        for c, column in enumerate(columns):
            ax = axes[r][c]
            values = tables[name][column] if column in tables[name] else pd.Series(dtype=float)
            values = pd.to_numeric(values, errors="coerce").dropna()
            if len(values):
                ax.hist(values, bins=bins, color=STATISTIC_COLOR, alpha=0.8)
                ax.axvline(values.mean(), color="black", linewidth=1)
            ax.set_title(f"{name}: {column}" + ("" if len(values) else " (none)"), fontsize=8)
            ax.tick_params(labelsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


def statistic_maps_figure(images: dict, *, suptitle: str | None = None):
    """Figs. 3, 10, 11: each image (title -> uint8 RGB) with segments, entropy, edges, DCT."""
    columns = ["image", "segments", "windowed entropy", "Sobel magnitude",
               "DCT log|c| (kept: bright)"]
    fig, axes = plt.subplots(len(images), len(columns), figsize=(2.6 * len(columns),
                                                                 2.6 * len(images)),
                             squeeze=False)
    for r, (title, image) in enumerate(images.items()):
        maps = statistic_maps(image)
        panels = [image, label2rgb(maps["segments"], image, kind="avg"), maps["entropy"],
                  maps["sobel"], maps["dct"]]
        for c, panel in enumerate(panels):
            ax = axes[r][c]
            if c == 4:
                ax.imshow(panel, cmap="gray", alpha=0.35)
                ax.imshow(maps["dct_kept"], cmap="Oranges", alpha=maps["dct_kept"] * 0.8)
            else:
                ax.imshow(panel, cmap=None if c < 2 else "magma")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(columns[c] if r == 0 else "", fontsize=8)
        axes[r][0].set_ylabel(title, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


def correlation_forest(table: pd.DataFrame, ax=None, *, title: str | None = None):
    """Spearman rho with its bootstrap interval per statistic and scope (a forest plot).

    ``table`` is :func:`~agreement_core.correlation.correlation_table` (optionally with a
    ``split`` column). Negative rho: examples with a higher statistic are agreed on earlier.
    """
    rows = table.reset_index(drop=True)
    labels = [" / ".join(str(r[c]) for c in ("split", "statistic", "scope") if c in rows)
              for _, r in rows.iterrows()]
    ax = ax if ax is not None else plt.subplots(figsize=(6.5, 0.32 * len(rows) + 1))[1]
    y = np.arange(len(rows))[::-1]
    for scope, color in (("all", AGREEMENT_COLOR), ("within_class", STATISTIC_COLOR)):
        mask = (rows["scope"] == scope).to_numpy()
        part = rows[mask]
        ax.errorbar(part["rho"], y[mask], xerr=[part["rho"] - part["ci_low"],
                                                part["ci_high"] - part["rho"]],
                    fmt="o", markersize=4, color=color, capsize=2, label=scope)
    ax.axvline(0, color="gray", linewidth=0.8)
    ax.set_yticks(list(y), labels, fontsize=7)
    ax.set_xlabel("Spearman rho with the agreed-from epoch (95% bootstrap CI)")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def metric_comparison(tables: dict, metrics, *, suptitle: str | None = None):
    """One panel per metric (column of agreement tables), one line per table (label -> table).

    Serves online vs eval recording and false-positive agreement across studies.
    """
    fig, axes = _grid(len(metrics), len(metrics), size=(4.4, 3.2))
    for ax, metric in zip(axes, metrics, strict=True):
        for label, table in tables.items():
            ax.plot(table["epoch"], table[metric], marker="o", markersize=3, label=label)
        ax.set(xlabel="epoch", title=metric.replace("_", " "))
    axes[0].legend(fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


def curriculum_curves(curves: pd.DataFrame, *, suptitle: str | None = None):
    """Mean test accuracy (± std over networks) against training progress, one line per mode."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for mode, rows in curves.groupby("mode", sort=False):
        rows = rows.assign(progress=rows["step"] / rows["total_steps"])
        stats = rows.groupby("progress")["test_accuracy"].agg(["mean", "std"]).reset_index()
        ax.plot(stats["progress"], stats["mean"], marker="o", markersize=3, label=mode)
        ax.fill_between(stats["progress"], stats["mean"] - stats["std"].fillna(0),
                        stats["mean"] + stats["std"].fillna(0), alpha=0.15)
    ax.set(xlabel="fraction of the training budget", ylabel="test accuracy")
    ax.legend(fontsize=8)
    if suptitle:
        ax.set_title(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


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
        7 inches wide, 0.3 inch per row plus 1.2 high.
    """
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(table) + 1.2))
    correlation_forest(table, ax, title=title)
    return fig


def show_agreement_by_split(stores: dict, caption: str | None = None, *,
                            splits=("train", "test"), ncols: int = 4) -> None:
    """Show one figure per split with one agreement panel per store: Figs. 8 and 9.

    Parameters
    ----------
    stores : dict of str to RecordStore
        Label -> store; panels are titled ``"<label>, <split>"``.
    caption : str, optional
        Shown under every figure.
    splits : sequence of str
    ncols : int
        Panels per row (:func:`agreement_panels`).
    """
    for split in splits:
        tables = {f"{label}, {split}": agreement_table(store, split)
                  for label, store in stores.items()}
        show(agreement_panels(tables, ncols=ncols), caption)


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
        Shown under every figure.
    splits : sequence of str
    suptitle : str
        Formatted with the split (e.g. ``"CIFAR-10 {split} set"``).
    """
    for split in splits:
        tables = {label: agreement_table(store, split) for label, store in stores.items()}
        show(metric_comparison(tables, metrics, suptitle=suptitle.format(split=split)), caption)


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


#: Background of each verdict in the claims table (colour-blind-safe, light enough for text).
VERDICT_COLOURS = {"reproduced": "#d9f0d3", "differs": "#fbd3c6",
                   "not testable here": "#e8e8e8", "not run yet": "#fff3bf"}


def claims_view(table: pd.DataFrame):
    """The claims table as the book shows it: one line per claim, the number with its
    interval over examples and its range over seed groups, the verdict coloured.

    ``table`` has the columns of :data:`agreement_core.claims.CLAIM_COLUMNS`; returns a
    pandas ``Styler``.
    """
    def number(value, low, high, fmt="{:+.3f}"):
        if pd.isna(value):
            return ""
        text = fmt.format(value)
        return text if pd.isna(low) else f"{text} [{fmt.format(low)}, {fmt.format(high)}]"

    shown = pd.DataFrame({
        "claim (paper)": table["claim"] + " (" + table["paper"] + ")",
        "study": table["study"],
        "measure": table["measure"],
        "ours [95% CI over examples]": [number(*r) for r in
                                        table[["value", "ci_low", "ci_high"]].itertuples(
                                            index=False)],
        "seed groups (min to max)": [
            "" if n < 2 else f"{lo:+.3f} to {hi:+.3f} ({n})" for lo, hi, n in
            table[["seed_min", "seed_max", "n_seed_groups"]].itertuples(index=False)],
        "verdict": table["verdict"],
        "note": table["note"].fillna(""),
    })
    return (shown.style.hide(axis="index")
            .map(lambda v: f"background-color: {VERDICT_COLOURS.get(v, 'white')}",
                 subset=["verdict"])
            .set_properties(**{"text-align": "left", "white-space": "normal"}))


def show_unavailable(reasons: dict) -> None:
    """Print one line ``"<name>: <reason>"`` per entry; nothing when there is none.

    Parameters
    ----------
    reasons : dict of str to str
        E.g. a :class:`~agreement_core.study.FigureSession`'s ``unavailable``.
    """
    for name, reason in reasons.items():
        print(f"{name}: {reason}")


def show(fig, caption: str | None = None) -> None:
    """Display a figure in a notebook, close it, and print its caption below it (Markdown)."""
    from IPython.display import Markdown, display

    display(fig)
    plt.close(fig)
    if caption:
        display(Markdown(f"*{caption}*"))

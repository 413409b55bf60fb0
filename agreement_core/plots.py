"""Shared plots: the paper's agreement figure and its statistic overlay.

Every notebook and the README draw through these functions, so that one figure
style serves the whole study (matplotlib, the Agg backend works headless).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .agreement import agreement_table
from .correlation import agreement_curves

AGREEMENT_COLOR, ACCURACY_COLOR, STATISTIC_COLOR = "tab:blue", "tab:red", "tab:orange"


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

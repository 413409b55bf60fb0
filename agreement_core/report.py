"""The learning-dynamics table: one row per example of a study, and its summary.

:func:`learning_dynamics_table` joins, for every split of a record store, the
per-example learning dynamics (:func:`agreement_core.agreement.example_dynamics_table`)
with the example's image statistics and dataset factors (the tables of
:func:`agreement_core.statistics.compute_statistics`). It is the table people
take to curriculum learning and data pruning; its columns are documented in
:data:`DYNAMICS_COLUMNS` and ``docs/dynamics_table.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .agreement import agreement_table, example_dynamics_table
from .correlation import correlation_table, rank_agreed_from
from .errors import ConfigError
from .records import RecordStore

#: Column -> meaning; ``<k>`` stands for the network index 0..K-1.
DYNAMICS_COLUMNS = {
    "example_id": "the dataset's stable example id (per split)",
    "split": "train or test",
    "label": "the label the networks were trained and scored against (single-label; under "
             "the random-label ablation the random label)",
    "agreed_from_epoch": "first epoch from which all K networks stay correct to the last "
                         "recorded epoch; nullable Int16, missing (<NA>) if not all are "
                         "correct at the last epoch (never agreed upon)",
    "first_correct_epoch_<k>": "first epoch network k is correct; nullable Int16, missing "
                               "(<NA>) if never",
    "forgetting_events_<k>": "epochs at which network k turns from correct to wrong",
    "forgetting_events": "sum of forgetting events over the networks",
    "hacohen_agreement_last": "largest fraction of networks predicting the same label, last "
                              "epoch",
    "fp_agreement_last": "all networks wrong with the same label at the last epoch",
    "mean_true_prob": "mean over networks and epochs of the probability of the true label "
                      "(when recorded)",
    "std_true_prob": "standard deviation of the same (variability, when recorded)",
    "<statistic>": "every image statistic and dataset factor of the statistics table",
}


def learning_dynamics_table(store: RecordStore,
                            statistics: Mapping[str, pd.DataFrame] | None = None,
                            splits=None) -> pd.DataFrame:
    """One row per example of every split: learning dynamics and image statistics.

    Parameters
    ----------
    store : RecordStore
    statistics : mapping of split -> DataFrame, optional
        Statistics tables keyed by ``example_id`` (e.g. read with
        :func:`agreement_core.statistics.read_statistics`); joined by id.
    splits : list of str, optional
        Default: every split of the store.
    """
    statistics = dict(statistics or {})
    frames = []
    for split in splits or store.splits:
        table = example_dynamics_table(store, split).rename(columns={"target": "label"})
        table.insert(1, "split", split)
        extra = statistics.get(split)
        if extra is not None:
            missing = ~table["example_id"].isin(extra["example_id"])
            if missing.any():
                raise ConfigError(f"the {split} statistics table lacks {int(missing.sum())} of "
                                  f"the store's {len(table)} example ids")
            extra = extra.drop(columns=[c for c in ("label", "labels", "split") if c in extra])
            table = table.merge(extra, on="example_id", how="left")
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def area_above_bound(table: pd.DataFrame) -> float:
    """Area between the agreement curve and its lower bound: mean over epochs of TPa - Lba.

    The blue area of the paper's figures, per epoch; 0 when agreement is no more
    than the lower bound forces. ``table`` is an
    :func:`~agreement_core.agreement.agreement_table`; NaN when it has no epoch.
    """
    return float((table["tpa"] - table["lower_bound"]).mean()) if len(table) else float("nan")


def agreement_area(store: RecordStore, split: str) -> float:
    """:func:`area_above_bound` of the agreement table of ``split``."""
    return area_above_bound(agreement_table(store, split))


def summarize(store: RecordStore, table: pd.DataFrame, *, top: int = 5, n_boot: int = 1000,
              n_perm: int = 1000, seed: int = 0) -> str:
    """A short text summary: agreement area per split and the strongest correlations.

    Per split: the agreement above the lower bound, the share of examples never agreed upon
    (``agreed_from_epoch`` missing), the mean and median agreed-from epoch **over the agreed
    examples only** (a "never" has no epoch to average), and the strongest Spearman
    correlations of the statistics with the agreed-from epoch (never agreed ranked last).

    Raises
    ------
    ValueError
        An ``agreed_from_epoch`` outside ``[1, store.num_epochs]``, e.g. the old ``-1`` for
        never agreed (see :func:`agreement_core.correlation.rank_agreed_from`).
    """
    lines = []
    for split in table["split"].unique():
        rows = table[table["split"] == split]
        # Validates the column (missing = never; -1 is rejected) and orders never last.
        order = rank_agreed_from(rows["agreed_from_epoch"], store.num_epochs)
        never = order > store.num_epochs
        lines.append(f"{split}: {len(rows)} examples, agreement above the lower bound "
                     f"{agreement_area(store, split):.3f} (mean over epochs of TPa - Lba), "
                     f"{never.mean():.1%} never agreed upon ({int(never.sum())})")
        agreed_epochs = order[~never]
        if agreed_epochs.size:
            lines.append(f"  agreed-from epoch over the {agreed_epochs.size} agreed examples "
                         f"only (never agreed excluded): mean {agreed_epochs.mean():.2f}, "
                         f"median {np.median(agreed_epochs):g}")
        else:
            lines.append("  no example agreed upon: no agreed-from epoch to average")
        dynamics_columns = {"example_id", "split", "label", "labels"} | {
            c for c in rows.columns if c.startswith(("first_correct_epoch", "forgetting_events",
                                                     "hacohen_agreement", "fp_agreement",
                                                     "agreed_from", "mean_true_prob",
                                                     "std_true_prob"))}
        stats = [c for c in rows.columns if c not in dynamics_columns
                 and pd.api.types.is_numeric_dtype(rows[c])]
        if not stats:
            lines.append("  (no statistics joined: pass statistics tables for correlations)")
            continue
        correlations = correlation_table(rows, rows[["example_id", *stats]], stats,
                                         num_epochs=store.num_epochs, label_column="label",
                                         n_boot=n_boot, n_perm=n_perm, seed=seed)
        correlations = correlations.reindex(
            correlations["rho"].abs().sort_values(ascending=False).index)
        lines.append("  strongest Spearman correlations with the agreed-from epoch "
                     f"(never agreed = last; {int(100 * 0.95)}% bootstrap CI, permutation p):")
        for row in correlations.head(top).itertuples():
            lines.append(f"    {row.statistic:<22}{row.scope:<13} rho {row.rho:+.3f} "
                         f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}]  p {row.p_value:.3g}  "
                         f"n {row.n}")
    return "\n".join(lines)


def easy_and_hard_examples(store: RecordStore, split: str) -> dict[str, int]:
    """Rows of an easy and a hard example of ``split``, for showing statistics on them.

    Easy: agreed upon earliest (smallest agreed-from epoch), ties broken by the
    highest mean true-class probability (or the first row). Hard: never agreed
    upon (agreed-from epoch missing) and, among those, the lowest mean true-class
    probability (or, when every example is agreed upon, the one agreed upon last).
    The keys describe the picks: ``"easy: agreed from epoch 1"``,
    ``"hard: never agreed"``, ...
    """
    table = example_dynamics_table(store, split)
    # Never agreed (missing) ranks after every agreed epoch, as num_epochs + 1.
    late = rank_agreed_from(table["agreed_from_epoch"], store.num_epochs)
    never = late > store.num_epochs
    confidence = (table["mean_true_prob"].to_numpy() if "mean_true_prob" in table
                  else np.zeros(len(table)))
    easy = int(np.lexsort((-confidence, late))[0])
    hard = int(np.lexsort((confidence, -late))[0])

    def describe(row: int) -> str:
        return "never agreed" if never[row] else f"agreed from epoch {late[row]}"

    return {f"easy: {describe(easy)}": easy, f"hard: {describe(hard)}": hard}


def examples_across_learning_order(store: RecordStore, split: str, count: int = 6,
                                   seed: int = 0) -> list[int]:
    """Rows of ``count`` examples spread over the learning order, for Fig. 1's strip.

    The examples' agreed-from epochs (the first epoch from which all K networks stay
    correct; never agreed last) are sorted, and one example is drawn at random (from
    ``seed``) at each of ``count`` evenly spaced quantiles of that order: from the
    earliest agreed to the latest or never agreed.

    Returns
    -------
    list of int
        Rows of ``split``, earliest agreed first.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    table = example_dynamics_table(store, split)
    late = rank_agreed_from(table["agreed_from_epoch"], store.num_epochs)
    rng = np.random.default_rng(seed)
    order = np.argsort(late + rng.random(len(late)), kind="stable")  # random within an epoch
    picks = np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int)
    return [int(order[i]) for i in picks]


__all__ = ["DYNAMICS_COLUMNS", "agreement_area", "area_above_bound", "easy_and_hard_examples",
           "examples_across_learning_order", "learning_dynamics_table", "summarize"]

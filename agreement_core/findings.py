"""The book's tables: what the notebooks show as numbers, computed from record stores.

Each function turns one or more record stores (and their statistics tables) into one
DataFrame, or one value, that a notebook shows as it is (rounded at most). The notebooks
only choose the studies; everything they would otherwise loop over, join or tabulate by
hand lives here, with tests.

This module sits beside :mod:`agreement_core.report`: it reads record stores and statistics
tables, never a profile or a results directory (:mod:`agreement_core.study` finds the
studies and passes them in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from .agreement import agreement_table, independent_agreement
from .claims import undecided_reasons, verdict_counts
from .correlation import (
    categorical_agreement_shares,
    correlation_table,
    rank_agreed_from,
    spearman_test,
)
from .records import RecordStore
from .report import area_above_bound, learning_dynamics_table

#: The image statistics correlated with the agreed-from epoch, in the order of the tables.
CORRELATED_STATISTICS = ("entropy", "segments", "dct_share", "sobel_edges", "soft_label_entropy")

#: The per-example learning-dynamics columns summarised per split.
DYNAMICS_SUMMARY_COLUMNS = ("agreed_from_epoch", "forgetting_events", "mean_true_prob",
                            "std_true_prob")


class StudyRecords(Protocol):
    """What a table needs of a study: its records and its statistics tables.

    :class:`agreement_core.study.FigureStudy` is one; any object with these two
    attributes will do.
    """

    store: RecordStore
    statistics: Mapping[str, pd.DataFrame]


def last_epoch_summary(stores: Mapping[str, RecordStore], *, key: str = "study"
                       ) -> pd.DataFrame:
    """The last recorded epoch of every split of several studies, with two references.

    Parameters
    ----------
    stores : mapping of str to RecordStore
        Name -> store (e.g. ``{"real labels": ..., "random labels": ...}``).
    key : str
        Name of the column holding the names.

    Returns
    -------
    pandas.DataFrame
        One row per (store, split), in the mapping's and the store's split order:
        ``key``, ``split``, ``epoch`` (the last epoch recorded for all networks),
        ``mean_acc``, ``tpa``, ``independent_tpa`` (the TPa of K independent networks
        with the same accuracies, :func:`~agreement_core.agreement.independent_agreement`),
        ``lower_bound`` and ``area_above_bound``
        (:func:`~agreement_core.report.area_above_bound`: the mean over epochs of TPa
        minus its lower bound).

    Raises
    ------
    ValueError
        When a split of a store has no epoch recorded for all networks.
    """
    columns = [key, "split", "epoch", "mean_acc", "tpa", "independent_tpa", "lower_bound",
               "area_above_bound"]
    rows = []
    for name, store in stores.items():
        for split in store.splits:
            table = agreement_table(store, split)
            if table.empty:
                raise ValueError(f"{store.path} has no {split} epoch recorded for every network")
            last = table.iloc[-1]
            epoch = int(last["epoch"])
            accuracies = store.correct(split, epoch).mean(axis=1)
            rows.append([name, split, epoch, last["mean_acc"], last["tpa"],
                         independent_agreement(accuracies), last["lower_bound"],
                         area_above_bound(table)])  # the table read above, not again
    return pd.DataFrame(rows, columns=columns)


def correlation_rows(studies: Iterable[StudyRecords],
                     columns: Sequence[str] = CORRELATED_STATISTICS, *, n_boot: int = 1000,
                     n_perm: int | None = None, seed=0) -> pd.DataFrame:
    """Correlation of each statistic with the agreed-from epoch, per study and split.

    For every study, the learning-dynamics table
    (:func:`~agreement_core.report.learning_dynamics_table`) of each split of its store is
    correlated with the statistics of ``columns`` that the split has (at least one value)
    by :func:`~agreement_core.correlation.correlation_table`, with the class as the
    within-class group.

    Parameters
    ----------
    studies : iterable of StudyRecords
        Objects with ``store`` and ``statistics`` (split -> statistics table), e.g.
        :class:`~agreement_core.study.FigureStudy`.
    columns : sequence of str
        Candidate statistics, in the order of the rows.
    n_boot, n_perm : int
        Bootstrap resamples and permutations (``n_perm`` None: ``n_boot``).
    seed
        As in :func:`~agreement_core.correlation.correlation_table`.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`~agreement_core.correlation.correlation_table`, one block per
        study and split, with a first column ``split``: ``"<dataset> <split>"``, the
        dataset being the one in the store's configuration (``"study"`` when it has none).
    """
    n_perm = n_boot if n_perm is None else n_perm
    blocks = []
    for study in studies:
        store = study.store
        dataset = store.config.get("dataset", "study")
        dynamics = learning_dynamics_table(store, study.statistics)
        for split in store.splits:
            part = dynamics[dynamics["split"] == split]
            present = [c for c in columns if c in part and part[c].notna().any()]
            table = correlation_table(part, part, present, num_epochs=store.num_epochs,
                                      label_column="label", n_boot=n_boot, n_perm=n_perm,
                                      seed=seed)
            table.insert(0, "split", f"{dataset} {split}")
            blocks.append(table)
    if not blocks:
        raise ValueError("no studies to correlate")
    return pd.concat(blocks, ignore_index=True)


def same_predictions(first: RecordStore, second: RecordStore, split: str = "test") -> bool:
    """Whether two stores recorded identical ``split`` predictions for every network and epoch.

    Used to check that two studies trained the same networks (e.g. online and eval-mode
    recording, whose test predictions both come from an eval pass).

    Parameters
    ----------
    first, second : RecordStore
    split : str

    Returns
    -------
    bool
        False as well when the stores differ in the number of networks, the epochs
        recorded for all networks, or the examples.
    """
    if (first.num_networks != second.num_networks
            or first.available_epochs(split) != second.available_epochs(split)
            or not np.array_equal(first.example_ids(split), second.example_ids(split))):
        return False
    return all(np.array_equal(first.read_predictions(k, split, epoch),
                              second.read_predictions(k, split, epoch))
               for k in range(first.num_networks)
               for epoch in range(1, first.available_epochs(split) + 1))


def agreement_difference(first: RecordStore, second: RecordStore, split: str = "train",
                         columns: Sequence[str] = ("tpa", "lower_bound", "mean_acc")
                         ) -> pd.DataFrame:
    """``first`` minus ``second``: the per-epoch difference of their agreement tables.

    Parameters
    ----------
    first, second : RecordStore
    split : str
    columns : sequence of str
        Columns of :func:`~agreement_core.agreement.agreement_table`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``epoch``; epochs recorded in only one store are NaN.
    """
    columns = list(columns)
    a = agreement_table(first, split).set_index("epoch")[columns]
    b = agreement_table(second, split).set_index("epoch")[columns]
    return a - b


def describe_statistics(tables: Mapping[str, pd.DataFrame],
                        summaries: Sequence[str] = ("mean", "std", "min", "max")
                        ) -> pd.DataFrame:
    """Summary statistics of every numeric column of several statistics tables.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Name -> statistics table (keyed by ``example_id``, which is left out).
    summaries : sequence of str
        Rows of :meth:`pandas.DataFrame.describe` to keep (``count``, ``mean``, ``std``,
        ``min``, the quartiles, ``max``).

    Returns
    -------
    pandas.DataFrame
        Indexed by (name, column), one column per summary.
    """
    if not tables:
        raise ValueError("no statistics tables to describe")
    described = {name: table.drop(columns=["example_id"], errors="ignore").describe().T
                 for name, table in tables.items()}
    return pd.concat(described)[list(summaries)]


def table_sizes(tables: Mapping[str, pd.DataFrame]) -> str:
    """What a figure drawn from several tables covers, for its caption.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Name -> table with one row per image.

    Returns
    -------
    str
        ``"<name> (<rows> images), ..."`` in the mapping's order.
    """
    return ", ".join(f"{name} ({len(table)} images)" for name, table in tables.items())


def factor_agreement_shares(store: RecordStore, split: str, factors: pd.DataFrame,
                            columns: Sequence[str], **curve_kwargs) -> dict[str, pd.DataFrame]:
    """Per categorical factor, the share of each value's examples agreed upon, per epoch.

    Parameters
    ----------
    store : RecordStore
    split : str
    factors : pandas.DataFrame
        Keyed by ``example_id`` with the factor columns (e.g. KTH-TIPS2-b
        ``illumination``, ``pose``, ``scale``).
    columns : sequence of str
        The factors, in the order of the result.
    **curve_kwargs
        ``min_epoch`` and ``min_accuracy`` of
        :func:`~agreement_core.correlation.categorical_agreement_shares`.

    Returns
    -------
    dict of str to DataFrame
        Factor -> :func:`~agreement_core.correlation.categorical_agreement_shares`, as
        :func:`agreement_core.plots.categorical_panels` takes it.
    """
    return {column: categorical_agreement_shares(store, split, factors, column, **curve_kwargs)
            for column in columns}


def score_correlations(table: pd.DataFrame, reference: str = "agreed_from_epoch",
                       columns: Sequence[str] | None = None, *, num_epochs: int,
                       n_boot: int = 1000, seed=0) -> pd.DataFrame:
    """Spearman's rho of each per-example score with ``reference`` (the agreed-from epoch,
    never agreed ranked last), with a 95% bootstrap interval over examples.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per example (:func:`agreement_core.scores.example_scores`).
    reference : str
    columns : sequence of str, optional
        Default: every other numeric score column present (AUM, EL2N, forgetting events,
        confidence, variability, correctness).
    num_epochs : int
        Epochs of the run (never agreed ranks as ``num_epochs + 1``).

    Returns
    -------
    pandas.DataFrame
        ``score``, ``rho``, ``ci_low``, ``ci_high``, ``n``.
    """
    columns = list(columns or [c for c in ("aum", "el2n", "forgetting_events", "confidence",
                                           "variability", "correctness") if c in table])
    base = (rank_agreed_from(table[reference], num_epochs) if reference == "agreed_from_epoch"
            else table[reference].to_numpy(np.float64))
    rows = []
    for column in columns:
        result = spearman_test(base, table[column].to_numpy(np.float64), n_boot=n_boot,
                               n_perm=0, seed=seed)
        rows.append({"score": column, "rho": result["rho"], "ci_low": result["ci_low"],
                     "ci_high": result["ci_high"], "n": result["n"]})
    return pd.DataFrame(rows, columns=["score", "rho", "ci_low", "ci_high", "n"])


def pruning_summary(results: pd.DataFrame) -> pd.DataFrame:
    """The pruning experiment per run: mean, smallest and largest test accuracy over its
    networks, and the mean minus that of the random subset of the same fraction.

    Parameters
    ----------
    results : pandas.DataFrame
        ``score``, ``rule``, ``fraction``, ``kept``, ``network``, ``test_accuracy``.
    """
    summary = (results.groupby(["score", "rule", "fraction", "kept"])["test_accuracy"]
               .agg(mean="mean", low="min", high="max").reset_index())
    random = summary[summary["rule"] == "random"].set_index("fraction")["mean"]
    summary["minus_random"] = summary["mean"] - summary["fraction"].map(random)
    return summary.sort_values(["fraction", "score", "rule"], ignore_index=True)



#: How the pruning page names a score.
PRUNING_SCORE_NAMES = {"agreed_from_epoch": "agreed-from epoch", "aum": "AUM", "el2n": "EL2N",
                       "forgetting_events": "forgetting events"}


def pruning_headline(results: pd.DataFrame, full_data=None) -> str:
    """One paragraph on the pruning experiment at its smallest kept fraction: per score, the
    mean test accuracy of keeping the easiest and the hardest examples minus that of the
    random subset, and which rule wins for most scores (a rule "wins" for a score when it
    beats random and the other rule does not).

    Parameters
    ----------
    results : pandas.DataFrame
        ``score``, ``rule``, ``fraction``, ``kept``, ``network``, ``test_accuracy``.
    full_data : array-like of float, optional
        Test accuracy of each network trained on the whole training set; when given, the
        paragraph ends with their mean.
    """
    summary = pruning_summary(results)
    fraction = summary["fraction"].min()
    at = summary[(summary["fraction"] == fraction) & (summary["rule"] != "random")]
    random = summary[(summary["fraction"] == fraction) & (summary["rule"] == "random")]
    if at.empty or random.empty:
        raise ValueError("the results need scored and random runs of the same fraction")
    by = at.set_index(["score", "rule"])["minus_random"]
    scores = list(dict.fromkeys(at["score"]))

    def listing(rule):
        return ", ".join(f"{PRUNING_SCORE_NAMES.get(s, s)} {round(by[(s, rule)], 3) + 0.0:+.3f}"
                         for s in scores)

    wins = {rule: sum(by[(s, rule)] > 0 >= by[(s, other)] for s in scores)
            for rule, other in (("easiest", "hardest"), ("hardest", "easiest"))}
    if wins["easiest"] > len(scores) / 2:
        verdict = ("keeping the easiest examples is the better rule here, as Sorscher et al. "
                   "(2022) predict when data is scarce, not the hardest as Paul et al. (2021) "
                   "found on full CIFAR-10")
    elif wins["hardest"] > len(scores) / 2:
        verdict = ("keeping the hardest examples is the better rule here, as Paul et al. "
                   "(2021) found on full CIFAR-10")
    else:
        verdict = "neither rule wins for most scores here"
    return (f"Keeping {fraction:.0%} ({int(random['kept'].iloc[0]):,} images), a random "
            f"subset reaches a mean test accuracy of {random['mean'].iloc[0]:.3f}. Minus that, "
            f"the easiest examples by each score reach: {listing('easiest')}; the hardest: "
            f"{listing('hardest')}. For {wins['easiest']} of {len(scores)} scores the easiest "
            f"beat random and the hardest do not ({wins['hardest']} the other way round): "
            f"{verdict}." + ("" if full_data is None else
                             f" Trained on every training image, the networks reach "
                             f"{np.mean(full_data):.3f}."))

def dynamics_summary(table: pd.DataFrame, columns: Sequence[str] = DYNAMICS_SUMMARY_COLUMNS
                     ) -> pd.DataFrame:
    """Count, mean, spread and quartiles of learning-dynamics columns, per split.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~agreement_core.report.learning_dynamics_table` (a ``split`` column).
    columns : sequence of str
        Numeric columns; those the table lacks are left out. Missing values (e.g.
        ``agreed_from_epoch`` of examples never agreed upon) are not counted.

    Returns
    -------
    pandas.DataFrame
        Indexed by (column, summary), one column per split; float values.
    """
    present = [c for c in columns if c in table.columns]
    if not present:
        raise ValueError(f"the table has none of the columns {list(columns)}")
    # Plain floats (missing: NaN), so that nullable integer columns summarise like the rest.
    values = table[present].astype("float64")
    return values.groupby(table["split"]).describe().T


# ------------------------------------------------------------------ pages' conclusions
#: Below this final train accuracy a curriculum mode has not fitted its training subset.
CURRICULUM_FIT_ACCURACY = 0.5

#: A mean TPa difference between eval-mode and online recording below this is no effect.
RECORDING_NEGLIGIBLE = 0.01

#: The verdicts that decide a claim, in the order a conclusion names them.
_DECIDED = ("reproduced", "mixed", "differs")


def _count_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n) or "none"


def claims_conclusion(rows: pd.DataFrame) -> str:
    """A figure page's conclusion from the rows of the claims table it shows: how many rows
    reach each verdict, which claims hold and which differ (with our number), and the most
    common reason the others stay open.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows of the claims table (:func:`agreement_core.claims.claims_table` columns),
        e.g. :func:`agreement_core.study.figures.select_claims` of the page's claims.

    Returns
    -------
    str
        Markdown.
    """
    if rows.empty:
        raise ValueError("no claims to conclude from")
    counts = verdict_counts(rows)
    lines = [f"This page tests {rows['spec_id'].nunique()} of the paper's claims on "
             f"{len(rows)} claim-study rows: {_count_text(counts)}."]
    for verdict in _DECIDED:
        chosen = rows[rows["verdict"] == verdict]
        if chosen.empty:
            continue
        listed = "; ".join(f"{row.claim} [`{row.claim_id}`] ({row.study}: {row.value:+.3f} "
                           f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}])"
                           for row in chosen.itertuples())
        lines.append(f"**{verdict.capitalize()}:** {listed}.")
    reasons = undecided_reasons(rows)
    if len(reasons):
        reason, times = reasons.value_counts().index[0], int(reasons.value_counts().iloc[0])
        lines.append(f"**Undecided:** {len(reasons)} rows, most often ({times}) because: "
                     f"{reason}.")
    if not any(v in counts for v in _DECIDED):
        lines.append("So this page decides none of the paper's claims with these studies: "
                     "its figures are descriptive here.")
    return "\n\n".join(lines)


def claim_statement(rows: pd.DataFrame, claim_id: str) -> str:
    """What the paper says and what we find, for one claim-study row: the paper's words,
    our number with its interval, and the verdict, in plain words.

    Parameters
    ----------
    rows : pandas.DataFrame
        The claims table (or rows of it).
    claim_id : str
        The row's ``claim_id`` (e.g. ``"soft-label-entropy"``).

    Returns
    -------
    str
        Markdown.
    """
    chosen = rows[rows["claim_id"] == claim_id]
    if chosen.empty:
        raise ValueError(f"no row {claim_id!r} in the claims table")
    row = chosen.iloc[0]
    verb = {"reproduced": "we find what the paper reports",
            "differs": "we do not find what the paper reports",
            "mixed": "our measures disagree"}.get(row["verdict"], f"our test is {row['verdict']}")
    text = (f"**The paper** ({row['paper']}): \u201c{row['quote']}\u201d **We find** "
            f"({row['study']}): {row['value']:+.3f} [{row['ci_low']:+.3f}, "
            f"{row['ci_high']:+.3f}] (measure: {row['measure']}), so {verb} "
            f"(verdict: {row['verdict']}")
    note = row.get("note")
    return text + (f"; {note})." if isinstance(note, str) and note else ").")


def curriculum_conclusion(summary: pd.DataFrame,
                          fit_accuracy: float = CURRICULUM_FIT_ACCURACY) -> str:
    """The curriculum page's conclusion from its ``summary.csv``: final test accuracy and
    area under the test curve of each mode, which order wins, and any mode whose networks
    did not fit their training subset (final train accuracy below ``fit_accuracy``), which
    is named as unexplained rather than read as an effect of the order.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per mode: ``mode``, ``networks``, ``final_test_mean``, ``final_test_std``,
        ``auc_test_mean``, ``final_train_mean``.
    fit_accuracy : float

    Returns
    -------
    str
        Markdown.
    """
    if summary.empty:
        raise ValueError("no curriculum modes to conclude from")
    modes = summary.set_index("mode")
    listing = "; ".join(
        f"**{mode}** {row.final_test_mean:.3f} \u00b1 {row.final_test_std:.3f} test "
        f"(AUC {row.auc_test_mean:.3f}), {row.final_train_mean:.3f} train"
        for mode, row in modes.iterrows())
    lines = [f"Final mean test accuracy over {int(modes['networks'].iloc[0])} networks per "
             f"mode (\u00b1 their standard deviation), the area under the test curve, and the "
             f"final train accuracy: {listing}."]
    unfit = modes[modes["final_train_mean"] < fit_accuracy]
    fitted = modes.drop(unfit.index)
    if len(fitted):
        best = fitted["final_test_mean"].idxmax()
        text = (f"Among the modes whose networks fit their training subset, **{best}** "
                f"ends highest ({fitted.at[best, 'final_test_mean']:.3f})")
        if "random" in fitted.index and best != "random":
            gap = fitted.at[best, "final_test_mean"] - fitted.at["random", "final_test_mean"]
            spread = max(fitted.at[best, "final_test_std"], fitted.at["random", "final_test_std"])
            text += (f", {gap:+.3f} over the random order; within one standard deviation "
                     f"({spread:.3f}) of it" if abs(gap) <= spread else
                     f", {gap:+.3f} over the random order")
        lines.append(text + ".")
    for mode, row in unfit.iterrows():
        lines.append(f"**Not fit:** the **{mode}** run ends at {row.final_train_mean:.3f} "
                     f"train accuracy (below {fit_accuracy}): its networks did not fit their "
                     f"training subset, so its {row.final_test_mean:.3f} test accuracy is not "
                     f"evidence about the order; `curriculum.loss_peaks` on its curves shows "
                     f"whether its training loss climbed above chance and never recovered (a "
                     f"learning rate too high for it, docs/curriculum.md).")
    return "\n\n".join(lines)


def recording_conclusion(online: RecordStore, evaluated: RecordStore, split: str = "train"
                         ) -> str:
    """The online-versus-eval page's conclusion: whether the two studies trained the same
    networks (identical test predictions), and how much eval-mode recording changes the
    ``split`` agreement and accuracy (mean and largest difference over epochs, and at the
    last epoch).

    Returns
    -------
    str
        Markdown.
    """
    same = same_predictions(online, evaluated, "test")
    difference = agreement_difference(evaluated, online, split).dropna()
    if difference.empty:
        raise ValueError("the two studies share no recorded epoch")
    last = difference.index.max()
    parts = []
    for column, name in (("tpa", "TPa"), ("mean_acc", "mean accuracy")):
        values = difference[column]
        largest = values.abs().idxmax()
        parts.append(f"{name} {values.mean():+.3f} on average over the epochs "
                     f"({values[largest]:+.3f} at epoch {largest}, {values[last]:+.3f} at the "
                     f"last, {last})")
    networks = ("Both studies trained the same networks: their test predictions are "
                "identical at every epoch." if same else
                "**The two studies' test predictions differ**, so they did not train the same "
                "networks and the comparison below mixes recording with training.")
    mean = difference["tpa"].mean()
    if abs(mean) < RECORDING_NEGLIGIBLE:
        reading = (f"On average the two recordings give the same {split} agreement (within "
                   f"{RECORDING_NEGLIGIBLE}); they differ in single epochs, most while the "
                   "weights change fastest.")
    else:
        reading = (f"The paper's online recording {'understates' if mean > 0 else 'overstates'}"
                   f" {split} agreement by {abs(mean):.3f} on average.")
    return (f"{networks} Recorded in eval mode rather than online, the {split} set's "
            + "; ".join(parts) + f". {reading} Test-set curves are unaffected.")


def fp_agreement_conclusion(stores: Mapping[str, RecordStore], split: str = "test") -> str:
    """The false-positive agreement page's conclusion: per study, false-positive agreement
    and Hacohen et al.'s agreement at the last epoch of ``split``, and which study's
    networks agree most on their mistakes.

    Returns
    -------
    str
        Markdown.
    """
    if not stores:
        raise ValueError("no studies to conclude from")
    last = {label: agreement_table(store, split).iloc[-1] for label, store in stores.items()}
    listing = "; ".join(f"{label}: FPa {row['fp_agreement']:.3f}, Hacohen agreement "
                        f"{row['hacohen_agreement']:.3f} (epoch {int(row['epoch'])})"
                        for label, row in last.items())
    most = max(last, key=lambda label: last[label]["fp_agreement"])
    least = min(last, key=lambda label: last[label]["fp_agreement"])
    return (f"At the last epoch on the {split} set: {listing}. Of the examples some network "
            f"gets wrong, all K networks give the same wrong label on "
            f"{last[least]['fp_agreement']:.1%} ({least}) to {last[most]['fp_agreement']:.1%} "
            f"({most}): networks agree on their mistakes too, not only on what they get right.")


def correlation_conclusion(correlations: pd.DataFrame) -> str:
    """The correlation page's conclusion: how many (split, statistic) rows have an interval
    clear of zero, over all examples and within classes, and the strongest of each split.

    Parameters
    ----------
    correlations : pandas.DataFrame
        :func:`correlation_rows` (``split``, ``statistic``, ``scope``, ``rho``, ``ci_low``,
        ``ci_high``).

    Returns
    -------
    str
        Markdown.
    """
    rows = correlations.dropna(subset=["rho"])
    if rows.empty:
        raise ValueError("no correlations to conclude from")
    clear = (rows["ci_low"] > 0) | (rows["ci_high"] < 0)
    lines = []
    for scope, name in (("all", "over all examples"), ("within_class", "within classes")):
        part = rows[rows["scope"] == scope]
        if len(part):
            lines.append(f"{int(clear[part.index].sum())} of {len(part)} correlations "
                         f"{name} have a 95% interval clear of zero")
    strongest = []
    for split, part in rows[rows["scope"] == "all"].groupby("split", sort=False):
        top = part.loc[part["rho"].abs().idxmax()]
        strongest.append(f"{split}: {top['statistic']} {top['rho']:+.3f} "
                         f"[{top['ci_low']:+.3f}, {top['ci_high']:+.3f}]")
    text = "; ".join(lines) + "."
    if strongest:
        text += (" The strongest per split (all examples; negative: higher values agreed on "
                 "earlier): " + "; ".join(strongest) + ".")
    largest = rows["rho"].abs().max()
    return text + (f" No |rho| exceeds {largest:.2f}: the image statistics explain little of "
                   "the learning order." if largest < 0.3 else "")


def dynamics_conclusion(table: pd.DataFrame) -> str:
    """The learning-dynamics page's conclusion, per split: the share of examples never
    agreed on, the median agreed-from epoch of the others, and the share forgotten at
    least once.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~agreement_core.report.learning_dynamics_table`.

    Returns
    -------
    str
        Markdown.
    """
    if table.empty:
        raise ValueError("no examples to conclude from")
    parts = []
    for split, part in table.groupby("split", sort=False):
        agreed = part["agreed_from_epoch"].astype("float64")
        text = (f"**{split}** ({len(part):,} examples): {agreed.isna().mean():.1%} never "
                f"agreed on, the others from a median epoch of {agreed.median():.0f}")
        if "forgetting_events" in part:
            text += (f"; {(part['forgetting_events'] > 0).mean():.1%} forgotten by some "
                     f"network at least once")
        parts.append(text)
    return "; ".join(parts) + "."


def score_correlations_conclusion(correlations: pd.DataFrame) -> str:
    """The own-loop page's conclusion: the score that orders the examples most like the
    agreed-from epoch, and how many scores have an interval clear of zero.

    Parameters
    ----------
    correlations : pandas.DataFrame
        :func:`score_correlations` (``score``, ``rho``, ``ci_low``, ``ci_high``, ``n``).

    Returns
    -------
    str
        Markdown.
    """
    rows = correlations.dropna(subset=["rho"])
    if rows.empty:
        raise ValueError("no score correlations to conclude from")
    top = rows.loc[rows["rho"].abs().idxmax()]
    clear = int(((rows["ci_low"] > 0) | (rows["ci_high"] < 0)).sum())
    return (f"On {int(top['n']):,} examples, {clear} of {len(rows)} scores correlate with the "
            f"agreed-from epoch with a 95% interval clear of zero; the closest is "
            f"**{top['score']}** (rho {top['rho']:+.3f} [{top['ci_low']:+.3f}, "
            f"{top['ci_high']:+.3f}]), so the agreed-from epoch ranks examples much as the "
            "standard scores do" + ("." if abs(top["rho"]) >= 0.5 else
                                    ", though only loosely."))


def book_conclusion(claims: pd.DataFrame) -> str:
    """The first page's conclusion from the claims table: of the claims the study could
    decide, how many hold, and why the others stay open.

    Parameters
    ----------
    claims : pandas.DataFrame
        The claims table (``spec_id``, ``verdict``, ``note``).

    Returns
    -------
    str
        Markdown.
    """
    if claims.empty:
        raise ValueError("no claims to conclude from")
    counts = claims["verdict"].value_counts()
    decided = int(sum(counts.get(v, 0) for v in _DECIDED))
    text = (f"Of {len(claims)} claim-study rows ({claims['spec_id'].nunique()} claims; "
            f"{int(counts.get('descriptive', 0))} descriptive, holding by construction), "
            f"{decided} are decided: {int(counts.get('reproduced', 0))} reproduced, "
            f"{int(counts.get('mixed', 0))} mixed, {int(counts.get('differs', 0))} differ.")
    reasons = undecided_reasons(claims)
    if len(reasons):
        reasons = reasons.str.replace(r"[0-9.]+ < ", "below ", regex=True)  # group the numbers
        common = reasons.str.split(":").str[0].value_counts()
        text += (f" The other {len(reasons)} stay open, most often because "
                 + ", ".join(f"{reason} ({n})" for reason, n in common.head(3).items()) + ".")
    return text


def method_conclusion(store: RecordStore) -> str:
    """The method page's conclusion on the main study: how long the lower bound stays at 0
    (it carries no information there), how far TPa exceeds that of independent networks
    with the same accuracies, and the share of each split never agreed on.

    Parameters
    ----------
    store : RecordStore
        The main study.

    Returns
    -------
    str
        Markdown.
    """
    parts = []
    for split in store.splits:
        table = agreement_table(store, split)
        if table.empty:
            continue
        independent = [independent_agreement(store.correct(split, int(e)).mean(axis=1))
                       for e in table["epoch"]]
        excess = table["tpa"].to_numpy() - np.asarray(independent)
        never = 1.0 - store.correct(split, int(table["epoch"].iloc[-1])).all(axis=0).mean()
        parts.append(f"on the {split} set the lower bound is 0 in "
                     f"{int((table['lower_bound'] <= 0).sum())} of {len(table)} epochs, TPa "
                     f"exceeds that of independent networks by {excess.mean():+.3f} on average "
                     f"(at most {excess.max():+.3f}), and {never:.1%} of the examples are not "
                     f"agreed on at the last epoch")
    if not parts:
        raise ValueError(f"{store.path} has no epoch recorded for every network")
    return (f"With K = {store.num_networks} networks of the main study: " + "; ".join(parts)
            + ". The lower bound alone would say little here; the comparison with independent "
              "networks carries the evidence of agreement.")


def learning_order_headline(tables: Mapping[str, pd.DataFrame], split: str = "train") -> str:
    """The learning-order chapter's conclusion, in numbers: how reproducible the order is
    (the noise ceiling), how much of it image statistics, the class and human uncertainty
    explain, and what claims 2-5 of Hacohen et al. come to.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The CSVs of :func:`agreement_core.hacohen.run_study_order` and
        :func:`~agreement_core.hacohen.run_hacohen` by name (``ceiling``, ``explained``,
        ``nested_summary``, ``groups``, ``cross_groups``; those missing are left out).
    split : str
        The split of the order analyses quoted.

    Returns
    -------
    str
        Markdown bullets.
    """
    lines = []
    ceiling = tables.get("ceiling")
    if ceiling is not None:
        c = ceiling[(ceiling["split"] == split) & (ceiling["order"] == "order_key")]
        same = c[c["between"].str.endswith(" seeds")]
        if len(same):
            r = same.iloc[0]
            across = c[c["between"].str.contains(" vs ")]
            lines.append(
                f"- **How reproducible the order is.** Two independent seed "
                f"groups of {r['between'].removesuffix(' seeds')} order the {int(r.n):,} {split} "
                f"examples with Spearman rho {r.rho:.3f} [{r.rho_ci_low:.3f}, "
                f"{r.rho_ci_high:.3f}] (pairs {r.rho_pair_min:.3f}..{r.rho_pair_max:.3f}); "
                f"the order pooled over the {int(r.groups)} groups has a Spearman-Brown "
                f"reliability of {r.reliability:.3f}."
                + (f" Across architectures (one seed group each) rho is "
                   f"{across['rho'].min():.3f}..{across['rho'].max():.3f}, "
                   + ("below" if across["rho"].max() < r.rho_pair_min else "not below")
                   + " every pair of the same architecture's seed groups."
                   if len(across) else ""))
    explained = tables.get("explained")
    if explained is not None:
        e = explained[explained["split"] == split]
        parts = []
        for predictor, with_class, words in (("image statistics", False, "the image statistics"),
                                             ("image statistics", True,
                                              "the image statistics with the class"),
                                             ("class only", False, "the class alone")):
            rows = e[(e["predictor"] == predictor) & (e["with_class"] == with_class)]
            if len(rows):
                best = rows.loc[rows["share"].idxmax()]
                parts.append(f"{words} {best.share:.1%} [{best.share_ci_low:.1%}, "
                             f"{best.share_ci_high:.1%}] ({best.model})")
        human = explained[explained["predictor"].str.contains("CIFAR-10H")]
        if len(human):
            h = human.iloc[0]
            parts.append(f"CIFAR-10H human uncertainty {h.share:.1%} of the {h.split} order")
        if parts:
            lines.append("- **How much of it is explained.** Of the reproducible "
                         "order (rho squared over the reliability, cross-validated): "
                         + "; ".join(parts) + ".")
    nested = tables.get("nested_summary")
    if nested is not None:
        n = nested[(nested["split"] == split) & (nested["sets"] == "agreed_from")]
        weak = n[~n["weaker"].str.contains(" seed group ")]
        if len(weak):
            lines.append(
                f"- **Claim 2 (weaker first):** of {weak['weaker'].iloc[0]}'s agreed set, "
                f"{weak['share'].min():.1%}..{weak['share'].max():.1%} is also agreed by the "
                f"stronger families, against {weak['chance'].min():.1%}.."
                f"{weak['chance'].max():.1%} for independent sets of the same sizes.")
    groups = tables.get("groups")
    if groups is not None:
        net = groups[groups["learner"] == "network"].groupby("dataset", sort=False)["excess"]
        means = net.mean()
        if "natural" in means:
            synthetic = means.drop(["natural", "text"], errors="ignore")
            text = (f"; on the text benchmark {means['text']:+.3f}" if "text" in means
                    else "")
            kept = (f": {synthetic.min() / means['natural']:.0%} to "
                    f"{synthetic.max() / means['natural']:.0%} of the natural images' excess "
                    "remains on synthetic data" if len(synthetic) and means["natural"] > 0
                    else "")
            lines.append(f"- **Claims 3 and 5 (synthetic and text data):** the MLPs' "
                         f"agreement above independent networks is {means['natural']:+.3f} on "
                         "natural images, " + ", ".join(f"{d} {v:+.3f}"
                                                        for d, v in synthetic.items())
                         + kept + text + ".")
    cross = tables.get("cross_groups")
    if cross is not None and len(cross):
        c = cross[cross["order"] == "order_key"].groupby("dataset", sort=False)[
            ["network_rho", "boosting_rho"]].mean()
        lines.append("- **Claim 4 (other paradigms):** with the other MLP groups' order, an MLP "
                     "group correlates " + "; ".join(
                         f"{r.network_rho:.3f} and a boosting group {r.boosting_rho:.3f} "
                         f"({d})" for d, r in c.iterrows()) + ".")
    return "\n".join(lines) + "\n" if lines else "No learning-order analyses to summarise.\n"


def learning_order_captions(tables: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Captions of the learning-order chapter's figures, from what the tables hold (example
    counts, seed groups, networks per group, dimensions): ``"ceiling train"``,
    ``"ceiling test"``, ``"nested"`` and ``"synthetic"``."""
    captions = {}
    ceiling = tables.get("ceiling")
    if ceiling is not None:
        for split in ("train", "test"):
            c = ceiling[(ceiling["split"] == split) & (ceiling["order"] == "order_key")]
            same = c[c["between"].str.endswith(" seeds")]
            if len(same):
                r = same.iloc[0]
                captions[f"ceiling {split}"] = (
                    f"CIFAR-10 {split}, {int(r.n):,} examples. Blue: Spearman rho of the "
                    f"agreed-from order (never agreed last) between the {int(r.groups)} seed "
                    f"groups of {r['between'].removesuffix(' seeds')} (mean of the pairs) and "
                    "between the first seed groups of two architectures; orange: the "
                    "out-of-fold rho (5-fold) of a ridge or gradient-boosted model predicting "
                    "the pooled order. Dashed: the square root of the pooled order's "
                    "Spearman-Brown reliability, the most any predictor can reach against it. "
                    "Intervals: 95% bootstrap over examples.")
    nested = tables.get("nested")
    if nested is not None and len(nested):
        n = nested[nested["split"] == "train"]
        captions["nested"] = (
            "Claim 2, CIFAR-10 train: per epoch, the share of the first family's examples "
            "agreed from that epoch on that the second family has also agreed on by then "
            f"(band: 95% bootstrap over examples), against independent sets of the same sizes "
            f"(dashed); epochs 1..{int(n['epoch'].max())}. One seed group per family; the "
            "last pair compares two seed groups of one architecture.")
    groups = tables.get("groups")
    summary = tables.get("summary")
    if groups is not None and summary is not None and len(summary):
        s = summary.set_index(["dataset", "learner"])
        natural = s.loc[("natural", "network")] if ("natural", "network") in s.index else None
        text = (f" The text row: {int(s.loc[('text', 'network'), 'n']):,} Rotten Tomatoes "
                f"snippets as {int(s.loc[('text', 'network'), 'dim'])} TF-IDF features."
                if ("text", "network") in s.index else "")
        if natural is not None:
            captions["synthetic"] = (
                f"Claims 3-5: {int(natural['groups'])} seed groups of {int(natural['members'])} "
                f"MLPs (or AdaBoost runs) per dataset, {int(natural['n']):,} examples of "
                f"{int(natural['dim'])} features each (the natural one: a class-balanced "
                "CIFAR-10 subset at 16x16 pixels; gaussian, teacher and random: synthetic data "
                "of its size and moments). Top: TP-agreement minus that of independent "
                "learners at the same accuracies, mean over the epochs with mean accuracy in "
                "[0.2, 0.99]; dots: seed groups. Bottom: rho of a group's agreed-from order "
                "with the other MLP groups' pooled order." + text)
    return captions


def explained_table(scores: pd.DataFrame) -> pd.DataFrame:
    """The explained-order rows (``scores.csv`` / ``explained.csv``) as the book shows them:
    predictor, model, with the class or not, out-of-fold rho and the share of the
    reproducible order explained, with their 95% intervals (rounded to 3 digits)."""
    columns = {"predictor": "predictor", "model": "model", "with_class": "with class",
               "rho_oof": "rho (out of fold)", "rho_oof_ci_low": "rho low",
               "rho_oof_ci_high": "rho high", "share": "share explained",
               "share_ci_low": "share low", "share_ci_high": "share high"}
    table = scores[[c for c in columns if c in scores]].rename(columns=columns)
    return table.round(3).reset_index(drop=True)


__all__ = ["CORRELATED_STATISTICS", "CURRICULUM_FIT_ACCURACY", "DYNAMICS_SUMMARY_COLUMNS",
           "PRUNING_SCORE_NAMES", "StudyRecords", "agreement_difference", "book_conclusion",
           "claim_statement",
           "claims_conclusion", "correlation_conclusion", "correlation_rows",
           "curriculum_conclusion", "describe_statistics", "dynamics_conclusion",
           "dynamics_summary", "explained_table", "factor_agreement_shares",
           "fp_agreement_conclusion", "learning_order_captions", "learning_order_headline",
           "last_epoch_summary", "method_conclusion", "pruning_headline",
           "pruning_summary", "recording_conclusion", "same_predictions", "score_correlations",
           "score_correlations_conclusion", "table_sizes"]

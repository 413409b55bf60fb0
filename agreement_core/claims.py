"""The claims table: every claim the paper makes about CIFAR-10, our number, its intervals,
and a verdict, computed from the record stores (never typed into a notebook).

Every number comes with two intervals where they apply:

- **over examples**: a 95% percentile bootstrap over the examples of the split (the same
  resamples for every study of the same examples, so differences between studies are paired);
- **over network seeds**: the smallest and largest value over the independent seed groups of
  the main study (K networks each, seeds at least K apart).

A claim is *reproduced* when our number has the paper's sign with its example interval
excluding zero and every seed group agrees in sign; it *differs* otherwise (the note says
whether the interval holds zero or the sign is the opposite); *not testable here* when the
data cannot test it (e.g. random labels never reach the accuracy at which the paper looks);
*not run yet* when its study has no finished results.

The paper (Pliushch et al.) is quoted by section in the ``paper`` column. The areas are the
mean over epochs of agreement (TPa, eq. 2) minus its lower bound (eq. 3, the paper's blue
area), or minus the TPa that independent networks with the same accuracies would reach
(:func:`~agreement_core.agreement.independent_agreement`): with K=5 the lower bound is 0
until mean accuracy passes 0.8, so agreement above it is nearly automatic, while agreement
above independence is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .correlation import correlation_table, spearman_test
from .findings import StudyRecords
from .records import RecordStore
from .report import learning_dynamics_table

VERDICTS = ("reproduced", "differs", "not testable here", "not run yet")

#: The columns of :func:`claims_table`.
CLAIM_COLUMNS = ["claim_id", "claim", "paper", "quote", "measure", "study", "value", "ci_low",
                 "ci_high", "seed_min", "seed_max", "n_seed_groups", "verdict", "note"]

#: The paper's own words for each kind of claim (the start of a claim id -> one sentence,
#: verbatim from the paper's text; ``[...]`` marks a cut). ``tests/test_claims.py`` checks
#: every quote against ``../shared/reference/when-deep-classifiers-agree.txt``.
QUOTES = {
    "agreement-train": "As hypothesized, mirroring prior hypothesis of Hacoen et al. [2020], but "
                       "using our strict agreement criterion, we found significant agreement "
                       "during training of CIFAR10 [Krizhevsky, 2009] on DenseNet121 [Huang et "
                       "al., 2017], visualized in figure 2a.",
    "agreement-test": "We observe that for all three datasets (and also for ImageNet, see "
                      "appendix) there is sufficiently high agreement on the test set too.",
    "gap-early": "Particularly in the first epochs, as the accuracy grows, the area between "
                 "agreement and the lower bound, shaded in blue, is the most prominent.",
    "test-spread": "The standard deviation of the accuracy is higher than for all train sets.",
    "arch": "Agreement persists also when training different architectures.",
    "mixed-agreement": "To conclude, we have observed a clear gap between theoretical "
                       "lower-bound and observed agreement, independence on semantic labels and "
                       "architecture, even coherence in between them.",
    "mixed-spread": "Note that accuracy deviation has been almost negligible when the same "
                    "architectures have been trained.",
    "random-labels": "Nonetheless, there is still sufficient agreement once accuracy starts to "
                     "rise.",
    "batch-speed": "[...] suggesting that the capacity of the model, as well as enhanced "
                   "randomness when training with smaller batch sizes slow down the learning "
                   "and, as an effect, agreement.",
    "batch": "Comparison of both figures shows that agreement is present for different "
             "batch-sizes and architectures, as well as that the agreement curve changes "
             "similarly for growing batch-sizes and architecture complexity.",
    "soft_label_entropy": "We see a slight downward tendency such that the entropy of soft "
                          "labels decreases over the course of training.",
    "entropy-level": "For completeness reasons, in figure 16 one can see that the entropy is "
                     "almost the same around 6.5, while sum of edge strengths, segment count "
                     "and percentage of DCT coefficients decrease slightly.",
    "sobel_edges": "For completeness reasons, in figure 16 one can see that the entropy is "
                   "almost the same around 6.5, while sum of edge strengths, segment count and "
                   "percentage of DCT coefficients decrease slightly.",
    "voc-bbox_area_share": "This result is further supported by the bounding box size, where we "
                           "see an inverse correlation, such that large objects are learnt "
                           "first, in agreement with insights presented in the related work "
                           "section 4.",
    "voc-vsd_score": "There is also a correlation between image difficulty (how much time "
                     "humans need to find the objects in the image) and agreement, which is "
                     "consistent with the other metrics, namely that easy examples are learnt "
                     "first.",
    "voc-entropy-test": "For Pascal, we see that [...] there is a correlation present for the "
                        "test entropy.",
    "voc": "The correlations suggest that as the models learn, they in progression first learn "
           "dataset instances with lower entropy, segment count, number of significant DCT "
           "coefficients and number of instances, meaning that less labels are present in the "
           "same image.",
    "texture": "The top row shows that for this texture dataset the tendency observed by Pascal "
               "is reversed, such that summed edge strengths, segment count and frequency "
               "percentage are inversely correlated with the dataset metric.",
    "clutter": "What we see is that the more cluttered the image, the more irregular the "
               "entropy and segment image becomes.",
    "imagenet": "Namely, first objects with higher segment count, entropy and number of "
                "relevant frequency coefficients are learned.",
}
for _column in ("crisp_edges", "segments", "dct_share"):
    QUOTES[_column] = QUOTES["sobel_edges"]


def quote(claim_id: str) -> str:
    """The paper's sentence behind ``claim_id`` (the longest :data:`QUOTES` key it starts
    with); empty when there is none."""
    keys = [k for k in QUOTES if claim_id == k or claim_id.startswith(k + "-")]
    return QUOTES[max(keys, key=len)] if keys else ""

#: Epochs below this mean accuracy are left out of the random-label areas: the paper looks at
#: agreement "once accuracy starts to rise" and plots no epoch below 20% (STUDY.md).
RISING_ACCURACY = 0.2

#: Tolerance of "the entropy is almost the same around 6.5" (appendix, Fig. 16), in bits.
ENTROPY_TOLERANCE = 0.25


@dataclass(frozen=True)
class AgreementCurves:
    """Per-epoch agreement numbers of one split, with bootstrap resamples over examples.

    Attributes
    ----------
    point : dict of str to (E,) arrays
        ``tpa``, ``lower_bound``, ``independent``, ``mean_acc``, ``std_acc`` per epoch.
    boot : dict of str to (B, E) arrays
        The same under each of B bootstrap resamples of the examples.
    """

    point: dict[str, np.ndarray]
    boot: dict[str, np.ndarray]

    def measure(self, fn, mask: np.ndarray | None = None) -> tuple[float, float, float]:
        """``fn(curves)`` -> (E,) per-epoch values, averaged over the epochs in ``mask``:
        (value, 2.5th and 97.5th percentile over the resamples); NaN without epochs."""
        epochs = np.ones(len(self.point["tpa"]), bool) if mask is None else np.asarray(mask)
        if not epochs.any():
            return (float("nan"),) * 3
        value = float(np.mean(fn(self.point)[epochs]))
        boot = np.mean(fn(self.boot)[:, epochs], axis=1)
        low, high = np.percentile(boot, [2.5, 97.5])
        return value, float(low), float(high)


def _resample_weights(n: int, n_boot: int, seed) -> np.ndarray:
    """(B, N) float32: how often each example is drawn in each bootstrap resample."""
    rng = np.random.default_rng(seed)
    weights = np.empty((n_boot, n), np.float32)
    for b in range(n_boot):
        weights[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return weights


def _epoch_numbers(counts: np.ndarray, n: float) -> dict[str, np.ndarray]:
    """From weighted counts (..., K + 2) [all right, any right, right per network]."""
    acc = counts[..., 2:] / n
    any_right = counts[..., 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpa = np.where(any_right > 0, counts[..., 0] / any_right, 0.0)
        p_any = 1.0 - np.prod(1.0 - acc, axis=-1)
        independent = np.where(p_any > 0, np.prod(acc, axis=-1) / p_any, 0.0)
    return {"tpa": tpa, "lower_bound": 1.0 - np.minimum((1.0 - acc).sum(axis=-1), 1.0),
            "independent": independent, "mean_acc": acc.mean(axis=-1),
            "std_acc": acc.std(axis=-1)}


def agreement_curves(epochs: Iterable[np.ndarray], *, n_boot: int = 200,
                     seed=0) -> AgreementCurves:
    """Agreement per epoch with bootstrap resamples over the examples.

    Parameters
    ----------
    epochs : iterable of (K, N) bool arrays
        The correctness of K networks on the same N examples, one array per epoch in order
        (``rec.correct for rec in store.iter_epochs(split)``, or networks of several stores:
        :func:`mixed_correct`).
    n_boot : int
        Bootstrap resamples (drawn once from ``seed`` and N: studies of the same examples
        get the same resamples).
    seed
        Seed of the resamples.
    """
    points, boots, weights = [], [], None
    for correct in epochs:
        correct = np.asarray(correct, bool)
        k, n = correct.shape
        if weights is None:
            weights = _resample_weights(n, n_boot, seed)
        columns = np.vstack([correct.all(axis=0), correct.any(axis=0), correct]
                            ).astype(np.float32)
        points.append(columns.sum(axis=1, dtype=np.float64))
        boots.append(weights @ columns.T)
    if not points:
        raise ValueError("no epoch to compute agreement curves from")
    n = float(np.asarray(correct).shape[1])
    point = _epoch_numbers(np.stack(points), n)                     # (E, K+2) -> (E,)
    boot = _epoch_numbers(np.stack(boots, axis=1).astype(np.float64), n)  # (B, E, K+2)
    return AgreementCurves(point, boot)


def store_correct(store: RecordStore, split: str) -> Iterator[np.ndarray]:
    """The (K, N) correctness of every recorded epoch of ``split``."""
    for record in store.iter_epochs(split):
        yield record.correct


def mixed_correct(stores: Sequence[RecordStore], split: str,
                  network: int = 0) -> Iterator[np.ndarray]:
    """Network ``network`` of each store as one group (agreement across architectures),
    over the epochs all stores recorded; the stores must hold the same examples."""
    first = stores[0]
    for store in stores[1:]:
        if not np.array_equal(store.example_ids(split), first.example_ids(split)):
            raise ValueError(f"{store.path} holds other {split} examples than {first.path}")
    epochs = min(store.available_epochs(split) for store in stores)
    for epoch in range(1, epochs + 1):
        yield np.stack([store.correct(split, epoch)[network] for store in stores])


# ------------------------------------------------------------------ the measures
def above_bound(c):
    return c["tpa"] - c["lower_bound"]


def above_independent(c):
    return c["tpa"] - c["independent"]


def mean_accuracy(c):
    return c["mean_acc"]


def accuracy_spread(c):
    return c["std_acc"]


def _short(measure: str) -> str:
    """``"area above the lower bound"`` -> ``"bound"``, ``"... independent networks"`` ->
    ``"independent"``: the end of a claim id."""
    return "bound" if "bound" in measure else "independent"


def _directional(value: float, low: float, high: float, seeds: Sequence[float],
                 sign: int) -> tuple[str, str]:
    """Verdict and note for a claim that ``value`` has sign ``sign``."""
    if np.isnan(value):
        return "not testable here", "no epoch to measure"
    seeds = [s for s in seeds if not np.isnan(s)]
    interval_ok = sign * low > 0 and sign * high > 0
    seeds_ok = all(sign * s > 0 for s in seeds)
    if interval_ok and seeds_ok:
        return "reproduced", ""
    if max(sign * low, sign * high) < 0:  # the whole interval on the other side of zero
        return "differs", "the opposite sign, interval excluding zero"
    if not interval_ok:
        return "differs", "the example interval holds zero: no clear effect"
    return "differs", "not every seed group has the paper's sign"


@dataclass
class _Row:
    claim_id: str
    claim: str
    paper: str
    measure: str
    study: str

    def result(self, value=float("nan"), low=float("nan"), high=float("nan"),
               seeds: Sequence[float] = (), verdict: str | None = None, note: str = "",
               sign: int = 1) -> dict:
        if verdict is None:
            verdict, auto = _directional(value, low, high, seeds, sign)
            note = "; ".join(n for n in (note, auto) if n)
        seeds = [s for s in seeds if not np.isnan(s)]
        return {"claim_id": self.claim_id, "claim": self.claim, "paper": self.paper,
                "quote": quote(self.claim_id), "measure": self.measure, "study": self.study,
                "value": value,
                "ci_low": low, "ci_high": high,
                "seed_min": min(seeds) if seeds else float("nan"),
                "seed_max": max(seeds) if seeds else float("nan"),
                "n_seed_groups": len(seeds), "verdict": verdict, "note": note}

    def missing(self, what: str) -> dict:
        return self.result(verdict="not run yet", note=f"no finished results for {what}")


def _correlation(study: StudyRecords, split: str, column: str, n_boot: int, seed
                 ) -> tuple[float, float, float] | None:
    """rho of ``column`` with the agreed-from epoch over all examples of ``split``, with its
    bootstrap interval; None when the statistic is absent."""
    store = study.store
    table = learning_dynamics_table(store, study.statistics, splits=[split])
    if column not in table or table[column].isna().all():
        return None
    rows = correlation_table(table, table, [column], num_epochs=store.num_epochs,
                             label_column="label", n_boot=n_boot, n_perm=0, seed=seed)
    row = rows[rows["scope"] == "all"].iloc[0]
    return float(row["rho"]), float(row["ci_low"]), float(row["ci_high"])


def claims_table(main: Mapping[int, StudyRecords], *,
                 architectures: Mapping[str, RecordStore | None] | None = None,
                 mixed: Sequence[RecordStore] | None = None,
                 random_labels: RecordStore | None = None,
                 batch_sizes: Mapping[str, tuple[RecordStore | None, RecordStore | None]]
                 | None = None,
                 edge_statistic: str = "sobel_edges",
                 correlation_claims: Sequence[CorrelationClaim] = (), n_boot: int = 200,
                 seed=0) -> pd.DataFrame:
    """The paper's CIFAR-10 claims with our numbers, intervals and verdicts.

    Parameters
    ----------
    main : mapping of int to StudyRecords
        The main study per seed group (seed -> object with ``store`` and ``statistics``), the
        first being the one whose numbers are reported; all seed groups give the seed range.
    architectures : mapping of str to RecordStore or None, optional
        One study per architecture family (None: not trained yet).
    mixed : sequence of RecordStore, optional
        Stores of different architectures with the same epochs; network 0 of each forms the
        mixed group (agreement across architectures), compared with the first K' networks of
        the main study (K' = ``len(mixed)``).
    random_labels : RecordStore, optional
    batch_sizes : mapping of str to (small, large) stores, optional
        A label (e.g. ``"fixed lr 0.1"``) -> the smallest and the largest batch size trained
        with that learning-rate rule.
    edge_statistic : str
        The statistics column of edge strength.
    correlation_claims : sequence of CorrelationClaim
        Further correlation claims (other datasets: :func:`pascal_claims`,
        :func:`texture_claims`), appended in order.
    n_boot : int
        Bootstrap resamples over examples.

    Returns
    -------
    pandas.DataFrame
        One row per claim and study, columns :data:`CLAIM_COLUMNS`.
    """
    groups = list(main.values())
    if not groups:
        raise ValueError("claims need the main study")
    first = groups[0]
    name = f"{first.store.config.get('arch', 'main')} (main)"
    rows = []

    def curves(store, split):
        return agreement_curves(store_correct(store, split), n_boot=n_boot, seed=seed)

    main_curves = {split: [curves(g.store, split) for g in groups]
                   for split in ("train", "test")}

    def per_seed(split, fn):
        return [c.measure(fn) for c in main_curves[split]]

    # -- agreement above the bound and above independence: main study, train and test.
    for split, section in (("train", "Sec. 3, Fig. 2a"), ("test", "Sec. 6, Fig. 7")):
        for measure, fn, text in (
                ("area above the lower bound", above_bound,
                 f"Agreement exceeds the lower bound on the CIFAR-10 {split} set"),
                ("area above independent networks", above_independent,
                 f"Networks agree on the {split} set more than independent networks with the "
                 "same accuracies would (the bound alone is nearly automatic at K=5)")):
            values = per_seed(split, fn)
            rows.append(_Row(f"agreement-{split}-{_short(measure)}", text, section,
                             measure, name).result(*values[0], seeds=[v[0] for v in values]))

    # -- the gap is largest in the first epochs.
    peaks = [int(np.argmax(above_bound(c.point))) / len(c.point["tpa"])
             for c in main_curves["train"]]
    row = _Row("gap-early", "The area between agreement and the lower bound is most "
               "prominent in the first epochs, as accuracy grows", "Sec. 3, Fig. 2a",
               "epoch of the largest gap, as a fraction of training", name)
    rows.append(row.result(peaks[0], seeds=peaks,
                           verdict="reproduced" if all(p <= 0.5 for p in peaks) else "differs",
                           note="criterion: the largest gap falls in the first half of training "
                                "in every seed group"))

    # -- test accuracies spread more than train accuracies.
    spreads = [t.measure(accuracy_spread)[0] - r.measure(accuracy_spread)[0]
               for t, r in zip(main_curves["test"], main_curves["train"], strict=True)]
    test_c, train_c = main_curves["test"][0], main_curves["train"][0]
    diff_boot = (np.mean(accuracy_spread(test_c.boot), axis=1)
                 - np.mean(accuracy_spread(train_c.boot), axis=1))
    low, high = np.percentile(diff_boot, [2.5, 97.5])
    rows.append(_Row("test-spread", "The standard deviation of accuracy over the networks is "
                     "higher on the test set than on the train set", "Sec. 6, Fig. 7",
                     "mean over epochs of std(acc) test minus train", name
                     ).result(spreads[0], float(low), float(high), seeds=spreads))

    # -- architectures.
    for arch, store in (architectures or {}).items():
        for measure, fn in (("area above the lower bound", above_bound),
                            ("area above independent networks", above_independent)):
            row = _Row(f"arch-{arch}-{_short(measure)}",
                       "Agreement persists for every architecture", "Sec. 3, Figs. 2c and 9",
                       measure, arch)
            if store is None:
                rows.append(row.missing(f"the {arch} study"))
                continue
            rows.append(row.result(*curves(store, "train").measure(fn)))

    # -- across architectures.
    if mixed:
        k = len(mixed)
        label = " + ".join(s.config.get("arch", "?") for s in mixed)
        mixed_c = agreement_curves(mixed_correct(mixed, "train"), n_boot=n_boot, seed=seed)
        row = _Row("mixed-agreement", "Networks of different architectures agree with each "
                   "other (coherence between architectures)", "Sec. 3, Fig. 2c",
                   "area above independent networks", f"mixed: {label}")
        rows.append(row.result(*mixed_c.measure(above_independent)))
        same = [agreement_curves((c[:k] for c in store_correct(g.store, "train")),
                                 n_boot=n_boot, seed=seed) for g in groups]
        diffs = [mixed_c.measure(accuracy_spread)[0] - s.measure(accuracy_spread)[0]
                 for s in same]
        diff_boot = (np.mean(accuracy_spread(mixed_c.boot), axis=1)
                     - np.mean(accuracy_spread(same[0].boot), axis=1))
        low, high = np.percentile(diff_boot, [2.5, 97.5])
        rows.append(_Row("mixed-spread", "Accuracy deviates little between networks of the "
                         "same architecture, more between architectures", "Sec. 3, Fig. 2c",
                         f"mean std(acc), mixed minus {k} networks of the main study",
                         f"mixed: {label}").result(diffs[0], float(low), float(high),
                                                   seeds=diffs))

    # -- random labels.
    for measure, fn in (("area above the lower bound", above_bound),
                        ("area above independent networks", above_independent)):
        row = _Row(f"random-labels-{_short(measure)}", "With random labels there is still "
                   "agreement once accuracy starts to rise", "Sec. 3, Fig. 2b",
                   f"{measure}, epochs with mean accuracy >= {RISING_ACCURACY:.0%}",
                   "random labels")
        if random_labels is None:
            rows.append(row.missing("the random-label study"))
            continue
        c = curves(random_labels, "train")
        rising = c.point["mean_acc"] >= RISING_ACCURACY
        if not rising.any():
            best = float(c.point["mean_acc"].max())
            rows.append(row.result(verdict="not testable here",
                                   note=f"mean train accuracy never reached "
                                        f"{RISING_ACCURACY:.0%} (at most {best:.1%})"))
            continue
        rows.append(row.result(*c.measure(fn, rising),
                               note=f"{int(rising.sum())} of {len(rising)} epochs"))

    # -- batch sizes: agreement for each, and smaller batches learn more slowly.
    for rule, (small, large) in (batch_sizes or {}).items():
        for store in (small, large):
            if store is None:
                continue
            batch = store.config.get("batch_size")
            rows.append(_Row(f"batch-{batch}-{rule}", "Agreement is present for every batch "
                             "size", "Sec. 3, Fig. 8", "area above independent networks",
                             f"batch {batch}, {rule}").result(
                *curves(store, "train").measure(above_independent)))
        row = _Row(f"batch-speed-{rule}", "Smaller batches slow down learning (and agreement)",
                   "Sec. 3, Fig. 8", "mean train accuracy over epochs, smallest minus "
                   "largest batch", f"batches, {rule}")
        if small is None or large is None:
            rows.append(row.missing("both batch sizes"))
            continue
        cs, cl = curves(small, "train"), curves(large, "train")
        diff_boot = (np.mean(mean_accuracy(cs.boot), axis=1)
                     - np.mean(mean_accuracy(cl.boot), axis=1))
        low, high = np.percentile(diff_boot, [2.5, 97.5])
        value = cs.measure(mean_accuracy)[0] - cl.measure(mean_accuracy)[0]
        rows.append(row.result(value, float(low), float(high), sign=-1,
                               note=f"batch {small.config.get('batch_size')} vs "
                                    f"{large.config.get('batch_size')}"))

    # -- statistics on the train set (appendix, Fig. 16) and CIFAR-10H (Sec. 6, Fig. 7).
    for column, split, claim, paper in (
            (edge_statistic, "train", "Sum of edge strengths of the agreed set decreases "
             "slightly over training", "App., Fig. 16"),
            ("segments", "train", "Segment count of the agreed set decreases slightly over "
             "training", "App., Fig. 16"),
            ("dct_share", "train", "Share of DCT coefficients of the agreed set decreases "
             "slightly over training", "App., Fig. 16"),
            ("soft_label_entropy", "test", "Entropy of the CIFAR-10H soft labels of the "
             "agreed set decreases slightly over training", "Sec. 6, Fig. 7")):
        row = _Row(f"{column}-{split}", claim, paper, "Spearman rho with the agreed-from "
                   "epoch (negative: the agreed set's mean falls as it grows)", name)
        results = [_correlation(g, split, column, n_boot, seed) for g in groups]
        if results[0] is None:
            rows.append(row.result(verdict="not testable here",
                                   note=f"no {column} statistic for the {split} set"))
            continue
        rows.append(row.result(*results[0], seeds=[r[0] for r in results if r], sign=-1))
    entropy = first.statistics.get("train")
    row = _Row("entropy-level", "Mean image entropy of CIFAR-10 is almost the same for all "
               "examples, around 6.5 bits", "App., Fig. 16",
               "mean windowed entropy of the train images (bits)", "CIFAR-10 train")
    if entropy is None or "entropy" not in entropy:
        rows.append(row.result(verdict="not testable here", note="no entropy statistic"))
    else:
        values = entropy["entropy"].to_numpy(np.float64)
        mean, sem = float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))
        close = abs(mean - 6.5) <= ENTROPY_TOLERANCE
        rows.append(row.result(mean, mean - 1.96 * sem, mean + 1.96 * sem,
                               verdict="reproduced" if close else "differs",
                               note=f"criterion: within {ENTROPY_TOLERANCE} bits of 6.5; "
                                    f"standard deviation over images "
                                    f"{values.std(ddof=1):.2f} bits"))
    for item in correlation_claims or ():
        rows.append(item.row(n_boot, seed))
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


@dataclass(frozen=True)
class CorrelationClaim:
    """A claim that examples with a higher (``sign`` -1) or lower (``sign`` +1) ``column``
    are learned first, i.e. that ``column`` and the agreed-from epoch correlate with
    ``sign``; tested on ``study`` (None: not run yet) over all examples of ``split``."""

    claim_id: str
    claim: str
    paper: str
    study_label: str
    study: StudyRecords | None
    split: str
    column: str
    sign: int
    note: str = ""

    def row(self, n_boot: int = 200, seed=0) -> dict:
        row = _Row(self.claim_id, self.claim, self.paper,
                   f"Spearman rho of {self.column} with the agreed-from epoch "
                   f"({self.split} set)", self.study_label)
        if self.study is None:
            return row.missing(self.study_label)
        if self.study.statistics.get(self.split) is None:
            return row.missing(f"the {self.split} statistics of {self.study_label}")
        result = _correlation(self.study, self.split, self.column, n_boot, seed)
        if result is None:
            return row.result(verdict="not testable here",
                              note=f"no {self.column} statistic for the {self.split} set")
        return row.result(*result, sign=self.sign, note=self.note)


@dataclass(frozen=True)
class RelationClaim:
    """A claim that two columns of one statistics table correlate with ``sign`` over its
    images (no training involved: e.g. harder images have higher entropy); ``table`` None:
    not computed yet."""

    claim_id: str
    claim: str
    paper: str
    study_label: str
    table: pd.DataFrame | None
    x: str
    y: str
    sign: int
    note: str = ""

    def row(self, n_boot: int = 200, seed=0) -> dict:
        row = _Row(self.claim_id, self.claim, self.paper,
                   f"Spearman rho of {self.x} with {self.y} over the images", self.study_label)
        if self.table is None:
            return row.missing(self.study_label)
        if self.x not in self.table or self.y not in self.table:
            return row.result(verdict="not testable here",
                              note=f"no {self.x} or {self.y} column")
        result = spearman_test(self.table[self.x].to_numpy(np.float64),
                               self.table[self.y].to_numpy(np.float64), n_boot=n_boot,
                               n_perm=0, seed=seed)
        return row.result(result["rho"], result["ci_low"], result["ci_high"], sign=self.sign,
                          note=self.note)


#: Our reading of the appendix's "the more cluttered the image, the more irregular the entropy
#: and segment image becomes" (Figs. 3, 10): images harder to search (higher Ionescu et al.
#: score) have a higher mean entropy and more segments.
CLUTTER_CLAIMS = (("entropy", "a higher entropy"), ("segments", "more segments"))


def clutter_claims(table: pd.DataFrame | None, label: str) -> list[RelationClaim]:
    """Fig. 3's claims on a statistics table with Ionescu difficulty (``vsd_score``)."""
    return [RelationClaim(f"clutter-{column}-{label}", f"Images harder to search have {text}",
                          "App. C, Figs. 3 and 10", label, table, "vsd_score", column, 1,
                          note="our reading: 'more irregular' as a higher value")
            for column, text in CLUTTER_CLAIMS]


#: The paper's correlation claims on Pascal VOC (Sec. 5, Fig. 4): lower entropy, segment count,
#: DCT share, fewer instances, larger boxes and easier images (Ionescu score) are learned
#: first. Tuples of (column, sign of rho with the agreed-from epoch, what is learned first).
PASCAL_CLAIMS = (("entropy", 1, "lower entropy"), ("segments", 1, "fewer segments"),
                 ("dct_share", 1, "a lower DCT share"), ("instances", 1, "fewer instances"),
                 ("bbox_area_share", -1, "larger boxes"),
                 ("vsd_score", 1, "lower Ionescu et al. difficulty (easier to search)"))
#: On the Pascal test set (Sec. 6, Fig. 7) the paper reports the entropy correlation again.
PASCAL_TEST_CLAIMS = (("entropy", 1, "lower entropy"),)
#: On KTH-TIPS2-b (Sec. 5, Fig. 5) the tendency is reversed: higher edge strength, segment
#: count and DCT share are learned first (entropy is only in the appendix).
TEXTURE_CLAIMS = (("segments", -1, "more segments"), ("dct_share", -1, "a higher DCT share"))
#: On ImageNet (Sec. 5, Fig. 6) "first objects with higher segment count, entropy and number of
#: relevant frequency coefficients are learned" (congruent with KTH-TIPS2-b, not Pascal).
IMAGENET_CLAIMS = (("segments", -1, "more segments"), ("entropy", -1, "higher entropy"),
                   ("dct_share", -1, "a higher DCT share"))


def pascal_claims(study: StudyRecords | None, label: str,
                  split: str = "train") -> list[CorrelationClaim]:
    """The Pascal VOC correlation claims on ``study`` (``split``: the train set's of Fig. 4,
    or the test set's entropy claim of Fig. 7)."""
    items, paper = ((PASCAL_CLAIMS, "Sec. 5, Fig. 4") if split == "train"
                    else (PASCAL_TEST_CLAIMS, "Sec. 6, Fig. 7"))
    return [CorrelationClaim(f"voc-{column}-{split}-{label}",
                             f"On Pascal VOC, images with {text} are learned first", paper,
                             label, study, split, column, sign)
            for column, sign, text in items]


def imagenet_claims(study: StudyRecords | None, label: str, note: str = ""
                    ) -> list[CorrelationClaim]:
    """The ImageNet correlation claims (train set, Fig. 6) on ``study``."""
    return [CorrelationClaim(f"imagenet-{column}-train-{label}",
                             f"On ImageNet, images with {text} are learned first",
                             "Sec. 5, Fig. 6", label, study, "train", column, sign, note)
            for column, sign, text in IMAGENET_CLAIMS]


def texture_claims(study: StudyRecords | None, label: str, split: str = "train",
                   edge_statistic: str = "crisp_edges", note: str = "") -> list[CorrelationClaim]:
    """The KTH-TIPS2-b correlation claims (reversed with respect to Pascal) on ``study``."""
    items = (*TEXTURE_CLAIMS, (edge_statistic, -1, "stronger edges"))
    return [CorrelationClaim(f"texture-{column}-{split}-{label}",
                             f"On textures, images with {text} are learned first "
                             "(reversed from Pascal)",
                             "Sec. 5, Fig. 5", label, study, split, column, sign, note)
            for column, sign, text in items]


__all__ = ["CLAIM_COLUMNS", "CLUTTER_CLAIMS", "IMAGENET_CLAIMS", "PASCAL_CLAIMS", "QUOTES",
           "TEXTURE_CLAIMS", "VERDICTS", "AgreementCurves", "CorrelationClaim", "RelationClaim",
           "agreement_curves", "claims_table", "clutter_claims", "imagenet_claims",
           "mixed_correct", "pascal_claims", "quote", "store_correct", "texture_claims"]

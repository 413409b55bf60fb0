"""Correlation between learning order and image statistics.

Two kinds of findings are computed here from a :class:`~agreement_core.records.RecordStore`
and a per-example statistics table (keyed by ``example_id``):

* **Curves** (the paper's figures): for every epoch, the mean of a statistic over the
  examples on which all K networks agree (:func:`agreement_curves`), and for a categorical
  factor the share of each value's examples that is agreed upon
  (:func:`categorical_agreement_shares`).
* **Numbers** (beyond the paper): Spearman's rank correlation between a statistic and the
  *agreed-from epoch* of every example (the first epoch from which all K networks stay
  correct), with a percentile-bootstrap confidence interval and a permutation test, over all
  examples and within classes (:func:`spearman_test`, :func:`correlation_table`).

Definitions
-----------
Agreed set of epoch t
    The examples all K networks classify correctly at epoch t (multi-label: exact match).
Agreed-from epoch
    See :func:`agreement_core.agreement.example_dynamics`: 1-based, **missing** (NaN, or
    ``<NA>`` in :func:`~agreement_core.agreement.example_dynamics_table`) when the networks
    do not all agree at the last epoch. :func:`rank_agreed_from` ranks "never agreed" last.
Spearman's rho
    Pearson's correlation of the average ranks (ties get the mean of the ranks they span).

Everything is vectorised over examples; Python loops run over epochs, groups (classes),
chunks of resamples and statistic columns only.

References
----------
.. [1] Pliushch, Mundt, Lupp, Ramesh, "When Deep Classifiers Agree: Analyzing Correlations
   between Learning Order and Image Statistics" (section 4 and the figures' curves).
.. [2] Spearman, "The proof and measurement of association between two things", American
   Journal of Psychology 15 (1904).
.. [3] Efron, Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall 1993
   (percentile interval, ch. 13).
.. [4] Phipson, Smyth, "Permutation p-values should never be zero", Statistical
   Applications in Genetics and Molecular Biology 9 (2010) (the +1 correction).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .agreement import epoch_agreement
from .records import RecordStore

__all__ = [
    "agreement_curves",
    "categorical_agreement_shares",
    "correlation_table",
    "rank_agreed_from",
    "spearman",
    "spearman_test",
]

# Columns of a statistics table that identify an example rather than describe its image.
_KEY_COLUMNS = frozenset({"example_id", "label", "labels", "target"})
_CURVE_COLUMNS = ["epoch", "mean_acc", "tpa", "lower_bound", "n_agreed"]
_SHARE_COLUMNS = ["epoch", "value", "share", "n_value", "n_agreed"]
_TABLE_COLUMNS = ["statistic", "scope", "rho", "ci_low", "ci_high", "p_value", "n", "n_groups"]
# Elements (resamples x examples) per chunk of the bootstrap / permutation matrices: a few
# float64 arrays of this size (16 MB each) are alive at a time.
_CHUNK_ELEMENTS = 2_000_000
# Relative tolerance when comparing permuted statistics with the observed one, so that a
# permutation reproducing the observed ranks exactly counts as "as extreme" despite rounding.
_PERM_RTOL = 1e-12


# ---------------------------------------------------------------------- validation helpers
def _check_table(table, name: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(table).__name__}")
    if "example_id" not in table.columns:
        raise ValueError(f"{name} has no 'example_id' column (columns: {list(table.columns)})")
    if table["example_id"].duplicated().any():
        n_dup = int(table["example_id"].duplicated().sum())
        raise ValueError(f"{name}: example_id is not unique ({n_dup} duplicated rows)")
    return table


def _align(table: pd.DataFrame, ids: np.ndarray, name: str) -> pd.DataFrame:
    """Rows of ``table`` in the order of ``ids`` (matched by ``example_id``).

    Extra rows of ``table`` are ignored; ids missing from it are an error.
    """
    _check_table(table, name)
    index = pd.Index(table["example_id"].to_numpy())
    pos = index.get_indexer(np.asarray(ids))
    missing = pos < 0
    if missing.any():
        examples = np.asarray(ids)[missing][:5].tolist()
        raise ValueError(f"{name} lacks {int(missing.sum())} of the {len(ids)} example ids "
                         f"(e.g. {examples})")
    return table.iloc[pos].reset_index(drop=True)


def _statistic_columns(table: pd.DataFrame, columns, name: str) -> list[str]:
    """Validated list of numeric statistic columns (default: every numeric non-key column)."""
    if columns is None:
        chosen = [c for c in table.columns
                  if c not in _KEY_COLUMNS and pd.api.types.is_numeric_dtype(table[c])]
        if not chosen:
            raise ValueError(f"{name} has no numeric statistic column besides "
                             f"{sorted(_KEY_COLUMNS)} (columns: {list(table.columns)})")
        return chosen
    chosen = [columns] if isinstance(columns, str) else list(columns)
    if not chosen:
        raise ValueError("columns must name at least one column")
    unknown = [c for c in chosen if c not in table.columns]
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; {name} has {list(table.columns)}")
    not_numeric = [c for c in chosen if not pd.api.types.is_numeric_dtype(table[c])]
    if not_numeric:
        raise ValueError(f"column(s) {not_numeric} of {name} are not numeric; use "
                         "categorical_agreement_shares for categorical factors")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"columns contains duplicates: {chosen}")
    return chosen


def _check_filters(min_epoch, min_accuracy) -> None:
    if isinstance(min_epoch, bool) or int(min_epoch) != min_epoch or min_epoch < 1:
        raise ValueError(f"min_epoch must be an integer >= 1, got {min_epoch!r}")
    if not 0.0 <= float(min_accuracy) <= 1.0:
        raise ValueError(f"min_accuracy must lie in [0, 1], got {min_accuracy!r}")


def _filtered_epochs(store: RecordStore, split: str, min_epoch: int, min_accuracy: float):
    """Yield ``(record, row)`` of the epochs kept by the paper's filters, streamed.

    ``row`` is the epoch's :func:`~agreement_core.agreement.epoch_agreement`; the filter
    compares the pooled accuracy (correct predictions over all K x N,
    ``row["hacohen_tp_agreement"]``) with ``min_accuracy``.
    """
    epochs = range(int(min_epoch), store.available_epochs(split) + 1)
    for rec in store.iter_epochs(split, epochs):
        row = epoch_agreement(rec)
        if row["hacohen_tp_agreement"] >= min_accuracy:
            yield rec, row


def _as_1d_float(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------- curves
def agreement_curves(store: RecordStore, split: str, statistics: pd.DataFrame, columns=None,
                     *, min_epoch: int = 5, min_accuracy: float = 0.2) -> pd.DataFrame:
    r"""Mean of each statistic over the agreed set, per epoch (the paper's curves).

    For epoch t with correctness :math:`c_k^t(n)` of network k on example n, the agreed set
    is :math:`A_t = \{n : \prod_k c_k^t(n) = 1\}` and the curve of statistic s is

    .. math::

        \bar s_t = \frac{1}{|A_t|} \sum_{n \in A_t} s(n).

    Parameters
    ----------
    store : RecordStore
    split : str
    statistics : pandas.DataFrame
        Per-example statistics keyed by ``example_id``; rows are matched to the store's
        examples by id (order and extra rows do not matter).
    columns : str or list of str, optional
        Numeric statistic columns; default every numeric column except ``example_id``,
        ``label``, ``labels`` and ``target``. Bool columns give the share of True.
    min_epoch : int
        Epochs before ``min_epoch`` (1-based) are left out. The paper starts its plots at
        epoch 5, when the networks' early, erratic predictions have settled.
    min_accuracy : float
        Epochs whose mean accuracy over the K networks is below ``min_accuracy`` are left out
        (the agreed set is then too small for a meaningful mean); the paper uses 0.2.

    Returns
    -------
    pandas.DataFrame
        One row per kept epoch: ``epoch``, ``mean_acc`` (mean accuracy of the K networks,
        pooled: correct predictions over all K x N, the quantity ``min_accuracy`` filters),
        ``tpa`` (true-positive agreement, eq. 2 of [1]_), ``lower_bound`` (eq. 3 of [1]_),
        ``n_agreed`` (:math:`|A_t|`), and one column per statistic. The mean over an empty
        agreed set is NaN; NaN statistic values are ignored (the mean is over the agreed
        examples with a value).

    Raises
    ------
    ValueError
        ``statistics`` lacks some of the store's example ids (the message says how many), a
        column is unknown or not numeric, a statistic column is named like an output column,
        or a filter is out of range.

    Notes
    -----
    Epochs are streamed: one epoch's (K, N) records are in memory at a time.

    References
    ----------
    .. [1] Pliushch et al., "When Deep Classifiers Agree: Analyzing Correlations between
       Learning Order and Image Statistics".
    """
    _check_filters(min_epoch, min_accuracy)
    _check_table(statistics, "statistics")
    names = _statistic_columns(statistics, columns, "statistics")
    clash = [c for c in names if c in _CURVE_COLUMNS]
    if clash:
        raise ValueError(f"statistic column(s) {clash} clash with the output columns "
                         f"{_CURVE_COLUMNS}; rename them")
    aligned = _align(statistics, store.example_ids(split), "statistics")
    values = aligned[names].to_numpy(dtype=np.float64, na_value=np.nan)  # (N, S)
    has_value = ~np.isnan(values)
    filled = np.where(has_value, values, 0.0)

    rows = []
    for rec, row in _filtered_epochs(store, split, min_epoch, min_accuracy):
        weights = rec.agreed.astype(np.float64)
        sums = weights @ filled
        counts = weights @ has_value
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        # mean_acc here has always been the pooled accuracy (the filtered quantity).
        rows.append([rec.epoch, row["hacohen_tp_agreement"], row["tpa"], row["lower_bound"],
                     row["n_all_correct"], *means.tolist()])
    table = pd.DataFrame(rows, columns=[*_CURVE_COLUMNS, *names])
    return table.astype({"epoch": np.int64, "n_agreed": np.int64})


def categorical_agreement_shares(store: RecordStore, split: str, factors: pd.DataFrame,
                                 column: str, *, min_epoch: int = 5,
                                 min_accuracy: float = 0.2) -> pd.DataFrame:
    r"""Per epoch and per value of a categorical factor, the share of agreed examples.

    For value v with examples :math:`V = \{n : f(n) = v\}` and agreed set :math:`A_t` (see
    :func:`agreement_curves`), the share is :math:`|A_t \cap V| / |V|`. This is the paper's
    presentation of categorical factors such as KTH-TIPS2-b illumination and pose.

    Parameters
    ----------
    store : RecordStore
    split : str
    factors : pandas.DataFrame
        Keyed by ``example_id``; matched to the store's examples by id.
    column : str
        The factor column: categorical, object, string, bool or integer values. Missing
        values (NaN / None) belong to no value. A pandas categorical column keeps its
        categories and their order (unused categories get ``n_value`` 0 and share NaN);
        other columns are sorted by value when the values are sortable.
    min_epoch, min_accuracy
        Epoch filters, as in :func:`agreement_curves`.

    Returns
    -------
    pandas.DataFrame
        Long format, one row per (kept epoch, value): ``epoch``, ``value``, ``share``,
        ``n_value`` (examples with that value), ``n_agreed`` (of them, agreed upon).

    Raises
    ------
    ValueError
        Unknown column, or ``factors`` lacks some of the store's example ids.
    """
    _check_filters(min_epoch, min_accuracy)
    _check_table(factors, "factors")
    if not isinstance(column, str) or column not in factors.columns:
        raise ValueError(f"unknown column {column!r}; factors has {list(factors.columns)}")
    series = _align(factors, store.example_ids(split), "factors")[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.intp)
        uniques = list(series.cat.categories)
    else:
        try:
            codes, uniques = pd.factorize(series, sort=True)
        except TypeError:  # values of mixed, unorderable types
            codes, uniques = pd.factorize(series, sort=False)
        uniques = list(uniques)
    n_values = len(uniques)
    valid = codes >= 0
    n_value = np.bincount(codes[valid], minlength=n_values)

    frames = []
    for rec, _ in _filtered_epochs(store, split, min_epoch, min_accuracy):
        n_agreed = np.bincount(codes[valid & rec.agreed], minlength=n_values)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n_value > 0, n_agreed / np.maximum(n_value, 1), np.nan)
        frames.append(pd.DataFrame({"epoch": np.full(n_values, rec.epoch, dtype=np.int64),
                                    "value": pd.Series(uniques, dtype=object),
                                    "share": share, "n_value": n_value.astype(np.int64),
                                    "n_agreed": n_agreed.astype(np.int64)}))
    if not frames:
        return pd.DataFrame({"epoch": pd.Series(dtype=np.int64),
                             "value": pd.Series(dtype=object),
                             "share": pd.Series(dtype=np.float64),
                             "n_value": pd.Series(dtype=np.int64),
                             "n_agreed": pd.Series(dtype=np.int64)})
    return pd.concat(frames, ignore_index=True)[_SHARE_COLUMNS]


# ---------------------------------------------------------------------- ranks and Spearman
def _epochs_with_missing(values, name: str) -> np.ndarray:
    """1-D float64 epochs with NaN for missing, from any of the encodings of "missing".

    Accepts NumPy integer or float arrays (NaN), pandas nullable columns and arrays
    (``<NA>``), object arrays of numbers and ``None``/``pd.NA``, and NumPy masked arrays.
    """
    if isinstance(values, np.ma.MaskedArray):
        if not (np.issubdtype(values.dtype, np.integer)
                or np.issubdtype(values.dtype, np.floating)):
            raise TypeError(f"{name} must be integer, got dtype {values.dtype}")
        values = values.astype(np.float64).filled(np.nan)
    if isinstance(values, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        dtype = values.dtype
        if not pd.api.types.is_object_dtype(dtype):
            if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
                raise TypeError(f"{name} must be integer, got dtype {dtype}")
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = np.asarray(values)
    if pd.api.types.is_object_dtype(arr.dtype):
        # e.g. Series.to_numpy() of an Int16 column with <NA>
        try:
            flat = pd.array(arr.ravel(), dtype="Float64")
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must hold numbers or missing values: {exc}") from exc
        return flat.to_numpy(dtype=np.float64, na_value=np.nan).reshape(arr.shape)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be integer, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def rank_agreed_from(agreed_from_epoch, num_epochs: int) -> np.ndarray:
    """Agreed-from epochs as an order key, "never agreed" last.

    Parameters
    ----------
    agreed_from_epoch : (N,) array_like
        1-based agreed-from epochs in ``[1, num_epochs]``; **missing** for examples the
        networks do not all get right at the last epoch: NaN in a float array (as from
        :func:`agreement_core.agreement.example_dynamics`), ``<NA>`` in a pandas nullable
        integer column (as from :func:`agreement_core.agreement.example_dynamics_table`),
        ``None``/``pd.NA`` in an object array, or masked in a NumPy masked array.
    num_epochs : int
        E, the number of epochs the agreed-from epochs were computed over.

    Returns
    -------
    (N,) array of int64
        The epoch, with missing mapped to ``num_epochs + 1``: never agreed ranks after every
        example agreed upon at some epoch. Only the order matters for Spearman's rho.

    Raises
    ------
    ValueError
        Not 1-D, not integer-valued, or a value outside ``[1, num_epochs]``. In particular
        ``-1``, the encoding of "never agreed" before it became a missing value, is rejected
        (it is indistinguishable from a corrupt epoch); convert such a column with
        ``column.mask(column < 0)``.
    TypeError
        Not numbers (bool, strings, ...).
    """
    if isinstance(num_epochs, bool) or int(num_epochs) != num_epochs or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive integer, got {num_epochs!r}")
    epochs = _epochs_with_missing(agreed_from_epoch, "agreed_from_epoch")
    if epochs.ndim != 1:
        raise ValueError(f"agreed_from_epoch must be 1-D, got shape {epochs.shape}")
    never = np.isnan(epochs)
    known = epochs[~never]
    if not np.all(np.isfinite(known)) or not np.all(known == np.round(known)):
        raise ValueError("agreed_from_epoch must hold integers (or missing for never agreed)")
    if np.any(known == -1):
        raise ValueError("agreed_from_epoch holds -1, the old encoding of 'never agreed'; "
                         "never agreed is now a missing value (NaN or <NA>): convert with "
                         "column.mask(column < 0)")
    bad = (known < 1) | (known > num_epochs)
    if bad.any():
        raise ValueError(f"agreed_from_epoch must be missing (never agreed) or in "
                         f"[1, {int(num_epochs)}], got {int(known[bad][0])}")
    return np.where(never, int(num_epochs) + 1, epochs).astype(np.int64)


def _pair(x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated float64 x, y and the mask of pairs without NaN."""
    xs = _as_1d_float(x, "x")
    ys = _as_1d_float(y, "y")
    if xs.shape != ys.shape:
        raise ValueError(f"x and y must have the same length, got {xs.shape[0]} and "
                         f"{ys.shape[0]}")
    return xs, ys, ~(np.isnan(xs) | np.isnan(ys))


def tie_groups(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort order, start (in sorted order) of each run of equal values, and each element's
    run index (runs numbered in increasing value)."""
    order = np.argsort(v, kind="stable")
    s = v[order]
    new = np.empty(v.size, dtype=bool)
    new[:1] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    gid = np.empty(v.size, dtype=np.intp)
    gid[order] = np.cumsum(new) - 1
    return order, np.flatnonzero(new), gid


def _average_ranks(ties) -> np.ndarray:
    """1-based average ranks (as ``scipy.stats.rankdata(method="average")``)."""
    _, starts, gid = ties
    counts = np.diff(np.append(starts, gid.size)).astype(np.float64)
    return (np.cumsum(counts) - counts + (counts + 1) / 2)[gid]


def _weighted_ranks(w: np.ndarray, ties) -> np.ndarray:
    """Average ranks of every element in the multisets given by the rows of ``w``.

    Row r of ``w`` (B, n) holds how often each element appears in resample r. An element of
    a tie run whose copies, over the run, number W and are preceded by C smaller copies has
    average rank C + (W + 1) / 2, exactly what ranking the resampled values would give.
    """
    order, starts, gid = ties
    run_weight = np.add.reduceat(w[:, order], starts, axis=1)
    run_rank = np.cumsum(run_weight, axis=1) - run_weight + (run_weight + 1) / 2
    return run_rank[:, gid]


def resample_spearman(w: np.ndarray, tx, ty) -> np.ndarray:
    """Spearman's rho of each resample given by the multiplicities ``w`` (B, n); ``tx``,
    ``ty``: :func:`tie_groups` of x and y.

    Equals ranking each resampled (x, y) pair list with average ranks and taking Pearson's
    correlation, without sorting per resample. NaN where a resample is constant in x or y.
    """
    # The mean of n average ranks is (n + 1) / 2; resamples may differ in size (a subset of
    # the examples of a resample of all of them, e.g. one class).
    centre = (w.sum(axis=1, keepdims=True) + 1) / 2
    dx = _weighted_ranks(w, tx) - centre
    dy = _weighted_ranks(w, ty) - centre
    wdx = w * dx
    cov = np.einsum("ij,ij->i", wdx, dy)
    var_x = np.einsum("ij,ij->i", wdx, dx)
    var_y = np.einsum("ij,ij->i", w * dy, dy)
    denom = np.sqrt(var_x * var_y)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, cov / np.where(denom > 0, denom, 1.0), np.nan)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt(np.dot(a, a) * np.dot(b, b))
    if denom == 0:
        return float("nan")
    return float(np.clip(np.dot(a, b) / denom, -1.0, 1.0))


def spearman(x, y) -> float:
    r"""Spearman's rank correlation coefficient.

    .. math::

        \rho = \operatorname{corr}\big(R(x), R(y)\big)

    Pearson's correlation of the average ranks (``scipy.stats.rankdata`` with ties
    averaged), the same as ``scipy.stats.spearmanr(x, y).statistic``.

    Parameters
    ----------
    x, y : (N,) array_like of numbers
        Pairs with NaN in x or y are dropped.

    Returns
    -------
    float
        In [-1, 1]; NaN with fewer than 2 complete pairs or when x or y is constant.

    References
    ----------
    .. [1] Spearman, American Journal of Psychology 15 (1904).
    """
    xs, ys, ok = _pair(x, y)
    if np.count_nonzero(ok) < 2:
        return float("nan")
    return _pearson(_average_ranks(tie_groups(xs[ok])), _average_ranks(tie_groups(ys[ok])))


class _Group:
    """One group's data, ranked once, for the bootstrap and the permutation test."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.n = x.size
        self.tx = tie_groups(x)
        self.ty = tie_groups(y)
        rx = _average_ranks(self.tx)
        ry = _average_ranks(self.ty)
        # An empty group (every pair dropped) has no mean; it is unusable below.
        self.cx = rx - rx.mean() if self.n else rx
        self.cy = ry - ry.mean() if self.n else ry
        self.norm = float(np.sqrt(np.dot(self.cx, self.cx) * np.dot(self.cy, self.cy)))
        # Fewer than 3 examples or a constant variable: no usable correlation.
        self.usable = self.n >= 3 and self.norm > 0
        self.rho = (float(np.clip(np.dot(self.cx, self.cy) / self.norm, -1, 1))
                    if self.usable else float("nan"))

    def _chunks(self, total: int):
        step = max(1, _CHUNK_ELEMENTS // max(self.n, 1))
        for start in range(0, total, step):
            yield start, min(step, total - start)

    def bootstrap(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """Spearman's rho of ``n_boot`` resamples (with replacement) of this group."""
        out = np.empty(n_boot)
        for start, b in self._chunks(n_boot):
            idx = rng.integers(0, self.n, size=(b, self.n))
            idx += np.arange(b)[:, None] * self.n
            w = np.bincount(idx.ravel(), minlength=b * self.n).reshape(b, self.n)
            out[start:start + b] = resample_spearman(w.astype(np.float64), self.tx, self.ty)
        return out

    def permutations(self, n_perm: int, rng: np.random.Generator) -> np.ndarray:
        """Spearman's rho with y permuted, ``n_perm`` times. The ranks of a permutation are
        the permuted ranks, so no re-ranking is needed."""
        out = np.empty(n_perm)
        base = np.arange(self.n)
        for start, b in self._chunks(n_perm):
            perm = rng.permuted(np.broadcast_to(base, (b, self.n)), axis=1)
            out[start:start + b] = self.cy[perm] @ self.cx / self.norm
        return out


def spearman_test(x, y, *, groups=None, n_boot: int = 1000, n_perm: int = 1000,
                  confidence: float = 0.95, seed=0) -> dict:
    r"""Spearman's rho with a bootstrap confidence interval and a permutation p-value.

    Without ``groups``: :math:`\rho` of all complete (x, y) pairs. With ``groups`` (e.g. class
    labels, a confounder of image statistics): the mean over groups of the within-group rho,

    .. math::

        \bar\rho = \frac{1}{|G|} \sum_{g \in G} \rho\big(x_{g}, y_{g}\big),

    over the usable groups G: groups with fewer than 3 complete pairs or with constant x or
    constant y are skipped (their rho is undefined or meaningless).

    Parameters
    ----------
    x, y : (N,) array_like of numbers
        Pairs with NaN in x or y are dropped first.
    groups : (N,) array_like, optional
        Group label of every pair (any hashable values; missing labels drop the pair).
    n_boot : int
        Bootstrap resamples. The percentile interval [3]_ of the resampled statistic: the
        examples are resampled with replacement (within each group when ``groups`` is
        given, a stratified bootstrap). Resamples where the statistic is undefined (a
        resample constant in x or y; within groups such a group is left out of that
        resample's mean) are ignored. 0: no interval (NaN).
    n_perm : int
        Permutations of y (within each group when ``groups`` is given). The two-sided
        p-value is :math:`(\#\{|\rho_\pi| \ge |\rho|\} + 1) / (n_{perm} + 1)` [4]_, never 0.
        0: no test (NaN).
    confidence : float
        Level of the interval, in (0, 1).
    seed : int
        Seed of the resampling (non-negative); results are deterministic given the seed
        (bootstrap and permutations use independent streams spawned from it).

    Returns
    -------
    dict
        ``rho``, ``ci_low``, ``ci_high``, ``p_value``, ``n`` (complete pairs used, in usable
        groups) and ``n_groups`` (usable groups; 1 without ``groups``). When nothing is
        usable (fewer than 3 pairs, constant x or y, no usable group) ``rho``, the interval
        and ``p_value`` are NaN and ``n`` and ``n_groups`` are 0.

    Notes
    -----
    Every group is ranked once. A bootstrap resample is represented by how often each
    example is drawn; the average ranks of the resampled values follow from these counts
    and the original sort order in O(n) (no sort per resample), and its rho is a weighted
    Pearson correlation of them. A permutation of y permutes its ranks, so the permuted rho
    is a dot product of centred ranks. Resamples are processed in chunks of bounded memory;
    N = 50,000 with 1000 resamples and 1000 permutations takes a few seconds.

    References
    ----------
    .. [3] Efron, Tibshirani, "An Introduction to the Bootstrap" (1993), ch. 13.
    .. [4] Phipson, Smyth, Stat. Appl. Genet. Mol. Biol. 9 (2010).
    """
    n_boot = _check_count(n_boot, "n_boot")
    n_perm = _check_count(n_perm, "n_perm")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    xs, ys, ok = _pair(x, y)
    if groups is None:
        parts = [np.flatnonzero(ok)]
    else:
        g = np.asarray(groups)
        if g.ndim != 1 or g.shape[0] != xs.shape[0]:
            raise ValueError(f"groups must be 1-D of the length of x ({xs.shape[0]}), got "
                             f"shape {g.shape}")
        codes, _ = pd.factorize(g)
        ok &= codes >= 0
        order = np.argsort(codes[ok], kind="stable")
        rows = np.flatnonzero(ok)[order]
        bounds = np.flatnonzero(np.diff(codes[rows])) + 1
        parts = np.split(rows, bounds) if rows.size else []
    usable = [grp for grp in (_Group(xs[p], ys[p]) for p in parts) if grp.usable]

    nan = float("nan")
    result = {"rho": nan, "ci_low": nan, "ci_high": nan, "p_value": nan, "n": 0,
              "n_groups": 0}
    if not usable:
        return result
    result["n"] = int(sum(grp.n for grp in usable))
    result["n_groups"] = len(usable)
    rho = float(np.mean([grp.rho for grp in usable]))
    result["rho"] = rho

    boot_ss, perm_ss = np.random.SeedSequence(seed).spawn(2)
    if n_boot:
        rng = np.random.default_rng(boot_ss)
        total = np.zeros(n_boot)
        count = np.zeros(n_boot)
        for grp in usable:
            rhos = grp.bootstrap(n_boot, rng)
            finite = np.isfinite(rhos)
            total += np.where(finite, rhos, 0.0)
            count += finite
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = total[count > 0] / count[count > 0]
        if boot.size:
            alpha = (1.0 - float(confidence)) / 2.0
            low, high = np.quantile(boot, [alpha, 1.0 - alpha])
            result["ci_low"], result["ci_high"] = float(low), float(high)
    if n_perm:
        rng = np.random.default_rng(perm_ss)
        total = np.zeros(n_perm)
        for grp in usable:
            total += grp.permutations(n_perm, rng)
        perm = total / len(usable)
        extreme = np.abs(perm) >= np.abs(rho) * (1.0 - _PERM_RTOL)
        result["p_value"] = float((np.count_nonzero(extreme) + 1) / (n_perm + 1))
    return result


# ---------------------------------------------------------------------- the table
def correlation_table(dynamics: pd.DataFrame, statistics: pd.DataFrame, columns=None, *,
                      num_epochs: int, label_column: str | None = "target", n_boot: int = 1000,
                      n_perm: int = 1000, seed=0) -> pd.DataFrame:
    """Spearman correlation of every statistic with the agreed-from epoch.

    Parameters
    ----------
    dynamics : pandas.DataFrame
        Per-example dynamics with ``example_id`` and ``agreed_from_epoch`` (nullable
        ``Int16``, ``<NA>`` for never agreed; NaN in a float column works too), as from
        :func:`agreement_core.agreement.example_dynamics_table`; its rows define the
        examples.
    statistics : pandas.DataFrame
        Per-example statistics keyed by ``example_id``; must cover every example of
        ``dynamics`` (extra rows are ignored).
    columns : str or list of str, optional
        Numeric statistic columns; default every numeric column of ``statistics`` except
        ``example_id``, ``label``, ``labels`` and ``target``.
    num_epochs : int
        E, the epochs the agreed-from epochs were computed over ("never agreed", a missing
        value, is ranked as E + 1, after every other example: see :func:`rank_agreed_from`).
    label_column : str or None
        Column of ``dynamics`` with the class of every example, for the within-class rows.
        When None or absent (e.g. multi-label stores have no ``target``) the within-class
        rows are left out.
    n_boot, n_perm, seed
        As in :func:`spearman_test`; every statistic uses the same seed.

    Returns
    -------
    pandas.DataFrame
        One row per (statistic, scope) with scope ``"all"`` (all examples) and
        ``"within_class"`` (the mean over classes of the within-class rho, bootstrap
        stratified by class, y permuted within classes): columns ``statistic``, ``scope``,
        ``rho``, ``ci_low``, ``ci_high``, ``p_value``, ``n``, ``n_groups``. Positive rho:
        examples with a higher statistic are agreed upon later (or never). A statistic that
        is constant within every class has no usable class: its within-class rho is NaN.

    Raises
    ------
    ValueError
        Missing ``example_id``/``agreed_from_epoch``, duplicated ids, ids of ``dynamics``
        missing from ``statistics``, an unknown or non-numeric column, an agreed-from epoch
        outside ``[1, num_epochs]`` (e.g. the old ``-1`` for never agreed).
    """
    _check_table(dynamics, "dynamics")
    if "agreed_from_epoch" not in dynamics.columns:
        raise ValueError(f"dynamics has no 'agreed_from_epoch' column (columns: "
                         f"{list(dynamics.columns)})")
    _check_table(statistics, "statistics")
    names = _statistic_columns(statistics, columns, "statistics")
    aligned = _align(statistics, dynamics["example_id"].to_numpy(), "statistics")
    # The column itself, not .to_numpy(): that would turn Int16 <NA> into an object array.
    order_key = rank_agreed_from(dynamics["agreed_from_epoch"], num_epochs)
    groups = None
    if label_column is not None and label_column in dynamics.columns:
        groups = dynamics[label_column].to_numpy()
        if groups.ndim != 1:
            groups = None

    rows = []
    scopes: list[tuple[str, np.ndarray | None]] = [("all", None)]
    if groups is not None:
        scopes.append(("within_class", groups))
    for name in names:
        x = aligned[name].to_numpy(dtype=np.float64, na_value=np.nan)
        for scope, grp in scopes:
            res = spearman_test(x, order_key, groups=grp, n_boot=n_boot, n_perm=n_perm,
                                seed=seed)
            rows.append({"statistic": name, "scope": scope, **res})
    return pd.DataFrame(rows, columns=_TABLE_COLUMNS)

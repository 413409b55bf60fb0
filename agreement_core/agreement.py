"""Agreement metrics between K classifiers: per epoch and per example.

Notation: ``correct[k, n]`` is 1 when network k classifies example n correctly at the epoch
in question (multi-label: exact match of the label sets). All functions are vectorised over
examples; the only Python loops run over the K networks or over epochs.

References
----------
.. [1] Pliushch, Mundt, Lupp, Ramesh, "When Deep Classifiers Agree: Analyzing Correlations
   between Learning Order and Image Statistics" (eq. 2: true-positive agreement;
   eq. 3: lower bound).
.. [2] Hacohen, Choshen, Weinshall, "Let's Agree to Agree: Neural Networks Share
   Classification Order on Real Datasets", ICLR 2020.
.. [3] Toneva et al., "An Empirical Study of Example Forgetting during Deep Neural Network
   Learning", ICLR 2019 (forgetting events).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data.labels import is_correct
from .errors import RecordStoreError
from .records import EpochRecord, RecordStore

__all__ = [
    "DynamicsAccumulator",
    "agreement_table",
    "combined_agreement_table",
    "epoch_agreement",
    "epoch_summary",
    "exact_match",
    "independent_agreement",
    "example_dynamics",
    "example_dynamics_table",
    "false_positive_agreement",
    "hacohen_agreement",
    "hacohen_tp_agreement",
    "lower_bound",
    "true_positive_agreement",
]

TABLE_COLUMNS = ["epoch", "tpa", "lower_bound", "mean_acc", "std_acc", "hacohen_agreement",
                 "hacohen_tp_agreement", "fp_agreement", "n_all_correct", "n_any_correct",
                 "n_examples"]


# ---------------------------------------------------------------------- validation helpers
def _as_correct(correct, ndim: int = 2, name: str = "correct") -> np.ndarray:
    """Validate a 0/1 correctness array; return it as bool."""
    arr = np.asarray(correct)
    if arr.ndim != ndim:
        shape = "(K, N)" if ndim == 2 else "(E, K, N)"
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if arr.shape[-2] < 1:
        raise ValueError(f"{name} needs at least one network, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    # Accept the 0/1 integer arrays of the paper's published code, nothing else.
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be bool (or 0/1 integers), got {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name} must contain only 0 and 1")
    return arr.astype(bool)


def _as_predictions(predictions) -> np.ndarray:
    """Validate (K, N) integer classes or (K, N, C) bool label sets."""
    arr = np.asarray(predictions)
    if arr.ndim == 2:
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"(K, N) predictions must be integer classes, got {arr.dtype}")
    elif arr.ndim == 3:
        if arr.dtype != np.bool_:
            raise TypeError(f"(K, N, C) predictions must be bool label sets, got {arr.dtype}")
    else:
        raise ValueError(f"predictions must have shape (K, N) or (K, N, C), got {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError("predictions need at least one network")
    return arr


def _as_pair(predictions, correct) -> tuple[np.ndarray, np.ndarray]:
    """Validate predictions and correctness of the same K networks and N examples."""
    pred = _as_predictions(predictions)
    c = _as_correct(correct)
    if c.shape != pred.shape[:2]:
        raise ValueError(f"correct {c.shape} must match predictions' (K, N) {pred.shape[:2]}")
    return pred, c


def _same_label(predictions: np.ndarray, k: int) -> np.ndarray:
    """(K, N) bool: network j predicts the same label (label set) as network k."""
    if predictions.ndim == 3:
        return (predictions == predictions[k]).all(axis=-1)
    return predictions == predictions[k]


# ---------------------------------------------------------------------- per-epoch metrics
def true_positive_agreement(correct) -> float:
    r"""True-positive agreement of one epoch (Pliushch et al., eq. 2).

    .. math::

        TPa = \frac{\sum_n \prod_k c_k(n)}{\sum_n \max_k c_k(n)}

    the number of examples all K networks classify correctly over the number at least one
    network classifies correctly.

    Parameters
    ----------
    correct : (K, N) array of bool
        ``correct[k, n]``: network k is right on example n (0/1 integers are accepted).

    Returns
    -------
    float
        In [0, 1]. When no network is right on any example the ratio is 0/0; it is **defined
        as 0** (nothing is agreed upon).
    """
    c = _as_correct(correct)
    n_all = int(np.count_nonzero(c.all(axis=0)))
    n_any = int(np.count_nonzero(c.any(axis=0)))
    return n_all / n_any if n_any else 0.0


def lower_bound(accuracies) -> float:
    r"""Lower bound of true-positive agreement given the K accuracies (Pliushch et al., eq. 3).

    .. math::

        Lba = 1 - \min\Big(\sum_k (1 - acc_k),\ 1\Big)

    The fraction of examples that all K networks must share being right on, whatever the
    networks learn: 0 as long as the errors sum to 100 % or more (e.g. 2 networks at 50 %,
    K networks at (K-1)/K).

    Parameters
    ----------
    accuracies : (K,) array of float in [0, 1]

    Returns
    -------
    float
    """
    acc = np.asarray(accuracies, dtype=np.float64)
    if acc.ndim != 1 or acc.size == 0:
        raise ValueError(f"accuracies must be a non-empty 1-D array, got shape {acc.shape}")
    if not np.all((acc >= 0) & (acc <= 1)):
        raise ValueError("accuracies must lie in [0, 1]")
    return float(1.0 - min(float(np.sum(1.0 - acc)), 1.0))


def independent_agreement(accuracies) -> float:
    r"""TPa that K networks with these accuracies would reach if their errors were independent.

    .. math::

        TPa_{ind} = \frac{\prod_k acc_k}{1 - \prod_k (1 - acc_k)}

    (all right, over at least one right; 0 when no network can be right). A reference
    between the lower bound (the least agreement the accuracies allow) and 1: agreement
    above it means the networks are right on the *same* examples more often than chance.

    Parameters
    ----------
    accuracies : (K,) array of float in [0, 1]
    """
    acc = np.asarray(accuracies, dtype=np.float64)
    lower_bound(acc)  # validates
    any_right = 1.0 - float(np.prod(1.0 - acc))
    return float(np.prod(acc)) / any_right if any_right > 0 else 0.0


def exact_match(predictions, targets) -> np.ndarray:
    r"""Multi-label exact match: the predicted label set equals the true label set.

    .. math::

        c_k(n) = \prod_{c} \mathbb{1}[\hat y_{k,n,c} = y_{n,c}]

    A missing label and an extra label both make the prediction wrong (Pliushch et al.,
    section 3).

    Parameters
    ----------
    predictions : (N, C) or (K, N, C) array of bool
    targets : (N, C) array of bool

    Returns
    -------
    (N,) or (K, N) array of bool
    """
    pred = np.asarray(predictions)
    tgt = np.asarray(targets)
    if pred.dtype != np.bool_ or tgt.dtype != np.bool_:
        raise TypeError(f"predictions and targets must be bool, got {pred.dtype}, {tgt.dtype}")
    if tgt.ndim != 2 or pred.ndim not in (2, 3) or pred.shape[-2:] != tgt.shape:
        raise ValueError(f"predictions (N, C) or (K, N, C) must match targets (N, C); got "
                         f"{pred.shape} and {tgt.shape}")
    return is_correct(pred, tgt)


def hacohen_agreement(predictions) -> np.ndarray:
    r"""Hacohen et al.'s agreement per example: the largest fraction of the K classifiers
    that predict the same label (multi-label: the same label set).

    .. math::

        a(n) = \frac{1}{K} \max_{y} \#\{k : f_k(x_n) = y\}

    Parameters
    ----------
    predictions : (K, N) integer array or (K, N, C) bool array

    Returns
    -------
    (N,) array of float in [1/K, 1]

    References
    ----------
    Hacohen, Choshen, Weinshall, ICLR 2020.
    """
    pred = _as_predictions(predictions)
    if pred.ndim == 3:
        pred = np.packbits(pred, axis=-1)  # C bools -> ceil(C/8) bytes per label set
    k_nets = pred.shape[0]
    best = np.zeros(pred.shape[1], dtype=np.int64)
    # For each network: how many networks share its label; the maximum is the mode count.
    # O(K^2 N) work, O(K N) memory; K is small.
    for k in range(k_nets):
        np.maximum(best, np.count_nonzero(_same_label(pred, k), axis=0), out=best)
    return best / k_nets


def hacohen_tp_agreement(correct) -> np.ndarray:
    r"""Hacohen et al.'s true-positive agreement per example: the mean accuracy over the K
    models, :math:`\frac{1}{K}\sum_k c_k(n)`.

    Parameters
    ----------
    correct : (K, N) array of bool

    Returns
    -------
    (N,) array of float in [0, 1]
    """
    return _as_correct(correct).mean(axis=0)


def false_positive_agreement(predictions, correct) -> np.ndarray:
    r"""Per example: all K networks are wrong **and** predict the same wrong label (label set).

    .. math::

        fp(n) = \prod_k (1 - c_k(n)) \cdot \mathbb{1}[f_1(x_n) = \dots = f_K(x_n)]

    Not defined in Pliushch et al. (left for future work there); built here.

    Parameters
    ----------
    predictions : (K, N) integer array or (K, N, C) bool array
    correct : (K, N) array of bool

    Returns
    -------
    (N,) array of bool
    """
    pred, c = _as_pair(predictions, correct)
    return _false_positive(pred, c.any(axis=0))


def _false_positive(predictions: np.ndarray, any_correct: np.ndarray) -> np.ndarray:
    """:func:`false_positive_agreement` of validated predictions, given "anyone right"."""
    return _same_label(predictions, 0).all(axis=0) & ~any_correct


def epoch_agreement(record: EpochRecord) -> dict:
    r"""The accuracy and agreement numbers of one epoch, from its :class:`EpochRecord`.

    The one place these numbers are computed: :func:`epoch_summary`, :func:`agreement_table`,
    :func:`~agreement_core.correlation.agreement_curves` and
    :func:`~agreement_core.widgets.scrubber_data` all take them from here. They derive from
    the record's cached reductions (:attr:`~EpochRecord.agreed`,
    :attr:`~EpochRecord.any_correct`, :attr:`~EpochRecord.num_correct`,
    :attr:`~EpochRecord.accuracies`), so each is computed once per epoch however many
    consumers read the record.

    Parameters
    ----------
    record : EpochRecord
        ``record.correct`` is the (K, N) bool correctness of the epoch.

    Returns
    -------
    dict
        ``tpa`` (eq. 2, 0/0 := 0), ``lower_bound`` (eq. 3), ``mean_acc`` and ``std_acc``
        (mean and **population** standard deviation, ddof=0, of the K networks'
        accuracies), ``hacohen_tp_agreement`` (the mean over the examples of the fraction of
        networks that are right: the pooled accuracy, correct predictions over all K x N,
        equal to ``mean_acc`` up to rounding; 0 without examples), ``n_all_correct``
        (the size of the agreed set), ``n_any_correct``, ``n_examples``.
    """
    k, n = np.shape(record.correct)
    acc = record.accuracies
    n_all = int(np.count_nonzero(record.agreed))
    n_any = int(np.count_nonzero(record.any_correct))
    return {
        "tpa": n_all / n_any if n_any else 0.0,
        "lower_bound": lower_bound(acc),
        "mean_acc": float(acc.mean()),
        "std_acc": float(acc.std(ddof=0)),
        # Integer count over K * N: bitwise equal to correct.mean() (an exact float sum).
        "hacohen_tp_agreement": int(record.num_correct.sum()) / (k * n) if n else 0.0,
        "n_all_correct": n_all,
        "n_any_correct": n_any,
        "n_examples": n,
    }


def _record_summary(record: EpochRecord) -> dict:
    """The full per-epoch row (:func:`epoch_summary`'s keys) of a validated record."""
    row = epoch_agreement(record)
    pred = record.predictions
    n = row["n_examples"]
    n_any_wrong = n - row["n_all_correct"]
    # false_positive_agreement, reusing the record's cached "anyone right".
    n_fp = int(np.count_nonzero(_false_positive(pred, record.any_correct)))
    row["hacohen_agreement"] = float(hacohen_agreement(pred).mean()) if n else 0.0
    row["fp_agreement"] = n_fp / n_any_wrong if n_any_wrong else 0.0
    return {key: row[key] for key in TABLE_COLUMNS[1:]}


def epoch_summary(predictions, correct) -> dict:
    r"""All per-epoch numbers of one epoch.

    Parameters
    ----------
    predictions : (K, N) integer array or (K, N, C) bool array
    correct : (K, N) array of bool

    Returns
    -------
    dict
        ``tpa`` (eq. 2, 0/0 := 0), ``lower_bound`` (eq. 3), ``mean_acc`` and ``std_acc``
        (mean and **population** standard deviation, ddof=0, of the K networks'
        accuracies), ``hacohen_agreement`` and ``hacohen_tp_agreement`` (means over the
        examples), ``fp_agreement`` (examples all K get wrong with the same label, divided by
        the examples at least one network gets wrong; 0/0 := 0), ``n_all_correct``,
        ``n_any_correct``, ``n_examples``.

    See Also
    --------
    epoch_agreement : the accuracy and agreement numbers alone, from an :class:`EpochRecord`.
    """
    pred, c = _as_pair(predictions, correct)
    # epoch is unused by the summary; 0 marks a record that came from no store.
    return _record_summary(EpochRecord(epoch=0, predictions=pred, correct=c))


def recorded_epochs(store: RecordStore) -> str:
    """What each network has recorded: ``network 0: 1, network 1: 0 (of 2)``."""
    counts = ", ".join(f"network {k}: {store.completed_epochs(k)}"
                       for k in range(store.num_networks))
    return f"epochs recorded per network: {counts} (of {store.num_epochs})"


def common_epochs(store: RecordStore, splits=None, *, partial_ok: bool = False
                  ) -> tuple[dict[str, int], str | None]:
    """The one rule for a store whose networks stopped at different epochs.

    Every consumer of a store (``agree``, ``report``, its figure, the learning-dynamics
    table) uses, per split, the epochs **all** networks have recorded and says so.

    Parameters
    ----------
    store : RecordStore
    splits : list of str, optional
        Default: every split of the store.
    partial_ok : bool
        A split without an epoch recorded by all networks is a note, not an error (right
        after training, other jobs may be busy).

    Returns
    -------
    dict of str to int, str or None
        Split -> the number of epochs all networks have recorded, and the note to show
        (None when the store is complete).

    Raises
    ------
    RecordStoreError
        A split has no epoch recorded by all networks (without ``partial_ok``), naming what
        each network has.
    """
    splits = list(splits or store.splits)
    available = {name: store.available_epochs(name) for name in splits}
    empty = [name for name in splits if available[name] == 0]
    if empty:
        message = (f"record store {store.path}: no epoch of split {empty[0]!r} is recorded for "
                   f"all networks ({recorded_epochs(store)})")
        if not partial_ok:
            raise RecordStoreError(f"{message}; finish the training (rerun its command) first")
        return available, f"{message}; no agreement table yet"
    if min(available.values()) < store.num_epochs:
        return available, (f"the table stops at the last epoch all networks have recorded "
                           f"({recorded_epochs(store)})")
    return available, None


def agreement_table(store: RecordStore, split: str, epochs=None) -> pd.DataFrame:
    """Per-epoch agreement table of one split, streamed from a record store.

    Parameters
    ----------
    store : RecordStore
    split : str
    epochs : iterable of int, optional
        1-based epochs; default every epoch recorded for all networks.

    Returns
    -------
    pandas.DataFrame
        One row per epoch; columns ``epoch`` and the keys of :func:`epoch_summary`.
    """
    # The store's records are validated when read: summarise them directly.
    rows = [{"epoch": rec.epoch, **_record_summary(rec)}
            for rec in store.iter_epochs(split, epochs)]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def combined_agreement_table(stores, split: str, network: int = 0) -> pd.DataFrame:
    """Agreement of one network taken from each of several stores (e.g. one per architecture).

    The stores must hold the same examples with the same targets for ``split``;
    epochs run to the shortest store. Returns the columns of :func:`agreement_table`.
    """
    stores = list(stores)
    if len(stores) < 2:
        raise ValueError("combined agreement needs at least two stores")
    first = stores[0]
    for store in stores[1:]:
        if not (np.array_equal(store.example_ids(split), first.example_ids(split))
                and np.array_equal(store.targets(split), first.targets(split))):
            raise ValueError(f"{store.path} holds other {split} examples or targets than "
                             f"{first.path}")
        if not 0 <= network < store.num_networks:
            raise ValueError(f"network {network} not in {store.path}")
    epochs = min(store.available_epochs(split) for store in stores)
    rows = []
    for epoch in range(1, epochs + 1):
        pred = np.stack([store.read_predictions(network, split, epoch) for store in stores])
        target = first.targets(split)
        correct = is_correct(pred, target)
        rows.append({"epoch": epoch, **epoch_summary(pred, correct)})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


# ---------------------------------------------------------------------- per-example dynamics
# "Never" (never agreed upon, never correct) is a missing value, not a sentinel epoch: a
# sentinel such as -1 silently enters means, medians and orderings. The NumPy-level results
# are float64 with NaN (NaN propagates through a plain mean; np.nanmean and friends skip it);
# the tables use pandas' nullable Int16 with <NA>.


def _nan_where_zero(epochs: np.ndarray) -> np.ndarray:
    """int epochs with 0 for "never" (epochs are 1-based) -> float64 with NaN (C order)."""
    out = epochs.astype(np.float64, order="C")
    out[epochs == 0] = np.nan
    return out


def _nullable_epochs(epochs: np.ndarray) -> pd.arrays.IntegerArray:
    """float64 epochs with NaN -> pandas Int16 with <NA>."""
    missing = np.isnan(epochs)
    return pd.arrays.IntegerArray(np.where(missing, 0, epochs).astype(np.int16), missing)


def example_dynamics(correct_by_epoch) -> dict[str, np.ndarray]:
    r"""Per-example learning dynamics from the full correctness history (in memory).

    Parameters
    ----------
    correct_by_epoch : (E, K, N) array of bool
        Index 0 is epoch 1.

    Returns
    -------
    dict of str to ndarray
        ``agreed_from_epoch`` (N,) float64: the first epoch t (1-based) such that all K
        networks are correct at every epoch t..E; **NaN** ("never agreed") if not all are
        correct at epoch E.
        ``first_correct_epoch`` (N, K) float64: first epoch network k is correct; **NaN** if
        never.
        ``forgetting_events`` (N, K) int16: number of epochs t > 1 with
        :math:`c_k^{t-1}(n) = 1` and :math:`c_k^t(n) = 0` (Toneva et al., ICLR 2019).

    Notes
    -----
    The epochs are whole numbers stored as float64 so that "never" can be NaN, an explicit
    missing value: ``np.nanmean``/``np.nanmedian`` give statistics over the examples that
    have an epoch, ``np.isnan`` finds the others, and a plain mean is NaN rather than
    silently wrong. :func:`example_dynamics_table` turns them into nullable ``Int16``
    columns with ``<NA>``.

    See Also
    --------
    DynamicsAccumulator : the same, streamed one epoch at a time in O(N K) memory.
    """
    c = _as_correct(correct_by_epoch, ndim=3, name="correct_by_epoch")
    n_epochs = c.shape[0]
    if n_epochs < 1:
        raise ValueError("correct_by_epoch needs at least one epoch")
    if n_epochs > np.iinfo(np.int16).max:
        raise ValueError(f"at most {np.iinfo(np.int16).max} epochs, got {n_epochs}")
    ever = c.any(axis=0)
    first = np.where(ever, c.argmax(axis=0) + 1, np.nan)
    forgetting = np.count_nonzero(c[:-1] & ~c[1:], axis=0).astype(np.int16)
    not_all = ~c.all(axis=1)  # (E, N)
    # Last epoch (1-based) at which someone is wrong; agreement starts right after it.
    last_wrong = n_epochs - np.argmax(not_all[::-1], axis=0)
    last_wrong = np.where(not_all.any(axis=0), last_wrong, 0)
    agreed = np.where(not_all[-1], np.nan, last_wrong + 1)
    return {"agreed_from_epoch": agreed, "first_correct_epoch": first.T.copy(),
            "forgetting_events": forgetting.T.copy()}


class DynamicsAccumulator:
    """Streaming :func:`example_dynamics`: feed epochs 1, 2, ... in order, O(N K) memory.

    :meth:`result` equals :func:`example_dynamics` of the epochs seen so far, "never" as NaN.

    Examples
    --------
    >>> acc = DynamicsAccumulator()
    >>> for rec in store.iter_epochs("train"):  # doctest: +SKIP
    ...     acc.update(rec.epoch, rec.correct)
    >>> dyn = acc.result()  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self.epoch = 0
        self._prev: np.ndarray | None = None

    def update(self, epoch: int, correct) -> None:
        """Add one epoch. ``epoch`` must be the previous epoch + 1 (starting at 1);
        ``correct`` is (K, N) bool with the same shape every epoch."""
        c = _as_correct(correct)
        if epoch != self.epoch + 1:
            raise ValueError(f"epochs must arrive in order 1, 2, ...; expected {self.epoch + 1}, "
                             f"got {epoch}")
        if epoch > np.iinfo(np.int16).max:
            raise ValueError(f"at most {np.iinfo(np.int16).max} epochs")
        if self._prev is None:
            k, n = c.shape
            # Internally int16 with 0 for "not yet" (epochs are 1-based): half the memory of
            # float; result() turns 0 into NaN.
            self._first = np.zeros((k, n), dtype=np.int16)
            self._forgetting = np.zeros((k, n), dtype=np.int16)
            self._agreed = np.zeros(n, dtype=np.int16)
        elif c.shape != self._prev.shape:
            raise ValueError(f"correct has shape {c.shape}, earlier epochs {self._prev.shape}")
        else:
            self._forgetting += self._prev & ~c
        self._first[(self._first == 0) & c] = epoch
        all_c = c.all(axis=0)
        # A run of all-correct epochs starts here unless it is already running; any wrong
        # network breaks it.
        self._agreed = np.where(all_c, np.where(self._agreed == 0, epoch, self._agreed),
                                0).astype(np.int16)
        self._prev = c
        self.epoch = epoch

    def result(self) -> dict[str, np.ndarray]:
        """The same dict as :func:`example_dynamics` for the epochs seen so far.

        ``agreed_from_epoch`` (N,) and ``first_correct_epoch`` (N, K) are float64 with NaN
        for "never"; ``forgetting_events`` (N, K) is int16.
        """
        if self._prev is None:
            raise ValueError("no epoch added yet")
        return {"agreed_from_epoch": _nan_where_zero(self._agreed),
                "first_correct_epoch": _nan_where_zero(self._first.T),
                "forgetting_events": self._forgetting.T.copy()}


def example_dynamics_table(store: RecordStore, split: str) -> pd.DataFrame:
    """Per-example learning-dynamics table of one split, streamed from a record store.

    Uses every epoch recorded for all networks (``store.available_epochs(split)``).

    Returns
    -------
    pandas.DataFrame
        One row per example: ``example_id``, ``target`` (single-label only),
        ``agreed_from_epoch``, ``first_correct_epoch_<k>`` and ``forgetting_events_<k>`` per
        network k, ``forgetting_events`` (sum over networks), ``hacohen_agreement_last`` and
        ``fp_agreement_last`` (at the last epoch), and when the store records the true-class
        probability ``mean_true_prob`` and ``std_true_prob``: mean and population standard
        deviation over all K x E (network, epoch) values (accumulated as running sums in
        float64).

        ``agreed_from_epoch`` and ``first_correct_epoch_<k>`` are pandas nullable integers
        (dtype ``"Int16"``) with ``<NA>`` for "never": never agreed upon (not all networks
        correct at the last epoch) and never correct. pandas' reductions skip ``<NA>``
        (``table["agreed_from_epoch"].mean()`` is over the agreed examples);
        ``.isna()`` selects the others.
    """
    n_epochs = store.available_epochs(split)
    if n_epochs == 0:
        raise RecordStoreError(f"record store {store.path}: no epoch of split {split!r} is "
                               "recorded for all networks")
    acc = DynamicsAccumulator()
    n = store.num_examples(split)
    if store.with_true_prob:
        prob_sum = np.zeros(n, dtype=np.float64)
        prob_sq = np.zeros(n, dtype=np.float64)
    last = None
    for rec in store.iter_epochs(split, range(1, n_epochs + 1)):
        acc.update(rec.epoch, rec.correct)
        if store.with_true_prob:
            p = rec.true_prob.astype(np.float64)
            prob_sum += p.sum(axis=0)
            prob_sq += (p * p).sum(axis=0)
        last = rec
    dyn = acc.result()
    columns: dict[str, np.ndarray | pd.arrays.IntegerArray] = {
        "example_id": store.example_ids(split)}
    if not store.multilabel:
        columns["target"] = store.targets(split)
    columns["agreed_from_epoch"] = _nullable_epochs(dyn["agreed_from_epoch"])
    for k in range(store.num_networks):
        columns[f"first_correct_epoch_{k}"] = _nullable_epochs(dyn["first_correct_epoch"][:, k])
    for k in range(store.num_networks):
        columns[f"forgetting_events_{k}"] = dyn["forgetting_events"][:, k]
    columns["forgetting_events"] = dyn["forgetting_events"].sum(axis=1, dtype=np.int32)
    columns["hacohen_agreement_last"] = hacohen_agreement(last.predictions)
    columns["fp_agreement_last"] = false_positive_agreement(last.predictions, last.correct)
    if store.with_true_prob:
        count = n_epochs * store.num_networks
        mean = prob_sum / count
        columns["mean_true_prob"] = mean
        columns["std_true_prob"] = np.sqrt(np.maximum(prob_sq / count - mean * mean, 0.0))
    return pd.DataFrame(columns)

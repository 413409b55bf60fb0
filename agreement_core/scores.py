"""Per-example difficulty scores from a record store, beside agreement.

The scores data-centric work uses, computed from the same records as agreement, so they can
be compared example by example:

- **agreed-from epoch** (this project; :func:`agreement_core.agreement.example_dynamics`):
  the first epoch from which all K networks stay right;
- **forgetting events** (Toneva et al., 2019): how often a network goes from right to wrong
  between consecutive epochs, summed over the K networks; an example a network never gets
  right counts as forgotten at every recorded epoch (E events), more than any learned example
  can reach (at most E / 2), so never-learned examples rank as the most forgettable, as in
  Toneva et al. (who sort them first, "forgotten infinitely often") and dataset cartography
  (a large sentinel) (:func:`forgetting_events`);
- **data map** (Swayamdipta et al., 2020): *confidence*, the mean probability of the true
  class over epochs (and networks); *variability*, its standard deviation; *correctness*,
  the fraction of (network, epoch) pairs that are right;
- **AUM**, the area under the margin (Pleiss et al., 2020): the mean over epochs of the
  true class's logit minus the largest other logit (:func:`area_under_margin`);
- **EL2N** (Paul et al., 2021): the L2 norm of the softmax vector minus the one-hot target,
  early in training, averaged over networks (:func:`el2n`).

AUM needs a store that keeps margins (``keep="margin"`` or ``"scores"``) or probability
vectors (``"probs"``), EL2N one that keeps ``"scores"`` or ``"probs"``, the data map's
confidence one that keeps true-class probabilities (``with_true_prob``) or probability
vectors (``RecordStore.create``; :class:`agreement_core.recorder.Recorder`).

References
----------
.. [1] Toneva, M. et al. "An Empirical Study of Example Forgetting during Deep Neural Network
   Learning." ICLR 2019.
.. [2] Swayamdipta, S. et al. "Dataset Cartography: Mapping and Diagnosing Datasets with
   Training Dynamics." EMNLP 2020.
.. [3] Pleiss, G. et al. "Identifying Mislabeled Data using the Area Under the Margin
   Ranking." NeurIPS 2020.
.. [4] Paul, M., Ganguli, S., Dziugaite, G. K. "Deep Learning on a Data Diet: Finding
   Important Examples Early in Training." NeurIPS 2021.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ._io import write_table
from .agreement import example_dynamics_table
from .errors import RecordStoreError
from .records import RecordStore, read_example_names


class MissingScoreWarning(UserWarning):
    """A score the caller asked for (or a table would usually hold) that the store cannot
    give, with what to record to get it."""


def _epochs(store: RecordStore, split: str) -> range:
    last = store.available_epochs(split)
    if last == 0:
        raise RecordStoreError(f"record store {store.path}: no epoch of {split!r} is recorded "
                               "for all networks")
    return range(1, last + 1)


def _single_label(store: RecordStore, what: str) -> None:
    if store.multilabel:
        raise RecordStoreError(f"{what} is defined for single-label targets; {store.path} is "
                               "multi-label")


def area_under_margin(store: RecordStore, split: str = "train") -> np.ndarray:
    r"""Area under the margin of every example (Pleiss et al., 2020).

    .. math::

        \mathrm{AUM}(x_n) = \frac{1}{K E} \sum_{k=1}^{K} \sum_{t=1}^{E}
            \Big( z^{(t)}_{k, y_n}(x_n) - \max_{j \neq y_n} z^{(t)}_{k, j}(x_n) \Big),

    the margin of the true class averaged over the recorded epochs, and over the K networks
    (Pleiss et al. average over the epochs of one network). Low or negative: an example the
    networks keep assigning to another class (often mislabelled).

    Parameters
    ----------
    store : RecordStore
        A single-label store that keeps ``"margin"`` or ``"probs"``.
    split : str

    Returns
    -------
    (N,) float64 ndarray
    """
    _single_label(store, "AUM")
    if store.keep == "none":
        raise RecordStoreError(f"record store {store.path} keeps no margins: create it with "
                               "keep='margin' or keep='probs' (Recorder(keep=...))")
    total = np.zeros(store.num_examples(split))
    epochs = _epochs(store, split)
    for t in epochs:
        for k in range(store.num_networks):
            total += store.read_margin(k, split, t)
    return total / (len(epochs) * store.num_networks)


def forgetting_events(store: RecordStore, split: str = "train") -> np.ndarray:
    """Forgetting events of every example, summed over the K networks (Toneva et al., 2019).

    For each network, the number of consecutive recorded epochs (t-1, t) at which the
    example goes from right to wrong; an example the network gets wrong at **every**
    recorded epoch (never learned) counts E, the number of recorded epochs. A learned
    example has at most E / 2 events, so never-learned examples rank above every learned
    one: the convention of Toneva et al. (never-learned examples are the most forgettable)
    and of dataset cartography (a large sentinel). Without it a never-learned example
    would score 0, as unforgettable as the easiest, and a mislabelled example, which is
    rarely learned, would look easy (AUROC 0.46 against flipped labels, in the issue that
    introduced this convention).

    Returns
    -------
    (N,) int64 ndarray

    See Also
    --------
    agreement_core.agreement.example_dynamics : the observed transitions alone, per network
        (``forgetting_events``; 0 for never-learned examples).
    """
    epochs = _epochs(store, split)
    k, n = store.num_networks, store.num_examples(split)
    events = np.zeros((k, n), np.int64)
    ever = np.zeros((k, n), bool)
    previous = None
    for t in epochs:
        correct = np.asarray(store.correct(split, t), bool)          # (K, N)
        if previous is not None:
            events += previous & ~correct
        ever |= correct
        previous = correct
    events[~ever] = len(epochs)
    return events.sum(axis=0)


def el2n(store: RecordStore, split: str = "train", epoch: int | None = None) -> np.ndarray:
    r"""EL2N score of every example (Paul et al., 2021).

    .. math::

        \mathrm{EL2N}(x_n) = \frac{1}{K} \sum_{k=1}^{K}
            \big\lVert p^{(t)}_k(x_n) - e_{y_n} \big\rVert_2,

    the distance of the softmax vector from the one-hot target at epoch t, averaged over the
    K networks (Paul et al. average over 10 initialisations, at about a tenth of training).

    Parameters
    ----------
    store : RecordStore
        A single-label store that keeps ``"scores"`` or ``"probs"``.
    split : str
    epoch : int, optional
        1-based epoch; default a tenth of the recorded epochs (at least 1), as Paul et al.

    Returns
    -------
    (N,) float64 ndarray
    """
    _single_label(store, "EL2N")
    if store.keep not in ("scores", "probs"):
        raise RecordStoreError(f"record store {store.path} keeps {store.keep!r}: EL2N needs "
                               "keep='scores' or keep='probs' (Recorder(keep=...))")
    epochs = _epochs(store, split)
    epoch = max(1, round(len(epochs) / 10)) if epoch is None else int(epoch)
    if epoch not in epochs:
        raise ValueError(f"epoch {epoch} is not recorded for every network (1..{epochs[-1]})")
    total = np.zeros(store.num_examples(split))
    for k in range(store.num_networks):
        total += store.read_el2n(k, split, epoch)
    return total / store.num_networks


_NO_CONFIDENCE = ("record store {path} keeps no probabilities: the data map's confidence and "
                  "variability are left out (only correctness). Record with "
                  "Recorder(..., with_true_prob=True) or keep='probs' to get them.")


def data_map(store: RecordStore, split: str = "train") -> pd.DataFrame:
    """The data map's coordinates of every example (Swayamdipta et al., 2020).

    Returns
    -------
    pandas.DataFrame
        ``example_id``; ``confidence``: the mean probability of the true class over all K x E
        (network, epoch) pairs; ``variability``: its population standard deviation;
        ``correctness``: the fraction of those pairs that are right. Confidence and
        variability need a store that keeps true-class probabilities (``with_true_prob``)
        or probability vectors (``keep="probs"``); without them they are left out, with a
        :class:`MissingScoreWarning` that says how to record them.
    """
    _single_label(store, "The data map")
    epochs = _epochs(store, split)
    n = store.num_examples(split)
    targets = store.targets(split)
    rows = np.arange(n)
    right = np.zeros(n)
    total = np.zeros(n)
    square = np.zeros(n)
    has_prob = store.with_true_prob or store.keep == "probs"
    for t in epochs:
        right += store.correct(split, t).sum(axis=0)
        if not has_prob:
            continue
        for k in range(store.num_networks):
            p = (store.read_true_prob(k, split, t) if store.with_true_prob
                 else store.read_probs(k, split, t)[rows, targets]).astype(np.float64)
            total += p
            square += p * p
    if not has_prob:
        warnings.warn(_NO_CONFIDENCE.format(path=store.path), MissingScoreWarning,
                      stacklevel=3)
    count = len(epochs) * store.num_networks
    table = {"example_id": store.example_ids(split)}
    if has_prob:
        mean = total / count
        table["confidence"] = mean
        table["variability"] = np.sqrt(np.maximum(square / count - mean * mean, 0.0))
    table["correctness"] = right / count
    return pd.DataFrame(table)


def example_scores(store: RecordStore, split: str = "train", *,
                   el2n_epoch: int | None = None) -> pd.DataFrame:
    """Every per-example score the store allows, one row per example, keyed by example id.

    Columns: ``example_id`` (and ``example_name`` for a store recorded with string ids),
    ``target``, ``agreed_from_epoch`` (``<NA>``: never agreed), ``forgetting_events``
    (summed over networks, never-learned examples counted as the most forgettable:
    :func:`forgetting_events`), ``correctness`` and, where the store keeps what they need,
    ``confidence``, ``variability`` (:func:`data_map`), ``aum`` (:func:`area_under_margin`)
    and ``el2n`` (:func:`el2n`). A score the store cannot give is left out with a
    :class:`MissingScoreWarning`; ``table.attrs["missing"]`` names it and what to record.
    """
    dynamics = example_dynamics_table(store, split)
    table = dynamics[["example_id", "target", "agreed_from_epoch"]].copy()
    names = read_example_names(store, split)
    if names is not None:
        table.insert(1, "example_name", names)
    table["forgetting_events"] = forgetting_events(store, split)
    missing = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MissingScoreWarning)
        mapped = data_map(store, split)
    if caught:
        missing["confidence"] = missing["variability"] = "with_true_prob=True or keep='probs'"
    if store.keep == "none":
        missing["aum"] = "keep='margin', 'scores' or 'probs'"
    if store.keep not in ("scores", "probs"):
        missing["el2n"] = "keep='scores' or 'probs'"
    for column in ("confidence", "variability", "correctness"):
        if column in mapped:
            table[column] = mapped[column].to_numpy()
    if store.keep != "none":
        table["aum"] = area_under_margin(store, split)
    if store.keep in ("scores", "probs"):
        table["el2n"] = el2n(store, split, el2n_epoch)
    if missing and not store.multilabel:
        warnings.warn(f"record store {store.path}: the score table has no "
                      f"{', '.join(missing)}; record with "
                      f"{'; '.join(sorted(set(missing.values())))} to get them",
                      MissingScoreWarning, stacklevel=2)
    table.attrs["missing"] = missing
    return table


def threshold_samples(num_examples: int, num_classes: int, *, part: int = 0,
                      seed: int = 0) -> np.ndarray:
    """The threshold samples of Pleiss et al. (2020): a random N / (C + 1) of the examples,
    to be relabelled as an extra, fake class C while the networks train.

    No real example belongs to the fake class, so the AUM of these examples is what a
    mislabelled example's looks like. Train with ``num_classes + 1`` outputs and targets
    ``np.where(mask, num_classes, targets)``, record with ``keep="margin"``, then
    :func:`flag_label_issues`. The threshold samples themselves are not assessed; Pleiss et
    al. train twice, with disjoint threshold samples: ``part=0`` and ``part=1`` (same seed)
    are disjoint.

    Parameters
    ----------
    num_examples, num_classes : int
        N and the number of real classes C.
    part : int
        Which disjoint block of a seeded permutation, 0 <= part < C + 1.
    seed : int

    Returns
    -------
    (N,) bool ndarray
        True for the threshold samples, in the order of the examples given.
    """
    size = num_examples // (num_classes + 1)
    if not 0 <= part <= num_classes or size == 0:
        raise ValueError(f"part must be in [0, {num_classes}] and N >= C + 1, got part={part}, "
                         f"N={num_examples}")
    order = np.random.default_rng(seed).permutation(num_examples)
    mask = np.zeros(num_examples, bool)
    mask[order[part * size:(part + 1) * size]] = True
    return mask


def flag_label_issues(store: RecordStore, split: str = "train", *, threshold_mask,
                      percentile: float = 99.0) -> pd.DataFrame:
    """Flag likely mislabelled examples by their AUM (Pleiss et al., 2020).

    The threshold is the ``percentile``-th percentile (99, as Pleiss et al.) of the AUM of
    the threshold samples (:func:`threshold_samples`), which were trained under a class
    that does not exist; an example whose AUM is at most that threshold is flagged.

    Parameters
    ----------
    store : RecordStore
        A store with ``num_classes`` = C + 1 (the fake class last) that keeps margins, whose
        targets of the threshold samples are the fake class.
    split : str
    threshold_mask : (N,) array_like of bool
        The threshold samples, in the store's example order (see the example below).
    percentile : float

    Returns
    -------
    pandas.DataFrame
        ``example_id``, ``aum``, ``threshold_sample`` and ``flagged`` (False for the
        threshold samples); ``table.attrs["threshold"]`` is the AUM threshold.

    Examples
    --------
    >>> mask = threshold_samples(len(ids), 10)                          # doctest: +SKIP
    >>> recorder = Recorder(path, splits={"train": (ids, np.where(mask, 10, y))},
    ...                     num_classes=11, keep="margin", ...)         # doctest: +SKIP
    >>> ...                                          # train with 11 outputs, record
    >>> order = np.searchsorted(ids_sorted, store.example_ids("train"))  # doctest: +SKIP
    >>> flag_label_issues(store, threshold_mask=mask[order])           # doctest: +SKIP
    """
    mask = np.asarray(threshold_mask, bool)
    n = store.num_examples(split)
    if mask.shape != (n,) or not mask.any() or mask.all():
        raise ValueError(f"threshold_mask must be (N,) = ({n},) bool with some threshold "
                         "samples and some examples to assess")
    fake = store.num_classes - 1
    targets = store.targets(split)
    if not np.all(targets[mask] == fake):
        raise ValueError(f"the threshold samples' targets must be the fake class {fake} (the "
                         "last): was the mask given in the store's example order?")
    aum = area_under_margin(store, split)
    threshold = float(np.percentile(aum[mask], percentile))
    table = pd.DataFrame({"example_id": store.example_ids(split), "aum": aum,
                          "threshold_sample": mask, "flagged": ~mask & (aum <= threshold)})
    table.attrs["threshold"] = threshold
    return table


def export_scores(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a score table atomically as Parquet (``.parquet``) or CSV (``.csv``)."""
    path = Path(path)
    if path.suffix not in (".parquet", ".csv"):
        raise ValueError(f"export to .parquet or .csv, got {path.name!r}")
    if not table["example_id"].is_unique:
        raise ValueError("the score table's example ids are not unique")
    write_table(table, path)
    return path


__all__ = ["MissingScoreWarning", "area_under_margin", "data_map", "el2n", "example_scores",
           "export_scores", "flag_label_issues", "forgetting_events", "threshold_samples"]

"""Per-example difficulty scores from a record store, beside agreement.

The scores data-centric work uses, computed from the same records as agreement, so they can
be compared example by example:

- **agreed-from epoch** (this project; :func:`agreement_core.agreement.example_dynamics`):
  the first epoch from which all K networks stay right;
- **forgetting events** (Toneva et al., 2019): how often a network goes from right to wrong
  between consecutive epochs, summed over the K networks;
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
from pathlib import Path

import numpy as np
import pandas as pd

from ._io import write_table
from .agreement import example_dynamics_table
from .errors import RecordStoreError
from .records import RecordStore


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


def data_map(store: RecordStore, split: str = "train") -> pd.DataFrame:
    """The data map's coordinates of every example (Swayamdipta et al., 2020).

    Returns
    -------
    pandas.DataFrame
        ``example_id``; ``confidence``: the mean probability of the true class over all K x E
        (network, epoch) pairs; ``variability``: its population standard deviation;
        ``correctness``: the fraction of those pairs that are right. Confidence and
        variability need a store that keeps true-class probabilities (``with_true_prob``)
        or probability vectors (``keep="probs"``); without them they are left out.
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

    Columns: ``example_id``, ``target``, ``agreed_from_epoch`` (``<NA>``: never agreed),
    ``forgetting_events`` (summed over networks), ``correctness`` and, where the store keeps
    what they need, ``confidence``, ``variability`` (:func:`data_map`), ``aum``
    (:func:`area_under_margin`) and ``el2n`` (:func:`el2n`).
    """
    dynamics = example_dynamics_table(store, split)
    table = dynamics[["example_id", "target", "agreed_from_epoch", "forgetting_events"]].copy()
    mapped = data_map(store, split)
    for column in ("confidence", "variability", "correctness"):
        if column in mapped:
            table[column] = mapped[column].to_numpy()
    if store.keep != "none":
        table["aum"] = area_under_margin(store, split)
    if store.keep in ("scores", "probs"):
        table["el2n"] = el2n(store, split, el2n_epoch)
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


__all__ = ["area_under_margin", "data_map", "el2n", "example_scores", "export_scores"]

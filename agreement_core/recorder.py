"""Record from your own training loop: per-batch updates into a record store.

:class:`Recorder` is the record store (:mod:`agreement_core.records`) for networks trained
anywhere: three calls in any PyTorch loop. Each batch is given
by its example ids, the network's logits (or its predictions) and optionally the targets;
after the epoch, the recorder writes every example's prediction of that epoch atomically, as
the study's own trainer does. Everything the library computes from a store (agreement and
its bound, forgetting, the data map, AUM, EL2N, correlations) then works on your run::

    recorder = Recorder("runs/mine", splits={"train": (ids, targets)}, num_networks=3,
                        num_epochs=10, num_classes=10, keep="margin")
    for k in range(3):
        for epoch in recorder.epochs_to_run(k):       # resumes after an interruption
            for x, y, batch_ids in loader:
                logits = model(x)
                ...                                   # your loss and step
                recorder.update(k, "train", epoch, batch_ids, logits=logits, targets=y)
            recorder.finish_epoch(k, "train", epoch)

Guarantees:

- **Resumable**: an epoch is on disk once :meth:`finish_epoch` returns (one atomic file per
  network, split and epoch); :meth:`epochs_to_run` starts after the last finished epoch.
- **A batch recorded twice counts once**: updates are kept per example id, the last one
  wins (a retried step, a resumed epoch, a sampler that repeats examples).
- **Stable ids checked**: an id the store does not know, a target that disagrees with the
  store's, or an epoch finished with examples never seen are errors that name the ids.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from .records import RecordStore, el2n_of, true_class_margin


def _numpy(value, name: str) -> np.ndarray:
    """A tensor (any device, with or without grad) or array-like as a NumPy array."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy() if value.is_floating_point() \
            else value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"{name} must be numeric, got objects")
    return array


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class _EpochBuffer:
    """One (network, split, epoch) being recorded: per-example slots, last update wins."""

    def __init__(self, n: int, num_classes: int, multilabel: bool, keep: str,
                 with_true_prob: bool):
        shape = (n, num_classes) if multilabel else (n,)
        self.pred = np.zeros(shape, bool if multilabel else np.int64)
        self.seen = np.zeros(n, bool)
        self.true_prob = np.zeros(n, np.float32) if with_true_prob else None
        self.margin = np.zeros(n, np.float32) if keep in ("margin", "scores") else None
        self.el2n = np.zeros(n, np.float32) if keep == "scores" else None
        self.probs = np.zeros((n, num_classes), np.float32) if keep == "probs" else None


class Recorder:
    """Per-batch recording of K networks into a :class:`~agreement_core.records.RecordStore`.

    Parameters
    ----------
    path : path-like
        The store's directory: created, or resumed when it exists with the same settings.
    splits : mapping of str to (example_ids, targets)
        Every example of each split that will be recorded: (N,) unique integer ids (stable
        across runs: an index into the dataset, a hash of the file name, ...) and (N,)
        integer targets, or (N, C) bool label sets with ``multilabel``.
    num_networks, num_epochs, num_classes : int
    multilabel : bool
        Multi-label targets; predictions are label sets (sigmoid > 0.5 of the logits).
    keep : {"none", "margin", "scores", "probs"}
        Per-example scores kept beside the predictions (:data:`agreement_core.records.KEEP`):
        the true-class margin for AUM (4 bytes per example and epoch), the margin and EL2N
        (8 bytes), or the probability vector (4 C bytes). Needs logits.
    with_true_prob : bool
        Keep the true-class probability (float16; the data map's confidence). Needs logits.
    encoding : {"plain", "compact"}
    config : mapping, optional
        Anything describing the run (JSON-serialisable), kept in ``meta.json``.
    """

    def __init__(self, path: str | os.PathLike, *, splits: Mapping[str, tuple],
                 num_networks: int, num_epochs: int, num_classes: int,
                 multilabel: bool = False, keep: str = "none", with_true_prob: bool = False,
                 encoding: str = "plain", config: Mapping | None = None):
        self.store = RecordStore.create(
            path, num_networks=num_networks, num_epochs=num_epochs, num_classes=num_classes,
            splits={name: (_numpy(ids, "example_ids"), _numpy(targets, "targets"))
                    for name, (ids, targets) in splits.items()},
            multilabel=multilabel, with_true_prob=with_true_prob, encoding=encoding,
            keep=keep, config=config, exist_ok=True)
        # id -> row, per split: the store's example order.
        self._rows = {}
        for split in self.store.splits:
            ids = self.store.example_ids(split)
            order = np.argsort(ids, kind="stable")
            self._rows[split] = (ids[order], order)
        self._open: dict[tuple[int, str, int], _EpochBuffer] = {}

    # ------------------------------------------------------------------ resuming
    def epochs_to_run(self, network: int) -> range:
        """The epochs of ``network`` still to train: after the last epoch finished for
        every split."""
        return range(self.store.completed_epochs(network) + 1, self.store.num_epochs + 1)

    # ------------------------------------------------------------------ recording
    def _rows_of(self, split: str, example_ids) -> np.ndarray:
        if split not in self._rows:
            raise ValueError(f"unknown split {split!r}; the store has "
                             f"{', '.join(self.store.splits)}")
        ids = _numpy(example_ids, "example_ids").reshape(-1)
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"example ids must be integers, got {ids.dtype}")
        sorted_ids, order = self._rows[split]
        at = np.clip(np.searchsorted(sorted_ids, ids), 0, len(sorted_ids) - 1)
        unknown = ids[sorted_ids[at] != ids]
        if unknown.size:
            raise KeyError(f"example ids not in the {split} split of {self.store.path}: "
                           f"{unknown[:5].tolist()}{' ...' if unknown.size > 5 else ''} "
                           f"({unknown.size} in this batch)")
        return order[at]

    def update(self, network: int, split: str, epoch: int, example_ids, *, logits=None,
               predictions=None, targets=None) -> None:
        """Record one batch of one network.

        Parameters
        ----------
        network : int
            0-based network index.
        split : str
        epoch : int
            1-based epoch the batch belongs to.
        example_ids : (B,) array_like or tensor of int
        logits : (B, C) array_like or tensor, optional
            The network's outputs; the prediction is their argmax (multi-label: > 0).
        predictions : (B,) or (B, C) array_like, optional
            Given instead of logits (then nothing is kept beyond the prediction).
        targets : array_like, optional
            The batch's targets, checked against the store's (catches unstable ids).
        """
        if (logits is None) == (predictions is None):
            raise ValueError("give exactly one of logits= and predictions=")
        store = self.store
        store._check_indices(network, split, epoch)
        rows = self._rows_of(split, example_ids)
        if targets is not None:
            given = _numpy(targets, "targets")
            expected = store.targets(split)[rows]
            if given.shape != expected.shape or not np.array_equal(given, expected):
                bad = rows[np.any(given.reshape(len(rows), -1)
                                  != expected.reshape(len(rows), -1), axis=1)]
                ids = store.example_ids(split)[bad][:5].tolist()
                raise ValueError(f"targets of example ids {ids} differ from those the store "
                                 f"holds for them: the ids are not stable (a shuffled "
                                 f"dataset, a different split or order?)")
        key = (network, split, epoch)
        buffer = self._open.setdefault(key, _EpochBuffer(
            store.num_examples(split), store.num_classes, store.multilabel, store.keep,
            store.with_true_prob))
        if logits is not None:
            out = _numpy(logits, "logits").astype(np.float32, copy=False)
            if out.shape != (len(rows), store.num_classes):
                raise ValueError(f"logits must have shape {(len(rows), store.num_classes)}, "
                                 f"got {out.shape}")
            pred = out > 0 if store.multilabel else out.argmax(axis=1)
            if not store.multilabel:
                true = store.targets(split)[rows]
                if buffer.margin is not None:
                    buffer.margin[rows] = true_class_margin(out, true)
                if buffer.probs is not None or buffer.true_prob is not None \
                        or buffer.el2n is not None:
                    probs = _softmax(out)
                    at = np.arange(len(rows))
                    if buffer.probs is not None:
                        buffer.probs[rows] = probs
                    if buffer.true_prob is not None:
                        buffer.true_prob[rows] = probs[at, true]
                    if buffer.el2n is not None:
                        buffer.el2n[rows] = el2n_of(probs, true)
        else:
            if store.keep != "none" or store.with_true_prob:
                raise ValueError(f"the store keeps {store.keep!r}"
                                 f"{' and true_prob' if store.with_true_prob else ''}: "
                                 "pass logits=, not predictions=")
            pred = _numpy(predictions, "predictions")
        buffer.pred[rows] = pred
        buffer.seen[rows] = True

    def finish_epoch(self, network: int, split: str, epoch: int) -> None:
        """Write the epoch's records (atomically). Every example of the split must have been
        updated; the error names the first ids that were not."""
        key = (network, split, epoch)
        buffer = self._open.get(key)
        if buffer is None:
            raise ValueError(f"network {network}, {split}, epoch {epoch}: no batch recorded")
        if not buffer.seen.all():
            missing = self.store.example_ids(split)[~buffer.seen]
            raise ValueError(f"network {network}, {split}, epoch {epoch}: "
                             f"{missing.size} examples were never recorded, e.g. ids "
                             f"{missing[:5].tolist()} (drop_last=True, or a sampler over a "
                             "subset?)")
        kept = {name: value for name, value in (("margin", buffer.margin),
                                                ("el2n", buffer.el2n), ("probs", buffer.probs))
                if value is not None}
        self.store.write_epoch(network, split, epoch, buffer.pred, buffer.true_prob, **kept)
        del self._open[key]


__all__ = ["Recorder"]

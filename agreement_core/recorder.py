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
        model, optimizer = ..., ...
        todo = recorder.epochs_to_run(k)              # resumes after an interruption
        if todo.start > 1:                            # a resumed network: load its state
            model.load_state_dict(...)                # (your checkpoint of epoch todo.start-1)
            recorder.restored(k, model)               # checked against the recorded fingerprint
        for epoch in todo:
            for x, y, batch_ids in loader:
                logits = model(x)
                ...                                   # your loss and step
                recorder.update(k, "train", epoch, batch_ids, logits=logits, targets=y)
            recorder.finish_epoch(k, "train", epoch, model=model)

Guarantees:

- **Resumable, and only from the right state**: an epoch is on disk once :meth:`finish_epoch`
  returns (one atomic file per network, split and epoch); :meth:`epochs_to_run` starts after
  the last finished epoch. Recording a network whose earlier epochs were written by another
  process is refused until :meth:`restored` says its state was loaded, and checks that state
  against the fingerprint of the parameters recorded with the epoch (``model=`` of
  :meth:`finish_epoch`): a resumed run never silently records a fresh model.
- **A batch recorded twice counts once**: updates are kept per example id, the last one
  wins (a retried step, a resumed epoch, a sampler that repeats examples).
- **Stable ids checked**: an id the store does not know, a target that disagrees with the
  store's, an epoch finished before the one it follows, or finished with examples never
  seen, and NaN or infinite logits are errors that name the ids (or the epochs).
- **Several processes** (``torch.distributed``, e.g. DDP with a ``DistributedSampler``):
  every rank calls the same methods with its own batches; :meth:`finish_epoch` gathers the
  ranks' examples on rank 0, which alone writes. An example seen by more than one rank (the
  sampler's padding) keeps its latest update, ranks in order within a step: the records
  equal those of one process that is given every rank's batch of each step in rank order.

Ids may be integers or strings (file names, hashes): strings are mapped to a stable integer
index, their rank in sorted order, kept with the store in ``example_names/<split>.json``
(:func:`agreement_core.records.read_example_names`).

Scores are computed where the logits are (on the GPU for CUDA logits): only the prediction
and the kept columns are copied to the host, once per batch. With ``keep="probs"`` the
probability vectors of an open epoch go to a file beside the store, batch by batch, instead
of N x C floats in memory (under ``torch.distributed``, rank 0 still gathers the epoch's
vectors in memory at :meth:`Recorder.finish_epoch`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ._io import write_json
from .records import RecordStore, example_names_path


def _numpy(value, name: str) -> np.ndarray:
    """A tensor (any device, with or without grad) or array-like as a NumPy array."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy() if value.is_floating_point() \
            else value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == object:
        if all(isinstance(v, str) for v in array.reshape(-1)):
            return array.astype(str)
        raise TypeError(f"{name} must be numeric or strings, got objects")
    return array


def _is_names(ids: np.ndarray) -> bool:
    return ids.dtype.kind in "US"


def model_fingerprint(model) -> str:
    """A 128-bit hash of a model's state (every parameter and buffer, by name, dtype, shape
    and bytes): equal exactly when the state is bit for bit the same.

    Parameters
    ----------
    model : torch.nn.Module or mapping of str to tensor
        A module (wrapped in ``DistributedDataParallel`` or ``torch.compile`` or not: their
        ``module.`` and ``_orig_mod.`` name prefixes are ignored) or a ``state_dict``.

    Returns
    -------
    str
        32 hexadecimal digits.
    """
    state = model.state_dict() if hasattr(model, "state_dict") else model
    digest = hashlib.blake2b(digest_size=16)
    named = {name.removeprefix("module.").removeprefix("_orig_mod."): value
             for name, value in state.items() if isinstance(value, torch.Tensor)}
    for name in sorted(named):
        tensor = named[name].detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{tensor.dtype}|{tuple(named[name].shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class _Distributed:
    """The process group the recorder gathers over (world size 1 without one)."""

    def __init__(self, enabled: bool | None):
        dist = torch.distributed
        active = dist.is_available() and dist.is_initialized()
        if enabled and not active:
            raise RuntimeError("Recorder(distributed=True) needs an initialised "
                               "torch.distributed process group (init_process_group first)")
        self.on = bool(active if enabled is None else enabled) and dist.get_world_size() > 1
        self.rank = dist.get_rank() if self.on else 0
        self.world_size = dist.get_world_size() if self.on else 1

    def barrier(self) -> None:
        if self.on:
            torch.distributed.barrier()

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if not self.on:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj) -> list | None:
        """Every rank's ``obj`` on rank 0 (in rank order), None elsewhere."""
        if not self.on:
            return [obj]
        out = [None] * self.world_size if self.rank == 0 else None
        torch.distributed.gather_object(obj, out, dst=0)
        return out


class _EpochBuffer:
    """One (network, split, epoch) being recorded: per-example slots, last update wins.

    ``step`` is the number of the update that last wrote each example (-1: never), so that
    the ranks' buffers merge in the order of the steps (:meth:`Recorder.finish_epoch`).
    """

    def __init__(self, n: int, num_classes: int, multilabel: bool, keep: str,
                 with_true_prob: bool, probs_file: Path | None):
        shape = (n, num_classes) if multilabel else (n,)
        self.pred = np.zeros(shape, bool if multilabel else np.int64)
        self.step = np.full(n, -1, np.int64)
        self.updates = 0
        self.true_prob = np.zeros(n, np.float32) if with_true_prob else None
        self.margin = np.zeros(n, np.float32) if keep in ("margin", "scores") else None
        self.el2n = np.zeros(n, np.float32) if keep == "scores" else None
        self.probs_file = probs_file
        self.probs = None
        if keep == "probs":
            # On disk, written batch by batch: an open epoch holds no N x C floats in memory
            # (5 GB for ImageNet's train set); the page cache keeps what fits.
            probs_file.parent.mkdir(parents=True, exist_ok=True)
            self.probs = np.lib.format.open_memmap(probs_file, mode="w+", dtype=np.float32,
                                                   shape=(n, num_classes))

    def columns(self) -> dict[str, np.ndarray]:
        return {name: value for name, value in (
            ("pred", self.pred), ("true_prob", self.true_prob), ("margin", self.margin),
            ("el2n", self.el2n), ("probs", self.probs)) if value is not None}

    def close(self) -> None:
        if self.probs is not None:
            del self.probs
            self.probs = None
            self.probs_file.unlink(missing_ok=True)


def _dedupe_last(rows: np.ndarray) -> np.ndarray:
    """Positions of the last occurrence of each row (NumPy's fancy assignment with repeated
    indices does not promise which value wins)."""
    if rows.size < 2:
        return np.arange(rows.size)
    _, first_from_end = np.unique(rows[::-1], return_index=True)
    return rows.size - 1 - first_from_end


class Recorder:
    """Per-batch recording of K networks into a :class:`~agreement_core.records.RecordStore`.

    Parameters
    ----------
    path : path-like
        The store's directory: created, or resumed when it exists with the same settings.
    splits : mapping of str to (example_ids, targets)
        Every example of each split that will be recorded: (N,) unique ids (stable across
        runs: an index into the dataset, a file name, a hash, ...), integers or strings, and
        (N,) integer targets, or (N, C) bool label sets with ``multilabel``.
    num_networks, num_epochs, num_classes : int
    multilabel : bool
        Multi-label targets; predictions are label sets (sigmoid > 0.5 of the logits).
    keep : {"none", "margin", "scores", "probs"}
        Per-example scores kept beside the predictions (:data:`agreement_core.records.KEEP`):
        the true-class margin for AUM (4 bytes per example and epoch), the margin and EL2N
        (8 bytes), or the probability vector (4 C bytes). Needs logits.
    with_true_prob : bool
        Keep the true-class probability (float16; the data map's confidence and
        variability). Needs logits.
    encoding : {"plain", "compact"}
    config : mapping, optional
        Anything describing the run (JSON-serialisable), kept in ``meta.json``.
    distributed : bool, optional
        Gather over the ``torch.distributed`` process group (default: whenever one is
        initialised with more than one process). Every rank must then make the same calls;
        rank 0 writes.
    """

    def __init__(self, path: str | os.PathLike, *, splits: Mapping[str, tuple],
                 num_networks: int, num_epochs: int, num_classes: int,
                 multilabel: bool = False, keep: str = "none", with_true_prob: bool = False,
                 encoding: str = "plain", config: Mapping | None = None,
                 distributed: bool | None = None):
        self._distributed = distributed
        self._names: dict[str, np.ndarray] = {}
        numeric = {}
        for name, (ids, targets) in splits.items():
            ids, targets = _numpy(ids, "example_ids"), _numpy(targets, "targets")
            if _is_names(ids):
                order = np.argsort(ids, kind="stable")
                names = ids[order]
                if ids.ndim != 1 or np.unique(names).size != names.size:
                    raise ValueError(f"split {name!r}: example_ids are not unique")
                self._names[name] = names
                # The stable index: the rank in sorted order, whatever order they came in.
                ids, targets = np.arange(len(names)), targets[order]
            numeric[name] = (ids, targets)
        create = dict(num_networks=num_networks, num_epochs=num_epochs,
                      num_classes=num_classes, splits=numeric, multilabel=multilabel,
                      with_true_prob=with_true_prob, encoding=encoding, keep=keep,
                      config=config, exist_ok=True)
        # One process creates (or checks) the store; the others open it after. (Without a
        # process group yet, e.g. before Lightning starts DDP, every process checks it.)
        if self._dist.rank == 0:
            self.store = RecordStore.create(path, **create)
            self._check_names()
        self._dist.barrier()
        if self._dist.rank != 0:
            self.store = RecordStore.open(path)
        # id -> row, per split: the store's example order.
        self._rows = {}
        for split in self.store.splits:
            ids = self.store.example_ids(split)
            order = np.argsort(ids, kind="stable")
            self._rows[split] = (ids[order], order)
        self._open: dict[tuple[int, str, int], _EpochBuffer] = {}
        # (network, epoch) whose state this process holds: finished here, or restored.
        self._live: set[tuple[int, int]] = set()

    @property
    def _dist(self) -> _Distributed:
        # Looked up on every use: a Recorder built before the process group exists (a
        # Lightning or Trainer script under torchrun, ddp_spawn) gathers once it does.
        return _Distributed(self._distributed)

    def _check_names(self) -> None:
        for split in self.store.splits:
            path = example_names_path(self.store.path, split)
            given = self._names.get(split)
            if path.exists():
                stored = np.asarray(json.loads(path.read_text()), dtype=str)
                if given is None or not np.array_equal(stored, given):
                    raise ValueError(f"split {split!r}: the example names differ from those "
                                     f"of {path} (the integer index would map to other "
                                     "examples); refusing to resume")
            elif given is not None:
                if any(self.store._present_epochs(k, split)
                       for k in range(self.store.num_networks)):
                    raise ValueError(f"split {split!r}: {self.store.path} was recorded with "
                                     "integer ids, not names")
                write_json(path, given.tolist())

    # ------------------------------------------------------------------ resuming
    def epochs_to_run(self, network: int) -> range:
        """The epochs of ``network`` still to train: after the last epoch finished for
        every split (rank 0's view under ``torch.distributed``)."""
        done = self._dist.broadcast(self.store.completed_epochs(network)
                                    if self._dist.rank == 0 else None)
        return range(done + 1, self.store.num_epochs + 1)

    def _fingerprints_path(self, network: int) -> Path:
        return self.store.path / f"net{network:03d}" / "fingerprints.json"

    def _fingerprints(self, network: int) -> dict[str, dict[str, str]]:
        path = self._fingerprints_path(network)
        return json.loads(path.read_text()) if path.exists() else {}

    def restored(self, network: int, model=None, *, epoch: int | None = None) -> None:
        """Declare that ``network``'s state (model, optimizer, ...) was loaded from the
        checkpoint of its last finished epoch, before recording further epochs of it.

        Parameters
        ----------
        network : int
        model : torch.nn.Module or state_dict, optional
            The restored model. When the last finished epoch was recorded with
            ``finish_epoch(..., model=...)``, its parameters must be bit for bit those
            recorded then; without a recorded fingerprint, this call is your word for it.
        epoch : int, optional
            The epoch the state is from (a checkpoint older than the records: the epochs
            after it are recorded again); default the last epoch finished for every split.

        Raises
        ------
        ValueError
            The model's fingerprint differs from every one recorded with that epoch (a
            fresh model, or the checkpoint of another epoch), or a fingerprint was recorded
            and no model is given.
        """
        last = self.epochs_to_run(network).start - 1
        done = last if epoch is None else int(epoch)
        if not 0 <= done <= last:
            raise ValueError(f"network {network}: epoch {done} is not recorded (epochs 1..{last}"
                             " are)")
        if done == 0:
            return
        recorded = self._dist.broadcast(
            sorted({f for split in self._fingerprints(network).values()
                    for f in [split.get(str(done))] if f}) if self._dist.rank == 0 else None)
        if recorded:
            if model is None:
                raise ValueError(f"network {network}: epoch {done} was recorded with a "
                                 "fingerprint of the model; pass the restored model: "
                                 f"recorder.restored({network}, model)")
            found = model_fingerprint(model)
            if found not in recorded:
                raise ValueError(
                    f"network {network}: the model's parameters are not those recorded at "
                    f"the end of epoch {done} (fingerprint {found[:12]}, recorded "
                    f"{', '.join(f[:12] for f in recorded)}): load the checkpoint saved "
                    f"after epoch {done} before recording epoch {done + 1}, or delete the "
                    f"network's records ({self.store.path / f'net{network:03d}'}) to train "
                    "it from scratch")
        self._live.add((network, done))

    def _check_resumed(self, network: int, split: str, epoch: int) -> None:
        """Refuse to record epoch t of a network whose epoch t-1 this process neither
        finished nor was told it restored: it would record a fresh model."""
        if epoch == 1 or (network, epoch - 1) in self._live:
            return
        previous = any(self.store._epoch_path(network, s, epoch - 1).is_file()
                       for s in self.store.splits)
        if previous:
            raise RuntimeError(
                f"network {network}: epoch {epoch - 1} was recorded by an earlier run, and "
                f"this process has not restored that network's state; recording epoch "
                f"{epoch} now would record whatever model is in memory (a fresh one?). Load "
                f"the model and optimizer state saved after epoch {epoch - 1}, then call "
                f"recorder.restored({network}, model) (checked against the fingerprint "
                f"recorded with finish_epoch(..., model=model)), and record epoch {epoch}")

    # ------------------------------------------------------------------ recording
    def _rows_of(self, split: str, example_ids) -> np.ndarray:
        if split not in self._rows:
            raise ValueError(f"unknown split {split!r}; the store has "
                             f"{', '.join(self.store.splits)}")
        ids = _numpy(example_ids, "example_ids").reshape(-1)
        if split in self._names:
            names = self._names[split]
            if not _is_names(ids):
                raise TypeError(f"the {split} split has string ids; got {ids.dtype}")
            at = np.clip(np.searchsorted(names, ids), 0, len(names) - 1)
            unknown = ids[names[at] != ids]
            ids = at
        else:
            if not np.issubdtype(ids.dtype, np.integer):
                raise TypeError(f"example ids must be integers, got {ids.dtype}")
            unknown = None
        sorted_ids, order = self._rows[split]
        at = np.clip(np.searchsorted(sorted_ids, ids), 0, len(sorted_ids) - 1)
        if unknown is None:
            unknown = ids[sorted_ids[at] != ids]
        if unknown.size:
            raise KeyError(f"example ids not in the {split} split of {self.store.path}: "
                           f"{unknown[:5].tolist()}{' ...' if unknown.size > 5 else ''} "
                           f"({unknown.size} in this batch)")
        return order[at]

    def _ids_of(self, split: str, rows: np.ndarray) -> list:
        ids = self.store.example_ids(split)[rows]
        return (self._names[split][ids] if split in self._names else ids).tolist()

    def _columns(self, split: str, rows: np.ndarray, logits) -> dict[str, np.ndarray]:
        """Prediction and kept scores of a batch, computed where the logits are; one copy
        of the (B, few) result to the host."""
        store = self.store
        z = logits.detach() if isinstance(logits, torch.Tensor) \
            else torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float32))
        z = z.float()
        if z.shape != (len(rows), store.num_classes):
            raise ValueError(f"logits must have shape {(len(rows), store.num_classes)}, "
                             f"got {tuple(z.shape)}")
        finite = torch.isfinite(z).all(dim=1)
        parts: list[torch.Tensor] = [finite.float()[:, None]]
        names: list[tuple[str, int]] = []
        if store.multilabel:
            parts.append((z > 0).float())
            names.append(("pred", store.num_classes))
        else:
            parts.append(z.argmax(dim=1).float()[:, None])   # exact below 2**24 classes
            names.append(("pred", 1))
            keep, with_prob = store.keep, store.with_true_prob
            if keep != "none" or with_prob:
                true = torch.as_tensor(store.targets(split)[rows], device=z.device)[:, None]
                if keep in ("margin", "scores"):
                    others = z.scatter(1, true, float("-inf"))
                    parts.append(z.gather(1, true) - others.max(dim=1, keepdim=True).values)
                    names.append(("margin", 1))
                if keep in ("scores", "probs") or with_prob:
                    probs = torch.softmax(z, dim=1)
                    if with_prob:
                        parts.append(probs.gather(1, true))
                        names.append(("true_prob", 1))
                    if keep == "scores":
                        error = probs.double().scatter_add(
                            1, true, torch.full_like(true, -1.0, dtype=torch.float64))
                        parts.append(torch.linalg.vector_norm(error, dim=1,
                                                              keepdim=True).float())
                        names.append(("el2n", 1))
                    if keep == "probs":
                        parts.append(probs)
                        names.append(("probs", store.num_classes))
        host = torch.cat(parts, dim=1).cpu().numpy()
        bad = host[:, 0] == 0
        if bad.any():
            raise ValueError(f"{split}: NaN or infinite logits for example ids "
                             f"{self._ids_of(split, rows[bad])[:5]} ({int(bad.sum())} in this "
                             "batch): a diverged step (learning rate, mixed precision?)")
        out, at = {}, 1
        for name, width in names:
            block = host[:, at:at + width]
            at += width
            if name == "pred":
                out[name] = block > 0.5 if store.multilabel else block[:, 0].astype(np.int64)
            else:
                out[name] = block if name == "probs" else block[:, 0]
        return out

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
        example_ids : (B,) array_like or tensor of int, or sequence of str
        logits : (B, C) array_like or tensor, optional
            The network's outputs; the prediction is their argmax (multi-label: > 0). NaN
            or infinite logits are an error naming the examples.
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
                raise ValueError(f"targets of example ids {self._ids_of(split, bad)[:5]} "
                                 "differ from those the store holds for them: the ids are "
                                 "not stable (a shuffled dataset, a different split or order?)")
        key = (network, split, epoch)
        buffer = self._open.get(key)
        if buffer is None:
            self._check_resumed(network, split, epoch)
            buffer = self._open[key] = _EpochBuffer(
                store.num_examples(split), store.num_classes, store.multilabel, store.keep,
                store.with_true_prob, store.path / ".open" /
                f"net{network:03d}-{split}-epoch{epoch:04d}-rank{self._dist.rank}.npy")
        if logits is not None:
            columns = self._columns(split, rows, logits)
        else:
            if store.keep != "none" or store.with_true_prob:
                raise ValueError(f"the store keeps {store.keep!r}"
                                 f"{' and true_prob' if store.with_true_prob else ''}: "
                                 "pass logits=, not predictions=")
            columns = {"pred": _numpy(predictions, "predictions")}
        last = _dedupe_last(rows)
        rows = rows[last]
        for name, value in columns.items():
            getattr(buffer, name)[rows] = value[last]
        buffer.step[rows] = buffer.updates
        buffer.updates += 1

    def _merged(self, buffer: _EpochBuffer) -> dict[str, np.ndarray] | None:
        """The epoch's columns on rank 0: this process's, or every rank's merged by step
        (ranks in order within a step, the last update winning); None on other ranks."""
        if not self._dist.on:
            return {"seen": buffer.step >= 0, **buffer.columns()}
        rows = np.flatnonzero(buffer.step >= 0)
        mine = {"rows": rows, "step": buffer.step[rows],
                **{name: value[rows] for name, value in buffer.columns().items()}}
        parts = self._dist.gather(mine)
        if parts is None:
            return None
        merged = {name: np.concatenate([p[name] for p in parts]) for name in mine}
        order = np.argsort(merged["step"], kind="stable")      # stable: rank order kept
        rows = merged["rows"][order]
        last = order[_dedupe_last(rows)]
        out = {"seen": np.zeros(len(buffer.step), bool)}
        out["seen"][merged["rows"][last]] = True
        for name, value in buffer.columns().items():
            full = np.zeros(value.shape, value.dtype)
            full[merged["rows"][last]] = merged[name][last]
            out[name] = full
        return out

    def finish_epoch(self, network: int, split: str, epoch: int, *, model=None) -> None:
        """Write the epoch's records (atomically).

        Every example of the split must have been updated, and epoch ``epoch - 1`` of the
        same network and split finished before; the errors name the first ids, or the
        epoch. Under ``torch.distributed`` every rank calls it (a collective); rank 0 writes.

        Parameters
        ----------
        network : int
        split : str
        epoch : int
        model : torch.nn.Module or state_dict, optional
            The network as it is at the end of this epoch: its fingerprint
            (:func:`model_fingerprint`) is kept with the epoch, and a resumed run is
            checked against it (:meth:`restored`). Recommended.
        """
        key = (network, split, epoch)
        buffer = self._open.get(key)
        if buffer is None:
            raise ValueError(f"network {network}, {split}, epoch {epoch}: no batch recorded")
        merged = self._merged(buffer)
        error = None
        if self._dist.rank == 0:
            error = self._write(network, split, epoch, merged, model)
        error = self._dist.broadcast(error)
        if error is not None:      # the epoch stays open: the missing batches may follow
            raise ValueError(error)
        buffer.close()
        del self._open[key]
        self._live.add((network, epoch))
        self._dist.barrier()

    def _write(self, network: int, split: str, epoch: int, merged: dict, model) -> str | None:
        """Write on rank 0; the error message instead of raising, so that every rank
        raises it."""
        store = self.store
        if epoch > 1 and not store._epoch_path(network, split, epoch - 1).is_file():
            return (f"network {network}, {split}: epoch {epoch} finished before epoch "
                    f"{epoch - 1} (epochs are finished in order, 1, 2, ...; a wrong epoch "
                    "number given to update?)")
        seen = merged.pop("seen")
        if not seen.all():
            missing = self._ids_of(split, np.flatnonzero(~seen))
            return (f"network {network}, {split}, epoch {epoch}: {int((~seen).sum())} "
                    f"examples were never recorded, e.g. ids {missing[:5]} (drop_last=True, "
                    "or a sampler over a subset?)")
        pred = merged.pop("pred")
        true_prob = merged.pop("true_prob", None)
        store.write_epoch(network, split, epoch, pred, true_prob, **merged)
        if model is not None:
            fingerprints = self._fingerprints(network)
            fingerprints.setdefault(split, {})[str(epoch)] = model_fingerprint(model)
            write_json(self._fingerprints_path(network), fingerprints)
        return None


__all__ = ["Recorder", "model_fingerprint"]

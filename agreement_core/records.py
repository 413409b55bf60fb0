"""Prediction record store: what every network predicted for every example after every epoch.

K networks x E epochs x N examples, train and test split separately. On disk a store is a
directory (see ``docs/records.md`` for the reasons)::

    meta.json                         schema, sizes, run config, seeds, library versions
    targets/<split>.npz               example_ids int64 (N,), targets int16 (N,)
                                      or bit-packed uint8 (N, ceil(C/8)) for multi-label
    net<k:03d>/<split>/epoch<t:04d>.npz
                                      "plain" encoding: pred int16 (N,) or bit-packed uint8
                                      (N, ceil(C/8)), optionally true_prob float16 (N,);
                                      "compact" encoding: correct, bit-packed uint8
                                      (ceil(N/8),), and wrong_pred, the predictions of the
                                      examples got wrong only (uint8 when C <= 256)

Every ``.npz`` carries a header in its zip archive comment: JSON with the file's identity
(network, split, epoch; for targets the split) and the dtype, shape and CRC-32 of each array,
itself CRC-protected. Every read checks it, so a damaged file, or a well-formed file in the
wrong place (one epoch copied over another), is an error instead of a silently wrong number.

Networks are numbered from 0, epochs from 1 (epoch t = after t epochs of training). Every
file is written atomically, so a killed run loses at most the epoch in progress, and one
job per network can write into the same store without any coordination.

Errors: a missing, corrupt or mismatching store or record file raises
:class:`~agreement_core.errors.RecordStoreError` naming the path and what to do; invalid
arguments to :meth:`RecordStore.write_epoch` (wrong shape, class out of range, ...) raise
``ValueError`` or ``TypeError``. Stores of schema 1 (no headers) are refused until
:func:`upgrade_store` rewrites them.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ._io import atomic_path, write_json
from .data.labels import is_correct
from .errors import RecordStoreError

__all__ = ["ENCODINGS", "KEEP", "SCHEMA_VERSION", "EpochRecord", "RecordStore", "compact_store",
           "el2n_of", "example_names_path", "read_example_names", "store_fingerprint",
           "true_class_margin", "upgrade_store"]

# 2: every file carries a header (identity + per-array CRC-32); 1: bare arrays.
SCHEMA_VERSION = 2

#: How epoch files hold the predictions: "plain" (every prediction, optionally the
#: true-class probability) or "compact" (correctness bits plus the wrong predictions; the
#: same predictions, about a fifth of the bytes; no probability). docs/records.md.
ENCODINGS = ("plain", "compact")

#: What an epoch file keeps beyond the predictions, per example (single-label stores only;
#: docs/records.md): "margin" the margin of the true class, the true class's logit minus the
#: largest other logit (float32, 4 bytes; the area under the margin, AUM); "scores" the
#: margin and the EL2N score, the L2 distance of the softmax vector from the one-hot target
#: (float32 each, 8 bytes); "probs" the softmax probability vector (float32, 4 C bytes: EL2N,
#: and the margin too, because log-softmax shifts all logits of an example by one constant).
KEEP = ("none", "margin", "scores", "probs")
#: The arrays each KEEP option adds to an epoch file.
_KEPT_ARRAYS = {"none": (), "margin": ("margin",), "scores": ("margin", "el2n"),
                "probs": ("probs",)}

# int16 predictions and targets: enough for ImageNet-21k-sized label spaces, half of int32.
_MAX_CLASSES = int(np.iinfo(np.int16).max) + 1
# Keys of meta.json that must agree when an existing store is resumed.
_RESUME_KEYS = ("num_networks", "num_epochs", "num_classes", "multilabel", "with_true_prob")
# What a user does about a damaged or misplaced file; the store itself stays usable.
_REDO_EPOCH = "delete it and rerun the training command to recompute it"
_REDO_TARGETS = "delete it and rerun the training command to rewrite it"
_REDO_UPGRADE = "delete it and rerun the upgrade (the training command then recomputes it)"


def example_names_path(store_path: str | os.PathLike, split: str) -> Path:
    """Where a store keeps the string ids of ``split`` (:class:`~agreement_core.recorder.
    Recorder` with string ids): a JSON list, the integer example id being the position."""
    return Path(store_path) / "example_names" / f"{split}.json"


def read_example_names(store: RecordStore, split: str) -> np.ndarray | None:
    """The string id of every example of ``split`` in the store's example order, or None
    for a store recorded with integer ids."""
    path = example_names_path(store.path, split)
    if not path.is_file():
        return None
    names = np.asarray(json.loads(path.read_text()), dtype=str)
    ids = store.example_ids(split)
    if ids.min(initial=0) < 0 or ids.max(initial=-1) >= len(names):
        raise RecordStoreError(f"{path}: {len(names)} names do not cover the example ids "
                               f"of {split!r}")
    return names[ids]


def true_class_margin(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The margin of the true class: its logit minus the largest other logit, (N,) float32
    from (N, C) logits and (N,) integer targets (Pleiss et al., 2020; negative: another
    class wins)."""
    logits = np.asarray(logits, np.float32)
    rows = np.arange(len(logits))
    assigned = logits[rows, targets]
    others = logits.copy()
    others[rows, targets] = -np.inf
    return (assigned - others.max(axis=1)).astype(np.float32)


def el2n_of(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """EL2N of each example: the L2 distance of its softmax vector from the one-hot target,
    (N,) float32 from (N, C) probabilities and (N,) integer targets (Paul et al., 2021)."""
    error = np.array(probs, dtype=np.float64)
    error[np.arange(len(error)), targets] -= 1.0
    return np.linalg.norm(error, axis=1).astype(np.float32)


@dataclass(frozen=True)
class EpochRecord:
    """All K networks' predictions for one split after one epoch.

    Attributes
    ----------
    epoch : int
        1-based epoch number.
    predictions : ndarray
        ``(K, N)`` int16 predicted classes, or ``(K, N, C)`` bool predicted label sets.
    correct : ndarray
        ``(K, N)`` bool: prediction equals the target (multi-label: exact match).
    true_prob : ndarray or None
        ``(K, N)`` float16 probability of the true class, when the store records it.

    Notes
    -----
    The per-epoch reductions of ``correct`` that every agreement metric needs (:attr:`agreed`,
    :attr:`any_correct`, :attr:`num_correct`, :attr:`accuracies`) are computed on first use
    and cached on the record, so that the consumers of one epoch (the agreement table, the
    curves, the scrubber) share one computation. The cached arrays are read-only; treat
    ``correct`` as immutable too, or the caches go stale.
    """

    epoch: int
    predictions: np.ndarray
    correct: np.ndarray
    true_prob: np.ndarray | None = None

    # cached_property stores into the instance __dict__, bypassing the frozen __setattr__;
    # this needs a dataclass without slots.
    @cached_property
    def agreed(self) -> np.ndarray:
        """``(N,)`` bool: all K networks are correct (the agreed set of this epoch)."""
        return self._read_only(np.asarray(self.correct).all(axis=0))

    @cached_property
    def any_correct(self) -> np.ndarray:
        """``(N,)`` bool: at least one network is correct."""
        return self._read_only(np.asarray(self.correct).any(axis=0))

    @cached_property
    def num_correct(self) -> np.ndarray:
        """``(K,)`` int64: examples each network classifies correctly."""
        return self._read_only(np.count_nonzero(self.correct, axis=1).astype(np.int64))

    @cached_property
    def accuracies(self) -> np.ndarray:
        """``(K,)`` float64: accuracy of each network; 0 when the split has no example."""
        n = np.shape(self.correct)[1]
        # count / N is bitwise equal to correct.mean(axis=1): the float sum of 0/1 is exact.
        acc = self.num_correct / n if n else np.zeros(len(self.num_correct))
        return self._read_only(acc)

    @staticmethod
    def _read_only(array: np.ndarray) -> np.ndarray:
        # Shared by every consumer of the epoch: an in-place edit would corrupt the others.
        array.flags.writeable = False
        return array


def _library_versions() -> dict[str, str | None]:
    # importlib.metadata instead of ``import torch``: recording a version must not cost seconds.
    versions: dict[str, str | None] = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        versions["torch"] = metadata.version("torch")
    except metadata.PackageNotFoundError:
        versions["torch"] = None
    return versions


def _json_normalise(obj: Any) -> Any:
    """What ``obj`` becomes after a round trip through meta.json (tuples -> lists, ...)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _crc32(array: np.ndarray) -> int:
    # CRC-32 of the raw bytes: ~5 GB/s, a few % of decompressing the same array (see
    # docs/records.md); it guards against accidents, not against deliberate tampering.
    return zlib.crc32(np.ascontiguousarray(array))


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _describe(identity: Mapping[str, Any]) -> str:
    """``network 1, split 'train', epoch 2`` or ``targets of split 'test'``."""
    if identity.get("kind") == "targets":
        return f"targets of split {identity.get('split')!r}"
    if identity.get("kind") == "epoch":
        return (f"network {identity.get('network')}, split {identity.get('split')!r}, "
                f"epoch {identity.get('epoch')}")
    return f"unknown record {_canonical(identity)}"


def _make_header(identity: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    """The header of a record file: identity, per-array dtype/shape/CRC-32, its own CRC-32."""
    header = {**identity, "arrays": {
        name: {"dtype": array.dtype.str, "shape": list(array.shape), "crc32": _crc32(array)}
        for name, array in arrays.items()}}
    # The header's own CRC binds the identity to the array checksums.
    header["crc32"] = zlib.crc32(_canonical(header).encode())
    return _canonical(header).encode()


def _write_record(path: Path, identity: Mapping[str, Any],
                  arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically as a zlib-compressed npz, header as its comment.

    What ``np.savez_compressed`` writes, plus the zip archive comment, which it cannot set.
    A comment instead of a header array: the reader gets it with the zip directory it reads
    anyway, at no cost, where an extra array costs a member lookup and an npy header parse
    per file (~0.1 ms, a third of the read time of a 20k-example file).
    """
    header = _make_header(identity, arrays)
    with (atomic_path(path) as tmp,
          zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive):
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
        archive.comment = header


def _error_name(exc: BaseException) -> str:
    """``zlib.error``, ``zipfile.BadZipFile``, ``ValueError``: the name a user can look up."""
    module = type(exc).__module__
    return type(exc).__qualname__ if module == "builtins" else f"{module}.{type(exc).__qualname__}"


def _decode(path: Path, names: Iterable[str], remedy: str
            ) -> tuple[dict[str, np.ndarray], bytes]:
    """Read arrays ``names`` and the header (zip comment, empty for none) of an npz file.

    Any failure (missing file or array, undecodable file) becomes a RecordStoreError naming
    the file and ``remedy``.
    """
    if not path.is_file():
        raise RecordStoreError(f"record file missing: {path}; "
                               f"{remedy.removeprefix('delete it and ')}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in names if name not in data.files]
            comment = data.zip.comment
            if not missing:
                return {name: data[name] for name in names}, comment
    # A damaged zip/npy fails in many ways (zlib.error, BadZipFile, EOFError, ValueError from
    # the npy header, NotImplementedError for a garbled compression method, MemoryError for a
    # garbled shape, ...); to the user they all mean the same.
    except Exception as exc:
        raise RecordStoreError(f"record file {path} is corrupt or truncated "
                               f"({_error_name(exc)}: {exc}); {remedy}") from exc
    if "pred" in missing and b'"correct"' in comment:
        store = path.parents[2]
        raise RecordStoreError(f"record file {path} holds arrays in the compact encoding but "
                               f"its store's meta.json says plain (an interrupted compaction?); "
                               f"finish it: python -m agreement_core compact {str(store)!r}")
    raise RecordStoreError(f"record file {path} lacks array {missing[0]!r}; {remedy}")


def _check_header(path: Path, raw: bytes, identity: Mapping[str, Any],
                  arrays: Mapping[str, np.ndarray], names: Iterable[str], remedy: str) -> None:
    """Raise unless the header of ``path`` names ``identity``, all ``names`` and the CRC-32 of
    each of ``arrays``."""
    if not raw:
        raise RecordStoreError(f"record file {path} has no header (a schema-1 file in a "
                               f"schema-{SCHEMA_VERSION} store?); {remedy}")
    try:
        header = json.loads(raw)
        stored = header.pop("crc32")
        listed = header["arrays"]
        intact = stored == zlib.crc32(_canonical(header).encode()) and isinstance(listed, dict)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise RecordStoreError(f"record file {path} has an unreadable header "
                               f"({type(exc).__name__}: {exc}); {remedy}") from exc
    if not intact:
        raise RecordStoreError(f"record file {path} has a damaged header (checksum mismatch); "
                               f"{remedy}")
    found = {key: value for key, value in header.items() if key != "arrays"}
    if found != dict(identity):
        raise RecordStoreError(f"record file {path} holds {_describe(found)}, not "
                               f"{_describe(identity)} (copied or moved?); {remedy}")
    if sorted(listed) != sorted(names):
        raise RecordStoreError(f"record file {path} holds arrays {sorted(listed)}, expected "
                               f"{sorted(names)}; {remedy}")
    for name, array in arrays.items():
        entry = listed[name]
        if array.dtype.str != entry["dtype"] or list(array.shape) != entry["shape"]:
            raise RecordStoreError(
                f"record file {path}: {name} is {array.dtype.str} {array.shape}, its header "
                f"says {entry['dtype']} {tuple(entry['shape'])}; {remedy}")
        crc = _crc32(array)
        if crc != entry["crc32"]:
            raise RecordStoreError(f"record file {path}: {name} fails its checksum (crc32 "
                                   f"{crc:#010x}, header {entry['crc32']:#010x}); {remedy}")


def _read_record(path: Path, identity: Mapping[str, Any],
                 expected: Mapping[str, tuple[np.dtype, tuple[int, ...]]], keys: Iterable[str],
                 *, verify: bool = True, remedy: str = _REDO_EPOCH) -> dict[str, np.ndarray]:
    """Read ``keys`` of one record file, checked against its header and the store's sizes.

    Parameters
    ----------
    path : Path
    identity : mapping
        What the file must be (``kind``, ``split``, and for epochs ``network`` and ``epoch``).
    expected : mapping of str to (dtype, shape)
        Every array the file must hold, with its dtype and shape from ``meta.json``.
    keys : iterable of str
        The arrays to read (a subset of ``expected``).
    verify : bool
        Check the header (identity, CRC-32 of the arrays read). False only to measure what
        verification costs (``benchmarks/bench_agreement.py``).
    remedy : str
        What the error messages tell the user to do.
    """
    arrays, header = _decode(path, list(keys), remedy)
    if verify:
        _check_header(path, header, identity, arrays, expected, remedy)
    _check_layout(path, arrays, expected, remedy)
    return arrays


def _check_layout(path: Path, arrays: Mapping[str, np.ndarray],
                  expected: Mapping[str, tuple[np.dtype, tuple[int, ...]]], remedy: str) -> None:
    """Raise unless each of ``arrays`` has the dtype and shape that meta.json implies."""
    for key, array in arrays.items():
        dtype, shape = expected[key]
        # -1: a length the data decides (the wrong predictions of a compact file).
        fits = len(array.shape) == len(shape) and all(
            want in (-1, got) for got, want in zip(array.shape, shape, strict=True))
        if not fits or array.dtype != dtype:
            raise RecordStoreError(f"record file {path}: {key} is {array.dtype} {array.shape}, "
                                   f"expected {np.dtype(dtype)} {shape}; {remedy}")


_ABSENT = object()  # a key missing on one side of a comparison


def _show(value: Any) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value, default=str)


def _flat_differences(old: Any, new: Any, prefix: str) -> list[str]:
    """``prefix.key: old -> new`` for every differing leaf of two JSON values."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new), key=str):
            lines += _flat_differences(old.get(key, _ABSENT), new.get(key, _ABSENT),
                                       f"{prefix}.{key}")
        return lines
    if old == new:
        return []
    return [f"{prefix}: {_show(old)} -> {_show(new)}"]


def _targets_path(store_path: Path, split: str) -> Path:
    return store_path / "targets" / f"{split}.npz"


def _targets_identity(split: str) -> dict[str, Any]:
    return {"kind": "targets", "split": split}


def _read_meta(path: Path) -> dict[str, Any]:
    meta_path = path / "meta.json"
    if not path.is_dir():
        raise RecordStoreError(f"record store directory not found: {path}")
    if not meta_path.is_file():
        raise RecordStoreError(f"not a record store (no meta.json): {path}")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise RecordStoreError(f"unreadable meta.json: {meta_path}: {exc}") from exc
    if not isinstance(meta, dict):
        raise RecordStoreError(f"unreadable meta.json: {meta_path}: not a JSON object")
    missing = [k for k in (*_RESUME_KEYS, "splits") if k not in meta]
    if missing:
        raise RecordStoreError(f"{meta_path}: missing keys {missing}")
    return meta


class RecordStore:
    """A directory of per-epoch prediction records; create with :meth:`create`, read with
    :meth:`open`.

    Attributes
    ----------
    path : pathlib.Path
    meta : dict
        The parsed ``meta.json``.
    num_networks, num_epochs, num_classes : int
    splits : list of str
    multilabel, with_true_prob : bool
    encoding : str
        How the epoch files hold the predictions (:data:`ENCODINGS`).
    config : dict
        The full run configuration recorded at creation.
    seeds : list or None
    verify : bool
        Whether reads check each file's header (identity and CRC-32); see :meth:`open`.
    """

    def __init__(self, path: str | os.PathLike, meta: dict[str, Any], *,
                 verify: bool = True) -> None:
        self.path = Path(path)
        self.meta = meta
        self.verify = bool(verify)
        self.num_networks = int(meta["num_networks"])
        self.num_epochs = int(meta["num_epochs"])
        self.splits = list(meta["splits"])
        self.num_classes = int(meta["num_classes"])
        self.multilabel = bool(meta["multilabel"])
        self.with_true_prob = bool(meta["with_true_prob"])
        self.encoding = meta.get("encoding", "plain")
        self.keep = meta.get("keep", "none")
        if self.keep not in KEEP:
            raise RecordStoreError(f"{self.path / 'meta.json'}: unknown keep {self.keep!r}; "
                                   f"known: {', '.join(KEEP)}")
        if self.encoding not in ENCODINGS:
            raise RecordStoreError(f"{self.path / 'meta.json'}: unknown encoding "
                                   f"{self.encoding!r}; known: {', '.join(ENCODINGS)}")
        self.config = meta.get("config") or {}
        self.seeds = meta.get("seeds")
        self._targets: dict[str, np.ndarray] = {}
        self._example_ids: dict[str, np.ndarray] = {}
        self._readers: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ creation / opening
    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        *,
        num_networks: int,
        num_epochs: int,
        splits: Mapping[str, tuple[np.ndarray, np.ndarray]],
        num_classes: int,
        multilabel: bool = False,
        with_true_prob: bool = False,
        encoding: str = "plain",
        keep: str = "none",
        config: Mapping[str, Any] | None = None,
        seeds: Iterable[int] | None = None,
        exist_ok: bool = False,
    ) -> RecordStore:
        """Create a store at ``path``, or resume an identical existing one.

        Parameters
        ----------
        path : path-like
            Directory of the store.
        num_networks, num_epochs : int
            K and E (both >= 1).
        splits : mapping of str to (example_ids, targets)
            ``example_ids`` (N,) integers (unique); ``targets`` (N,) integer classes in
            ``[0, num_classes)``, or (N, C) bool label sets when ``multilabel``.
        num_classes : int
            C, at most 32768.
        multilabel : bool
            Multi-label records (predicted label sets, exact-match correctness).
        with_true_prob : bool
            Whether every epoch file also holds the probability of the true class (plain
            encoding only).
        encoding : {"plain", "compact"}
            How epoch files hold the predictions (:data:`ENCODINGS`, docs/records.md):
            "compact" keeps the same predictions in about a fifth of the bytes.
        keep : {"none", "margin", "scores", "probs"}
            Per-example scores kept beside the predictions (:data:`KEEP`): the true-class
            margin (4 bytes per example and epoch), the margin and EL2N (8 bytes) or the
            probability vector (4 C bytes); single-label stores only.
        config : mapping, optional
            The full run configuration (JSON-serialisable); recorded in ``meta.json``.
        seeds : iterable of int, optional
            One seed per network.
        exist_ok : bool
            If True and a store exists at ``path`` with the same sizes, flags, config and
            splits (same ids and targets), open it (resume a run), rewriting any targets file
            that was deleted. Otherwise an existing store is an error.

        Raises
        ------
        RecordStoreError
            The store exists and ``exist_ok`` is False, or it differs (the message names the
            differing keys).
        ValueError, TypeError
            Invalid sizes, ids or targets.
        """
        path = Path(path)
        for name, value in (("num_networks", num_networks), ("num_epochs", num_epochs)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if int(num_classes) != num_classes or not 1 <= num_classes <= _MAX_CLASSES:
            raise ValueError(f"num_classes must be an integer in [1, {_MAX_CLASSES}], "
                             f"got {num_classes!r}")
        if not splits:
            raise ValueError("splits must name at least one split")
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; known: {', '.join(ENCODINGS)}")
        if keep not in KEEP:
            raise ValueError(f"unknown keep {keep!r}; known: {', '.join(KEEP)}")
        if keep != "none" and multilabel:
            raise ValueError(f"keep={keep!r} needs single-label targets: the margin and the "
                             "probability vector are defined for one true class")
        if encoding == "compact" and with_true_prob:
            raise ValueError("the compact encoding keeps no true_prob; "
                             "use encoding='plain' with with_true_prob=True")
        checked = {
            str(name): cls._check_split(str(name), ids, targets, int(num_classes), multilabel)
            for name, (ids, targets) in splits.items()
        }
        seeds_list = None if seeds is None else [int(s) for s in seeds]
        meta = {
            "schema_version": SCHEMA_VERSION,
            "num_networks": int(num_networks),
            "num_epochs": int(num_epochs),
            "splits": {name: {"num_examples": int(ids.shape[0])}
                       for name, (ids, _) in checked.items()},
            "num_classes": int(num_classes),
            "multilabel": bool(multilabel),
            "with_true_prob": bool(with_true_prob),
            # Written only when not plain, so plain stores keep their meta.json unchanged.
            **({"encoding": encoding} if encoding != "plain" else {}),
            **({"keep": keep} if keep != "none" else {}),
            "config": _json_normalise(dict(config) if config is not None else {}),
            "seeds": seeds_list,
            "versions": _library_versions(),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }

        if (path / "meta.json").exists():
            if not exist_ok:
                raise RecordStoreError(f"record store already exists: {path} "
                                       "(pass exist_ok=True to resume it)")
            store = cls.open(path)
            store._check_same(meta, checked)
            return store

        for name, (ids, targets) in checked.items():
            cls._write_targets(path, name, ids, targets, multilabel)
        # meta.json last: its presence marks a complete, usable store.
        write_json(path / "meta.json", meta)
        return cls.open(path)

    @staticmethod
    def _check_split(name, ids, targets, num_classes, multilabel):
        ids = np.asarray(ids)
        targets = np.asarray(targets)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"split {name!r}: example_ids must be a 1-D integer array, "
                            f"got shape {ids.shape} dtype {ids.dtype}")
        if np.unique(ids).size != ids.size:
            raise ValueError(f"split {name!r}: example_ids are not unique")
        n = ids.shape[0]
        if multilabel:
            if targets.shape != (n, num_classes) or targets.dtype != np.bool_:
                raise TypeError(f"split {name!r}: multi-label targets must be bool of shape "
                                f"{(n, num_classes)}, got {targets.dtype} {targets.shape}")
        else:
            if targets.shape != (n,) or not np.issubdtype(targets.dtype, np.integer):
                raise TypeError(f"split {name!r}: targets must be integer of shape {(n,)}, "
                                f"got {targets.dtype} {targets.shape}")
            if n and (targets.min() < 0 or targets.max() >= num_classes):
                raise ValueError(f"split {name!r}: targets outside [0, {num_classes})")
        return ids.astype(np.int64), targets

    @staticmethod
    def _write_targets(path: Path, split: str, ids: np.ndarray, targets: np.ndarray,
                       multilabel: bool) -> None:
        stored = np.packbits(targets, axis=1) if multilabel else targets.astype(np.int16)
        _write_record(_targets_path(path, split), _targets_identity(split),
                      {"example_ids": ids, "targets": stored})

    def _check_same(self, meta: dict[str, Any], checked: dict[str, tuple]) -> None:
        """Raise unless ``meta`` and the splits ``checked`` describe this store's run.

        The message names every differing key (``num_epochs: 4 -> 5``) and, for ``config``,
        every differing field with its old and new value (``config.epochs: 10 -> 12``).
        """
        differ = [f"{key}: {_show(self.meta.get(key, _ABSENT))} -> {_show(meta[key])}"
                  for key in _RESUME_KEYS if self.meta.get(key) != meta[key]]
        if self.encoding != meta.get("encoding", "plain"):
            differ.append(f"encoding: {self.encoding} -> {meta.get('encoding', 'plain')}")
        if self.keep != meta.get("keep", "none"):
            differ.append(f"keep: {self.keep} -> {meta.get('keep', 'none')}")
        differ += _flat_differences(self.meta.get("config", _ABSENT), meta["config"], "config")
        if set(self.splits) != set(checked):
            differ.append(f"splits: {sorted(self.splits)} -> {sorted(checked)}")
        else:
            for name, (ids, targets) in checked.items():
                if self.num_examples(name) != ids.shape[0]:
                    differ.append(f"splits[{name}].num_examples: {self.num_examples(name)} -> "
                                  f"{ids.shape[0]}")
                    continue
                if not differ and not _targets_path(self.path, name).exists():
                    # Same run so far: a deleted targets file is rewritten from the caller's data.
                    self._write_targets(self.path, name, ids, targets, self.multilabel)
                if not np.array_equal(self.example_ids(name), ids):
                    differ.append(f"splits[{name}].example_ids")
                if (self.multilabel == meta["multilabel"]
                        and not np.array_equal(self.targets(name), targets)):
                    differ.append(f"splits[{name}].targets")
        if differ:
            raise RecordStoreError(f"record store {self.path} exists with a different "
                                   f"configuration ({'; '.join(differ)}); refusing to resume")

    @classmethod
    def open(cls, path: str | os.PathLike, *, verify: bool = True) -> RecordStore:
        """Open an existing store.

        Parameters
        ----------
        path : path-like
        verify : bool
            Check every file read against its header (identity, CRC-32 of the arrays). Only
            ``benchmarks/bench_agreement.py`` turns this off, to measure what it costs.

        Raises
        ------
        RecordStoreError
            ``path`` or its ``meta.json`` is missing or unreadable, or the schema version is
            not :data:`SCHEMA_VERSION` (for schema 1 the message says how to upgrade).
        """
        path = Path(path)
        meta = _read_meta(path)
        version = meta.get("schema_version")
        if version == 1:
            raise RecordStoreError(
                f"{path / 'meta.json'}: schema_version 1 (record files without identity or "
                f"checksum); upgrade it in place, keeping every prediction: "
                f"python -m agreement_core upgrade {str(path)!r}")
        if version != SCHEMA_VERSION:
            raise RecordStoreError(f"{path / 'meta.json'}: schema_version {version!r}, "
                                   f"expected {SCHEMA_VERSION}")
        return cls(path, meta, verify=verify)

    @classmethod
    def upgrade(cls, path: str | os.PathLike) -> int:
        """Rewrite a schema-1 store in the current format; see :func:`upgrade_store`."""
        return upgrade_store(path)

    def __repr__(self) -> str:
        return (f"RecordStore({str(self.path)!r}, K={self.num_networks}, E={self.num_epochs}, "
                f"splits={self.splits}, C={self.num_classes}, multilabel={self.multilabel})")

    # ------------------------------------------------------------------ targets
    def _check_split_name(self, split: str) -> None:
        if split not in self.meta["splits"]:
            raise KeyError(f"unknown split {split!r}; store {self.path} has {self.splits}")

    def num_examples(self, split: str) -> int:
        """Number of examples N of ``split``."""
        self._check_split_name(split)
        return int(self.meta["splits"][split]["num_examples"])

    def _targets_layout(self, split: str) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
        """Dtype and shape of each array of ``targets/<split>.npz``."""
        n = self.num_examples(split)
        targets = ((np.dtype(np.uint8), (n, (self.num_classes + 7) // 8)) if self.multilabel
                   else (np.dtype(np.int16), (n,)))
        return {"example_ids": (np.dtype(np.int64), (n,)), "targets": targets}

    def _load_targets(self, split: str) -> None:
        self._check_split_name(split)
        if split in self._example_ids:
            return
        layout = self._targets_layout(split)
        data = _read_record(_targets_path(self.path, split), _targets_identity(split),
                            layout, layout,
                            verify=self.verify, remedy=_REDO_TARGETS)
        self._example_ids[split] = data["example_ids"]
        if self.multilabel:
            self._targets[split] = np.unpackbits(
                data["targets"], axis=1, count=self.num_classes).astype(bool)
        else:
            self._targets[split] = data["targets"].astype(np.int64)

    def example_ids(self, split: str) -> np.ndarray:
        """Example ids of ``split``, int64 (N,)."""
        self._load_targets(split)
        return self._example_ids[split]

    def targets(self, split: str) -> np.ndarray:
        """Targets of ``split``: int64 (N,) classes or bool (N, C) label sets (cached)."""
        self._load_targets(split)
        return self._targets[split]

    # ------------------------------------------------------------------ epoch files
    def _epoch_path(self, network: int, split: str, epoch: int) -> Path:
        return self.path / f"net{network:03d}" / split / f"epoch{epoch:04d}.npz"

    def _check_indices(self, network: int, split: str, epoch: int) -> None:
        self._check_split_name(split)
        if not (isinstance(network, int | np.integer) and 0 <= network < self.num_networks):
            raise ValueError(f"network must be an integer in [0, {self.num_networks}), "
                             f"got {network!r}")
        if not (isinstance(epoch, int | np.integer) and 1 <= epoch <= self.num_epochs):
            raise ValueError(f"epoch must be an integer in [1, {self.num_epochs}] (1-based), "
                             f"got {epoch!r}")

    def write_epoch(self, network: int, split: str, epoch: int, predictions: np.ndarray,
                    true_prob: np.ndarray | None = None, *, margin: np.ndarray | None = None,
                    el2n: np.ndarray | None = None, probs: np.ndarray | None = None) -> None:
        """Record one network's predictions on one split after ``epoch`` epochs (atomically).

        Parameters
        ----------
        network : int
            0-based network index in ``[0, K)``.
        split : str
        epoch : int
            1-based epoch in ``[1, E]``.
        predictions : ndarray
            (N,) integer classes in ``[0, C)``, or (N, C) bool label sets (multi-label).
        true_prob : ndarray, optional
            (N,) probabilities of the true class in [0, 1]; required exactly when the store
            was created ``with_true_prob``. Stored as float16.
        margin : ndarray, optional
            (N,) true-class margins; required exactly when the store keeps them
            (``"margin"``, ``"scores"``).
        el2n : ndarray, optional
            (N,) EL2N scores; required exactly when the store keeps ``"scores"``.
        probs : ndarray, optional
            (N, C) probability vectors; required exactly when the store keeps ``"probs"``.
        """
        self._check_indices(network, split, epoch)
        n = self.num_examples(split)
        pred = np.asarray(predictions)
        where = f"write_epoch(network={network}, split={split!r}, epoch={epoch})"
        if self.multilabel:
            if pred.shape != (n, self.num_classes):
                raise ValueError(f"{where}: predictions must have shape {(n, self.num_classes)}, "
                                 f"got {pred.shape}")
            if pred.dtype != np.bool_:
                raise TypeError(f"{where}: multi-label predictions must be bool, got {pred.dtype}")
            stored = np.packbits(pred, axis=1)
        else:
            if pred.shape != (n,):
                raise ValueError(f"{where}: predictions must have shape {(n,)}, got {pred.shape}")
            if not np.issubdtype(pred.dtype, np.integer):
                raise TypeError(f"{where}: predictions must be integer classes, got {pred.dtype}")
            if n and (pred.min() < 0 or pred.max() >= self.num_classes):
                bad = pred[(pred < 0) | (pred >= self.num_classes)][0]
                raise ValueError(f"{where}: predicted class {bad} outside "
                                 f"[0, {self.num_classes})")
            stored = pred.astype(self._class_dtype)
        if self.encoding == "compact":
            self._load_targets(split)
            correct = is_correct(pred, self._targets[split])
            arrays = {"correct": np.packbits(correct, bitorder="little"),
                      "wrong_pred": stored[~correct]}
        else:
            arrays = {"pred": stored}
        if self.with_true_prob:
            if true_prob is None:
                raise ValueError(f"{where}: the store records true_prob; pass true_prob")
            prob = np.asarray(true_prob)
            if prob.shape != (n,) or not np.issubdtype(prob.dtype, np.floating):
                raise ValueError(f"{where}: true_prob must be float of shape {(n,)}, "
                                 f"got {prob.dtype} {prob.shape}")
            if not np.all((prob >= 0) & (prob <= 1)):  # also rejects NaN
                raise ValueError(f"{where}: true_prob must lie in [0, 1]")
            arrays["true_prob"] = prob.astype(np.float16)
        elif true_prob is not None:
            raise ValueError(f"{where}: the store was created with_true_prob=False; "
                             "true_prob would be lost")
        kept = _KEPT_ARRAYS[self.keep]
        for name, value, shape in (("margin", margin, (n,)), ("el2n", el2n, (n,)),
                                   ("probs", probs, (n, self.num_classes))):
            if name not in kept:
                if value is not None:
                    raise ValueError(f"{where}: the store keeps {self.keep!r}, not {name!r}; "
                                     f"{name} would be lost")
                continue
            if value is None:
                raise ValueError(f"{where}: the store keeps {name}; pass {name}=")
            value = np.asarray(value)
            if value.shape != shape or not np.issubdtype(value.dtype, np.floating):
                raise ValueError(f"{where}: {name} must be float of shape {shape}, "
                                 f"got {value.dtype} {value.shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{where}: {name} holds NaN or infinite values")
            arrays[name] = value.astype(np.float32, copy=False)
        _write_record(self._epoch_path(network, split, epoch),
                      self._epoch_identity(network, split, epoch), arrays)

    def has_epoch(self, network: int, split: str, epoch: int) -> bool:
        """Whether the file of (network, split, epoch) exists."""
        self._check_indices(network, split, epoch)
        return self._epoch_path(network, split, epoch).is_file()

    def _present_epochs(self, network: int, split: str) -> set[int]:
        # One directory listing instead of E stat calls; temporaries start with "." and end
        # in ".tmp", so they never count as present.
        directory = self.path / f"net{network:03d}" / split
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return set()
        return {int(name[5:9]) for name in names
                if len(name) == 13 and name.startswith("epoch") and name.endswith(".npz")
                and name[5:9].isdigit()}

    def _recorded_epochs(self) -> Iterator[tuple[int, str, int]]:
        """(network, split, epoch) of every epoch file present, epochs within 1..E only:
        what a rewrite of the whole store (upgrade, compaction) goes over."""
        for k in range(self.num_networks):
            for split in self.splits:
                for t in sorted(self._present_epochs(k, split)):
                    if 1 <= t <= self.num_epochs:
                        yield k, split, t

    @staticmethod
    def _prefix(present: set[int], limit: int) -> int:
        t = 0
        while t < limit and t + 1 in present:
            t += 1
        return t

    def completed_epochs(self, network: int) -> int:
        """Largest t such that epochs 1..t of ``network`` exist for every split."""
        if not 0 <= network < self.num_networks:
            raise ValueError(f"network must be in [0, {self.num_networks}), got {network!r}")
        return min(self._prefix(self._present_epochs(network, s), self.num_epochs)
                   for s in self.splits)

    def available_epochs(self, split: str) -> int:
        """Largest t such that epochs 1..t of ``split`` exist for all networks."""
        self._check_split_name(split)
        return min(self._prefix(self._present_epochs(k, split), self.num_epochs)
                   for k in range(self.num_networks))

    def last_correct(self, split: str) -> np.ndarray:
        """Correctness (K, N) at the last epoch of ``split`` recorded for all networks:
        what a trained network's accuracy (``.mean(axis=1)``) is read from.

        Raises
        ------
        RecordStoreError
            When no epoch of ``split`` is recorded for all networks yet.
        """
        epoch = self.available_epochs(split)
        if epoch == 0:
            raise RecordStoreError(f"record store {self.path}: no epoch of {split!r} is "
                                   "recorded for all networks")
        return self.correct(split, epoch)

    @staticmethod
    def _epoch_identity(network: int, split: str, epoch: int) -> dict[str, Any]:
        return {"kind": "epoch", "network": int(network), "split": split, "epoch": int(epoch)}

    @property
    def _class_dtype(self) -> np.dtype:
        """How a predicted class is stored: int16 (plain), uint8 where it fits (compact)."""
        small = self.encoding == "compact" and self.num_classes <= 256
        return np.dtype(np.uint8 if small else np.int16)

    def _epoch_layout(self, split: str) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
        """Dtype and shape of each array of an epoch file of ``split`` (-1: data-dependent)."""
        n = self.num_examples(split)
        if self.encoding == "compact":
            wrong = ((np.dtype(np.uint8), (-1, (self.num_classes + 7) // 8)) if self.multilabel
                     else (self._class_dtype, (-1,)))
            return {"correct": (np.dtype(np.uint8), ((n + 7) // 8,)), "wrong_pred": wrong,
                    **self._kept_layout(n)}
        layout = {"pred": (np.dtype(np.uint8), (n, (self.num_classes + 7) // 8))
                  if self.multilabel else (np.dtype(np.int16), (n,))}
        if self.with_true_prob:
            layout["true_prob"] = (np.dtype(np.float16), (n,))
        return {**layout, **self._kept_layout(n)}

    def _kept_layout(self, n: int) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
        shapes = {"margin": (n,), "el2n": (n,), "probs": (n, self.num_classes)}
        return {name: (np.dtype(np.float32), shapes[name]) for name in _KEPT_ARRAYS[self.keep]}

    def _read(self, network: int, split: str, epoch: int, *keys: str) -> dict[str, np.ndarray]:
        """Read ``keys`` of one epoch file in one pass, checked against its header."""
        self._check_indices(network, split, epoch)
        return _read_record(self._epoch_path(network, split, epoch),
                            self._epoch_identity(network, split, epoch),
                            self._epoch_layout(split), keys, verify=self.verify)

    def _decode_compact(self, split: str, path_of, files: list[dict[str, np.ndarray]]
                        ) -> tuple[np.ndarray, np.ndarray]:
        """(predictions, correct) of K compact files: the target where correct, else the
        stored wrong prediction (bit-packed label sets stay packed)."""
        n = self.num_examples(split)
        self._load_targets(split)
        correct = np.stack([np.unpackbits(f["correct"], count=n, bitorder="little")
                            for f in files]).astype(bool)
        targets = self._targets[split]
        stored = np.packbits(targets, axis=1) if self.multilabel else targets.astype(np.int16)
        pred = np.broadcast_to(stored, (len(files), *stored.shape)).copy()
        for k, f in enumerate(files):
            wrong = ~correct[k]
            if f["wrong_pred"].shape[0] != np.count_nonzero(wrong):
                raise RecordStoreError(
                    f"record file {path_of(k)} holds {f['wrong_pred'].shape[0]} wrong "
                    f"predictions for {np.count_nonzero(wrong)} examples marked wrong; "
                    f"{_REDO_EPOCH}")
            pred[k][wrong] = f["wrong_pred"]
        return pred, correct

    def read_predictions(self, network: int, split: str, epoch: int) -> np.ndarray:
        """Predictions of one network: int16 (N,) classes or bool (N, C) label sets."""
        if self.encoding == "compact":
            files = [self._read(network, split, epoch, "correct", "wrong_pred")]
            pred = self._decode_compact(
                split, lambda _: self._epoch_path(network, split, epoch), files)[0][0]
        else:
            pred = self._read(network, split, epoch, "pred")["pred"]
        if self.multilabel:
            return np.unpackbits(pred, axis=1, count=self.num_classes).astype(bool)
        return pred

    def read_true_prob(self, network: int, split: str, epoch: int) -> np.ndarray:
        """Probability of the true class, float16 (N,).

        Raises
        ------
        RecordStoreError
            The store was created without ``with_true_prob``.
        """
        if not self.with_true_prob:
            raise RecordStoreError(f"record store {self.path} has no true_prob "
                                   "(created with_true_prob=False)")
        return self._read(network, split, epoch, "true_prob")["true_prob"]

    def read_margin(self, network: int, split: str, epoch: int) -> np.ndarray:
        """True-class margin of every example, float32 (N,): the true class's logit minus the
        largest other logit; from the kept probabilities when the store keeps ``"probs"``
        (log-probabilities differ from logits by one constant per example).

        Raises
        ------
        RecordStoreError
            The store keeps neither margins nor probabilities.
        """
        if self.keep in ("margin", "scores"):
            return self._read(network, split, epoch, "margin")["margin"]
        probs = self.read_probs(network, split, epoch)
        self._load_targets(split)
        return true_class_margin(np.log(np.maximum(probs, np.finfo(np.float32).tiny)),
                                 self._targets[split])

    def read_el2n(self, network: int, split: str, epoch: int) -> np.ndarray:
        """EL2N of every example, float32 (N,): the L2 distance of the softmax vector from the
        one-hot target; kept (``"scores"``) or from the probability vectors (``"probs"``).

        Raises
        ------
        RecordStoreError
            The store keeps neither EL2N nor probabilities.
        """
        if self.keep == "scores":
            return self._read(network, split, epoch, "el2n")["el2n"]
        self._load_targets(split)
        return el2n_of(self.read_probs(network, split, epoch), self._targets[split])

    def read_probs(self, network: int, split: str, epoch: int) -> np.ndarray:
        """Softmax probability vectors, float32 (N, C).

        Raises
        ------
        RecordStoreError
            The store was not created with ``keep="probs"``.
        """
        if self.keep != "probs":
            raise RecordStoreError(f"record store {self.path} keeps {self.keep!r}, not the "
                                   "probability vectors: EL2N needs keep='scores' or "
                                   "keep='probs'")
        return self._read(network, split, epoch, "probs")["probs"]

    def _epoch_record(self, split: str, epoch: int) -> EpochRecord:
        keys = tuple(self._epoch_layout(split))
        # zlib releases the GIL: the K files of an epoch decompress in parallel.
        if self._readers is None:
            self._readers = ThreadPoolExecutor(min(self.num_networks, os.cpu_count() or 1))
        files = list(self._readers.map(lambda k: self._read(k, split, epoch, *keys),
                                       range(self.num_networks)))
        true_prob = np.stack([f["true_prob"] for f in files]) if self.with_true_prob else None
        if self.encoding == "compact":
            packed, correct = self._decode_compact(
                split, lambda k: self._epoch_path(k, split, epoch), files)
        else:
            packed, correct = np.stack([f["pred"] for f in files]), None
        self._load_targets(split)
        preds = (np.unpackbits(packed, axis=-1, count=self.num_classes).astype(bool)
                 if self.multilabel else packed)
        if correct is None:
            correct = is_correct(preds, self._targets[split])
        return EpochRecord(epoch=epoch, predictions=preds, correct=correct, true_prob=true_prob)

    def correct(self, split: str, epoch: int) -> np.ndarray:
        """Correctness of every network on every example: bool (K, N).

        Single-label: prediction equals the target. Multi-label: exact match of the label sets
        (no missing and no extra label).
        """
        return self._epoch_record(split, epoch).correct

    def iter_epochs(self, split: str, epochs: Iterable[int] | None = None
                    ) -> Iterator[EpochRecord]:
        """Yield an :class:`EpochRecord` per epoch, streaming: at most two epochs in memory.

        Parameters
        ----------
        split : str
        epochs : iterable of int, optional
            1-based epochs; default ``1..available_epochs(split)``.
        """
        self._check_split_name(split)
        if epochs is None:
            epochs = range(1, self.available_epochs(split) + 1)
        epochs = [int(epoch) for epoch in epochs]
        # Read epoch t + 1 while the caller works on epoch t (two epochs in memory at most).
        with ThreadPoolExecutor(1) as prefetch:
            pending = prefetch.submit(self._epoch_record, split, epochs[0]) if epochs else None
            for i in range(len(epochs)):
                record = pending.result()
                if i + 1 < len(epochs):
                    pending = prefetch.submit(self._epoch_record, split, epochs[i + 1])
                yield record


def store_fingerprint(path: str | os.PathLike) -> str:
    """The identity of a record store's content, for what is derived from it.

    ``sha256`` over its ``meta.json`` and the name and size of every record file (no mtime:
    a copy or a fresh checkout of the same store has the same fingerprint; a network that
    recorded another epoch, a recompacted or retrained store has another). A derived table
    records it (:func:`agreement_core._io.write_table` ``provenance=``) so that a reader
    can tell when it is stale.
    """
    path = Path(path)
    digest = hashlib.sha256((path / "meta.json").read_bytes())
    for record in sorted(path.glob("net*/*/epoch*.npz")):
        digest.update(f"{record.relative_to(path).as_posix()}:{record.stat().st_size}\n"
                      .encode())
    return f"sha256:{digest.hexdigest()}"


def upgrade_store(path: str | os.PathLike) -> int:
    """Rewrite a schema-1 store in place in the current format, keeping every array bit for bit.

    Every record file is read with the schema-1 layout (bare arrays, checked against
    ``meta.json``) and rewritten atomically with its header; ``meta.json`` goes last. Until
    then the store stays schema 1, which :meth:`RecordStore.open` refuses, so a half-upgraded
    store is never read; an interrupted upgrade is simply run again (files that already have
    a header are verified and kept). A store already at :data:`SCHEMA_VERSION` is left alone.

    Parameters
    ----------
    path : path-like
        Directory of the store.

    Returns
    -------
    int
        Number of record files rewritten (0 when the store was already upgraded).

    Raises
    ------
    RecordStoreError
        Not a store, a schema version other than 1 or 2, or a record file that is unreadable
        or does not match ``meta.json`` (the message names it; meta.json is left at 1).
    """
    path = Path(path)
    meta = _read_meta(path)
    version = meta.get("schema_version")
    if version == SCHEMA_VERSION:
        return 0
    if version != 1:
        raise RecordStoreError(f"{path / 'meta.json'}: cannot upgrade schema_version "
                               f"{version!r}; only schema 1 stores can be upgraded")
    store = RecordStore(path, meta)
    files = []
    for split in store.splits:
        target_file = _targets_path(path, split)
        # A deleted targets file is rewritten by the training command once upgraded.
        if target_file.exists():
            files.append((target_file, _targets_identity(split), store._targets_layout(split)))
    for k, split, t in store._recorded_epochs():
        files.append((store._epoch_path(k, split, t), store._epoch_identity(k, split, t),
                      store._epoch_layout(split)))
    rewritten = 0
    for file, identity, layout in files:
        arrays, header = _decode(file, list(layout), _REDO_UPGRADE)
        if header:
            # Rewritten by an interrupted upgrade: verify, keep.
            _check_header(file, header, identity, arrays, layout, _REDO_UPGRADE)
        _check_layout(file, arrays, layout, _REDO_UPGRADE)
        if not header:
            _write_record(file, identity, arrays)  # the arrays exactly as read
            rewritten += 1
    upgraded = {"from_schema_version": version,
                "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    # meta.json last: only now may the store be opened.
    write_json(path / "meta.json", {**meta, "schema_version": SCHEMA_VERSION,
                                    "upgraded": upgraded})
    return rewritten


def compact_store(path: str | os.PathLike) -> int:
    """Rewrite a plain-encoded store in place in the compact encoding (same predictions).

    Every epoch file is rewritten atomically as its correctness bits plus the predictions of
    the examples it gets wrong, read back and checked equal to the plain predictions before
    the next one; ``meta.json`` goes last, so until then the store stays plain. An
    interrupted compaction is simply run again (files already compact are verified and
    kept). The probability of the true class (``true_prob``), if recorded, is dropped; the
    ``compacted`` entry of ``meta.json`` says so. No process may train into the store
    meanwhile (the CLI's ``compact`` command holds the networks' locks).

    Parameters
    ----------
    path : path-like
        Directory of the store.

    Returns
    -------
    int
        Number of epoch files rewritten (0 when the store was already compact).

    Raises
    ------
    RecordStoreError
        Not a store, or a record file that is unreadable or fails its checks.
    """
    plain = RecordStore.open(path)
    if plain.encoding == "compact":
        return 0
    meta = {**plain.meta, "encoding": "compact", "with_true_prob": False}
    compact = RecordStore(plain.path, meta)
    rewritten = 0
    for k, split, t in plain._recorded_epochs():
        _, raw = _decode(plain._epoch_path(k, split, t), [], _REDO_EPOCH)
        if raw and "correct" in json.loads(raw).get("arrays", {}):
            compact.read_predictions(k, split, t)  # compacted before an interruption
            continue
        pred = plain.read_predictions(k, split, t)
        kept = plain._read(k, split, t, *plain._kept_layout(plain.num_examples(split)))
        compact.write_epoch(k, split, t, pred, **kept)
        if not np.array_equal(compact.read_predictions(k, split, t), pred):
            raise RecordStoreError(f"compacting {compact._epoch_path(k, split, t)} "
                                   "changed its predictions; the store is left plain")
        rewritten += 1
    meta["compacted"] = {
        "from_encoding": "plain", "dropped": ["true_prob"] if plain.with_true_prob else [],
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    write_json(plain.path / "meta.json", meta)  # last: only now is the store compact
    return rewritten

"""Atomic file writes: a reader never sees a half-written file.

Everything long-running (record epochs, extracted archives, statistics tables)
goes through these helpers, so an interrupted job leaves either the old file or
the new one, never a truncated one.

Three guarantees on top of that:

- **Disk full** (``ENOSPC``/``EDQUOT``), whatever layer raises it (the OS, pyarrow,
  torch's serializer), leaves the target untouched and becomes one :class:`DiskFull`
  naming the file that was being written (:func:`atomic_path`).
- **Leftovers** of an interrupted write (``.<name>.<host>-<pid>.<random>.tmp``) are removed
  by the next write beside them once their writer is gone (:func:`remove_stale_temporaries`).
- **Provenance**: a derived table records what it was derived from (its inputs'
  identities), so a reader can tell a stale, partial or hand-edited copy and recompute or
  refuse it (:func:`write_table` with ``provenance=``, :func:`check_provenance`,
  :func:`read_table`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, DerivedFileError, DiskFull

TABLE_SUFFIXES = (".csv", ".parquet")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: errno values that mean "no room to write": the disk is full, or the user's quota is.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
#: How torch's serializer and a few C++ layers word a failed write on a full disk (they
#: raise RuntimeError without an errno).
_NO_SPACE_TEXT = ("no space left on device", "disk quota exceeded", "unexpected pos")


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or an exception it was raised from) says the disk or quota is full.

    Covers ``OSError`` with errno ``ENOSPC``/``EDQUOT`` (also pyarrow's, which is an
    OSError, sometimes with the errno only in its text), torch's ``RuntimeError`` from
    ``inline_container.cc`` ("unexpected pos"), and :class:`DiskFull` itself.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DiskFull):
            return True
        if isinstance(error, OSError) and error.errno in NO_SPACE:
            return True
        if isinstance(error, (OSError, RuntimeError)):
            text = str(error).lower()
            if any(marker in text for marker in _NO_SPACE_TEXT):
                return True
        error = error.__cause__ or error.__context__
    return False


def _temporary_tag() -> str:
    # Host and pid name the writer, so that a later run can tell a dead writer's leftover
    # from a live writer's file in flight (another job writing beside it).
    host = socket.gethostname().split(".")[0].replace("-", "_") or "host"
    return f"{host}-{os.getpid()}"


def _writer_alive(tag: str) -> bool | None:
    """True/False for a temporary's writer on this host; None when it cannot be told."""
    host, _, pid = tag.rpartition("-")
    if host != _temporary_tag().rpartition("-")[0] or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_temporaries(directory: str | os.PathLike, name: str | None = None, *,
                             owned: bool = False) -> list[Path]:
    """Remove the temporaries an interrupted :func:`atomic_path` left in ``directory``.

    Parameters
    ----------
    directory : path
    name : str, optional
        Only the temporaries of this file name (``.<name>.*.tmp``); default: all.
    owned : bool
        The caller holds the lock of every file concerned (e.g. a network's lock for its
        checkpoint and epoch files): remove them whoever wrote them, also the old-style
        ``.<name>.<random>.tmp`` that name no writer. Otherwise only those whose writer
        (host and pid in the name) is this host's and no longer runs.

    Returns
    -------
    list of Path
        The files removed.
    """
    directory = Path(directory)
    pattern = f".{glob.escape(name)}.*.tmp" if name else ".*.tmp"
    removed = []
    try:
        candidates = list(directory.glob(pattern))
    except OSError:
        return removed
    for path in candidates:
        if not path.is_file() or path.is_symlink():
            continue
        parts = path.name[1:-len(".tmp")].split(".")
        tag = parts[-2] if len(parts) >= 3 else ""
        if owned or _writer_alive(tag) is False:
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place on success.

    The temporary file lives in the same directory so that the final
    ``os.replace`` is atomic on POSIX file systems. On an exception the
    temporary file is removed and ``path`` is left untouched; a full disk, whatever
    layer reports it, is raised as :class:`~agreement_core.errors.DiskFull` naming
    ``path``. Leftovers of writers of ``path`` that died are removed first
    (:func:`remove_stale_temporaries`).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent, path.name)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_temporary_tag()}.", suffix=".tmp",
                                   dir=path.parent)
    except OSError as error:
        if is_disk_full(error):
            raise DiskFull(path) from error
        raise
    os.close(fd)
    # mkstemp creates 0600; give the final file the usual permissions.
    os.chmod(tmp, 0o666 & ~_umask())
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException as error:
        tmp_path.unlink(missing_ok=True)
        if is_disk_full(error) and not isinstance(error, DiskFull):
            raise DiskFull(path) from error
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; rename it to ``path`` on success.

    Used for archive extraction: nothing half-extracted is ever visible at
    ``path``. ``path`` must not exist yet.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(error) and not isinstance(error, DiskFull):
            raise DiskFull(path) from error
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")


def check_table_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path if it names a table format we write (.csv, .parquet), else an error."""
    path = Path(path)
    if path.suffix not in TABLE_SUFFIXES:
        raise ConfigError(f"a table path must end in .csv or .parquet, got {path}")
    return path


if TYPE_CHECKING:  # pandas is imported by the callers that have tables: keeps the
    import pandas as pd  # record store (and the Recorder) free of it

#: Parquet metadata key of a table's provenance; CSV tables keep it in a sidecar file.
PROVENANCE_KEY = b"agreement_core.provenance"
PROVENANCE_SUFFIX = ".provenance.json"


def file_digest(path: str | os.PathLike) -> str:
    """``sha256:<hex>`` of a file's bytes: an input's identity that survives a copy or a
    fresh checkout (unlike its mtime)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def provenance_path(path: str | os.PathLike) -> Path:
    """The sidecar of a CSV table: ``<file>.provenance.json``."""
    path = Path(path)
    return path.with_name(path.name + PROVENANCE_SUFFIX)


def _canonical(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples as lists, keys as strings), to compare."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def write_table(table: pd.DataFrame, path: str | os.PathLike,
                provenance: Mapping[str, Any] | None = None) -> Path:
    """Write ``table`` atomically as parquet or CSV, chosen by the extension of ``path``.

    Parameters
    ----------
    table : pandas.DataFrame
    path : path
        ``.parquet`` or ``.csv``.
    provenance : mapping, optional
        What the table was derived from: the identities of its inputs (e.g. record store
        fingerprints, statistics table digests) and the options that shape it (the
        statistics list, ``n_boot``); JSON-able. A parquet table keeps it in its metadata
        (one file, one atomic write); a CSV table in ``<file>.provenance.json``, written
        after the table and holding the table's digest, so a table and sidecar that do not
        belong together (a write interrupted between them, a hand-edited table) read as
        stale. :func:`check_provenance` compares it with the current inputs.

    Returns
    -------
    Path
    """
    path = check_table_path(path)
    record = None
    if provenance is not None:
        record = {"inputs": _canonical(dict(provenance)), "rows": int(len(table)),
                  "columns": [str(c) for c in table.columns]}
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            if record is None:
                table.to_parquet(tmp, index=False)
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                arrow = pa.Table.from_pandas(table, preserve_index=False)
                arrow = arrow.replace_schema_metadata({
                    **(arrow.schema.metadata or {}),
                    PROVENANCE_KEY: json.dumps(record).encode()})
                pq.write_table(arrow, tmp)
        else:
            table.to_csv(tmp, index=False)
    sidecar = provenance_path(path)
    if path.suffix == ".csv":
        if record is None:
            sidecar.unlink(missing_ok=True)  # an old sidecar would describe another table
        else:
            write_json(sidecar, {**record, "output": file_digest(path)})
    return path


def read_provenance(path: str | os.PathLike) -> dict | None:
    """The provenance :func:`write_table` recorded for ``path``; None when it has none.

    Raises
    ------
    DerivedFileError
        The table (parquet) or its sidecar (CSV) is unreadable, or a CSV table no longer
        matches the digest its sidecar recorded (edited, or written without a sidecar
        after it).
    """
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.read_schema(path).metadata or {}
        except (OSError, ValueError) as error:
            raise DerivedFileError(path, f"unreadable ({_short(error)})") from None
        raw = meta.get(PROVENANCE_KEY)
        return json.loads(raw) if raw else None
    sidecar = provenance_path(path)
    if not sidecar.is_file():
        return None
    try:
        record = json.loads(sidecar.read_text())
    except (OSError, ValueError) as error:
        raise DerivedFileError(path, f"its provenance {sidecar.name} is unreadable "
                                     f"({_short(error)})") from None
    if not isinstance(record, dict) or record.get("output") != file_digest(path):
        raise DerivedFileError(path, f"it does not match its provenance {sidecar.name} "
                                     "(edited, or not written by this package)")
    return record


def check_provenance(path: str | os.PathLike, inputs: Mapping[str, Any]) -> dict:
    """Check that the derived table at ``path`` was derived from ``inputs``; return its
    provenance.

    Parameters
    ----------
    path : path
        A table written by :func:`write_table` with ``provenance=``.
    inputs : mapping
        What it must have been derived from, as passed to :func:`write_table`.

    Raises
    ------
    DerivedFileError
        One line naming the file and why it cannot be trusted: missing, unreadable
        (truncated, corrupt), without provenance, or derived from other inputs (naming the
        first that differs). The caller recomputes the file, or shows the error with the
        command that does.
    """
    path = Path(path)
    if not path.is_file():
        raise DerivedFileError(path, "missing")
    record = read_provenance(path)
    if record is None:
        raise DerivedFileError(path, "it records no provenance (written by an older "
                                     "version, or by hand)")
    recorded, current = record.get("inputs", {}), _canonical(dict(inputs))
    if recorded != current:
        changed = sorted(k for k in set(recorded) | set(current)
                         if recorded.get(k) != current.get(k))
        raise DerivedFileError(path, f"stale: derived from other inputs "
                                     f"({', '.join(changed)} changed)")
    return record


def is_current(path: str | os.PathLike, inputs: Mapping[str, Any]) -> bool:
    """Whether ``path`` exists, is readable and was derived from ``inputs``
    (:func:`check_provenance` without the error)."""
    try:
        check_provenance(path, inputs)
    except DerivedFileError:
        return False
    return True


def read_table(path: str | os.PathLike, inputs: Mapping[str, Any] | None = None,
               **options) -> pd.DataFrame:
    """Read a derived table (parquet or CSV by extension); a bad file is one line naming it.

    Parameters
    ----------
    path : path
    inputs : mapping, optional
        When given, the table must have been derived from them (:func:`check_provenance`).
    **options
        Passed to ``pandas.read_parquet`` / ``pandas.read_csv``.

    Raises
    ------
    DerivedFileError
        Missing, truncated, corrupt, empty, changed since its provenance was recorded (a
        CSV with a sidecar), or (with ``inputs``) stale.
    """
    import pandas as pd

    path = check_table_path(path)
    if inputs is not None:
        check_provenance(path, inputs)
    elif not path.is_file():
        raise DerivedFileError(path, "missing")
    elif path.suffix == ".csv":
        read_provenance(path)  # a sidecar the table no longer matches: edited by hand
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path, **options)
        return pd.read_csv(path, **options)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DerivedFileError(path, f"unreadable ({_short(error)})") from None


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:120]}"

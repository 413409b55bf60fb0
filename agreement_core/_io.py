"""Atomic file writes: a reader never sees a half-written file.

Everything long-running (record epochs, extracted archives, statistics tables)
goes through these helpers, so an interrupted job leaves either the old file or
the new one, never a truncated one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

TABLE_SUFFIXES = (".csv", ".parquet")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place on success.

    The temporary file lives in the same directory so that the final
    ``os.replace`` is atomic on POSIX file systems. On an exception the
    temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp creates 0600; give the final file the usual permissions.
    os.chmod(tmp, 0o666 & ~_umask())
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
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
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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

def write_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` atomically as parquet or CSV, chosen by the extension of ``path``."""
    path = check_table_path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)
    return path

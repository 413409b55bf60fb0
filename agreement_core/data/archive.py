"""Extract mirror archives once, atomically: a failed extraction leaves nothing behind."""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import uuid
import zlib
from pathlib import Path

from .. import locations
from .._io import atomic_directory
from ..errors import DatasetError


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike, member: str) -> Path:
    """Extract the folder ``member`` of a tar archive to ``dest``, unless ``dest`` exists.

    Parameters
    ----------
    archive : path
        A (possibly compressed) tar file.
    dest : path
        Where the contents of ``member`` end up; extraction goes to a temporary
        folder beside it that is renamed only when complete.
    member : str
        Folder inside the archive, e.g. ``"cifar10"`` or ``"imagenette/val"``.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DatasetError
        If the archive is missing, truncated, corrupt or lacks ``member``.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.is_dir():
        return dest
    if not archive.is_file():
        raise DatasetError(f"archive {archive} not found")
    try:
        with atomic_directory(dest) as tmp:
            # Unpack one level down, then move member's contents up: dest holds
            # what member/ held, whatever else the archive contains.
            staging = tmp / f".{uuid.uuid4().hex}"
            try:
                with tarfile.open(archive, "r:*") as tar:
                    tar.extractall(staging, filter="data")
            except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise DatasetError(
                    f"cannot extract {archive} (truncated or corrupt?): {exc}") from exc
            if not (staging / member).is_dir():
                raise DatasetError(f"archive {archive} has no folder {member}/")
            for child in (staging / member).iterdir():
                child.rename(tmp / child.name)
            shutil.rmtree(staging)
    except OSError:
        # Another process finished the same extraction first: its result is as good.
        if dest.is_dir():
            return dest
        raise
    return dest


def extract_from_mirror(mirror, archive_name: str, target: Path, top: str
                        ) -> tuple[Path | None, str]:
    """Extract ``archive_name`` of the offline mirror into ``target`` (once) when the mirror
    holds it.

    Returns
    -------
    (pathlib.Path or None, str)
        The extracted folder (:func:`extract_archive`), or None and what was tried, for the
        caller's "not found" message.
    """
    mirror_dir = locations.mirror_dir(mirror)
    archive = mirror_dir / archive_name if mirror_dir is not None else None
    if archive is not None and archive.is_file():
        return extract_archive(archive, target, top), ""
    return None, (f"no {archive}" if archive is not None
                  else f"no mirror given (AGREEMENT_MIRROR unset; it would hold {archive_name})")

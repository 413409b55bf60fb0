"""Where datasets live: the data root and the optional offline mirror.

Resolution order for both: an explicit argument, then the environment
variable, then the default.

- ``AGREEMENT_DATA_ROOT``: where datasets are stored or extracted
  (default ``~/.cache/agreement_core/data``).
- ``AGREEMENT_MIRROR``: a directory with the offline mirror archives
  (``cifar10-jpeg.tar.gz``, ``imagenette-128-*.tar.gz``, ``cifar10h-probs.npy``).
  Unset means "no mirror": datasets come from the data root or, where
  torchvision can, are downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ROOT_ENV = "AGREEMENT_DATA_ROOT"
MIRROR_ENV = "AGREEMENT_MIRROR"
DEFAULT_DATA_ROOT = Path("~/.cache/agreement_core/data")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Return the data root: ``root``, else ``$AGREEMENT_DATA_ROOT``, else the default."""
    value = root if root is not None else os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(value).expanduser()


def mirror_dir(mirror: str | os.PathLike | None = None) -> Path | None:
    """Return the mirror directory: ``mirror``, else ``$AGREEMENT_MIRROR``, else ``None``."""
    value = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    return Path(value).expanduser() if value else None

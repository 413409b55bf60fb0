"""Per-example dataset factors that need no image: annotations, file-name factors, human labels.

- Pascal VOC: ``instances`` and ``bbox_area_share`` (from the annotations).
- KTH-TIPS2-b: ``illumination``, ``pose``, ``scale`` (from the file names).
- CIFAR-10 test set: ``soft_label_entropy``, the entropy of the CIFAR-10H human soft
  labels (Peterson et al., ICCV 2019), matched by example id.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .. import locations
from ..errors import DatasetError

#: Columns of a dataset's ``examples`` table that are per-example factors.
FACTOR_COLUMNS = ("instances", "bbox_area_share", "vsd_score", "illumination", "pose", "scale",
                  "sample", "image_number")
CIFAR10H_FILE = "cifar10h-probs.npy"


def soft_label_entropy(probabilities: np.ndarray) -> np.ndarray:
    r"""Shannon entropy in bits of each row of soft labels, :math:`-\sum_c p_c \log_2 p_c`.

    Parameters
    ----------
    probabilities : (N, C) array of float
        Rows sum to 1 (within 1e-6); zeros contribute 0.

    Returns
    -------
    (N,) float64
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (N, C), got shape {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("each row of probabilities must be non-negative and sum to 1")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(p), 0.0)
    return terms.sum(axis=1)


def cifar10h_entropy(example_ids: np.ndarray, mirror: str | os.PathLike | None = None,
                     path: str | os.PathLike | None = None) -> np.ndarray | None:
    """CIFAR-10H soft-label entropy of CIFAR-10 *test* examples, by example id.

    Looks for ``cifar10h-probs.npy`` at ``path``, else in the mirror directory
    (``mirror`` or ``$AGREEMENT_MIRROR``). Returns ``None`` with a warning naming
    the places tried when the file is not found, so that a missing file does not
    stop the other statistics.
    """
    candidates = [Path(path)] if path is not None else []
    mirror_dir = locations.mirror_dir(mirror)
    if mirror_dir is not None:
        candidates.append(mirror_dir / CIFAR10H_FILE)
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        tried = ", ".join(map(str, candidates)) or "no path and no mirror (AGREEMENT_MIRROR unset)"
        warnings.warn(f"CIFAR-10H soft labels not found ({tried}); soft_label_entropy is "
                      f"left out. Get {CIFAR10H_FILE} from the CIFAR-10H release "
                      f"(Peterson et al. 2019) and pass its path.", stacklevel=2)
        return None
    remedy = (f"get {CIFAR10H_FILE} again from the CIFAR-10H release (Peterson et al. 2019) "
              f"or the mirror")
    try:
        probs = np.load(found, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:  # a short or garbled file
        raise DatasetError(f"{found}: unreadable, truncated or corrupt "
                           f"({type(error).__name__}: {' '.join(str(error).split())[:100]}); "
                           f"{remedy}") from None
    ids = np.asarray(example_ids, dtype=np.int64)
    if probs.shape != (10000, 10) or ids.min(initial=0) < 0 or ids.max(initial=0) >= len(probs):
        raise DatasetError(f"{found}: expected a (10000, 10) array of CIFAR-10 test soft labels "
                           f"covering the ids, got shape {probs.shape}; {remedy}")
    return soft_label_entropy(probs[ids])


def dataset_factors(dataset, mirror: str | os.PathLike | None = None) -> pd.DataFrame:
    """The per-example factor columns of ``dataset``, keyed by ``example_id``.

    Includes ``label`` (single-label) or ``labels`` (multi-label), every column
    of :data:`FACTOR_COLUMNS` the dataset has, and for the CIFAR-10 test split
    ``soft_label_entropy`` when CIFAR-10H is available.
    """
    examples = dataset.examples
    columns = ["example_id", "labels" if dataset.multilabel else "label"]
    columns += [c for c in FACTOR_COLUMNS if c in examples.columns]
    table = examples[columns].copy()
    if type(dataset).__name__ == "CIFAR10" and dataset.split == "test":
        entropy = cifar10h_entropy(dataset.example_ids, mirror=mirror)
        if entropy is not None:
            table["soft_label_entropy"] = entropy
    return table

"""What makes a prediction right: the one rule every part of the package uses.

Single-label data has one class per example; a prediction is right when it is that class.
Multi-label data (Pascal VOC) has a set of labels per example, stored as a bool vector over
the classes; a prediction is right on **exact match** of the sets (no missing and no extra
label; Pliushch et al., section 3).
"""

from __future__ import annotations


def is_multilabel(targets) -> bool:
    """Whether ``targets`` (a NumPy array or a torch tensor) hold label sets (bool vectors)."""
    return str(targets.dtype) in ("bool", "torch.bool")


def is_correct(pred, target):
    """Whether predictions are right: equal classes, or (multi-label) equal label sets.

    Works on NumPy arrays and torch tensors alike; ``target`` broadcasts against ``pred``
    (e.g. (N,) targets against (K, N) predictions, (N, C) label sets against (K, N, C)).
    """
    return (pred == target).all(-1) if is_multilabel(target) else pred == target

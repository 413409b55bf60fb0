"""Per-pixel views of the statistics of one image (the paper's Figs. 3, 10 and 11).

Each map is the intermediate picture whose summary is the scalar statistic of
:mod:`agreement_core.statistics.kernels`, computed with the same definitions,
so that ``entropy_map(g).mean()`` equals ``mean_windowed_entropy`` and so on
(tested): what the figure shows is what the correlation uses.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .kernels import (
    DEFAULT_PARAMETERS,
    _count_from_sorted_squares,
    felzenszwalb_segments,
    grayscale,
    sobel_squared,
)


def _gray(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (
            image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"expected one uint8 image (H, W, 3) or (H, W), got {image.dtype} "
                         f"{image.shape}")
    return grayscale(image[None])[0] if image.ndim == 3 else image


def entropy_map(image, window: int = 10) -> np.ndarray:
    """Shannon entropy (bits) of the 8-bit luma values in every ``window`` x ``window`` window.

    One value per valid window position, shape ``(H - window + 1, W - window + 1)``;
    its mean is :func:`~agreement_core.statistics.mean_windowed_entropy`.
    """
    gray = _gray(image)
    if min(gray.shape) < window:
        raise ValueError(f"image {gray.shape} is smaller than the {window}x{window} window")
    windows = sliding_window_view(gray, (window, window)).reshape(
        gray.shape[0] - window + 1, gray.shape[1] - window + 1, window * window)
    counts = np.apply_along_axis(np.bincount, -1, windows, minlength=256).astype(np.float64)
    p = counts / (window * window)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=-1)


def segmentation(image, sigma: float = 0.5, k: float = 500, min_size: int = 20) -> np.ndarray:
    """Felzenszwalb-Huttenlocher segment labels (the segments that ``segment_count`` counts)."""
    image = np.asarray(image)
    _gray(image)  # validates
    return felzenszwalb_segments(image, sigma, k, min_size)


def sobel_map(image) -> np.ndarray:
    """Sobel gradient magnitude of the luma scaled to [0, 1], interior pixels (H-2, W-2).

    Its sum is :func:`~agreement_core.statistics.sobel_edge_strength`.
    """
    x = _gray(image).astype(np.int32)
    if min(x.shape) < 3:
        raise ValueError(f"image {x.shape} is smaller than the 3x3 Sobel kernel")
    return np.sqrt(sobel_squared(x[None])[0].astype(np.float64)) / 255.0


def dct_map(image, threshold: float = DEFAULT_PARAMETERS["dct_share"]["threshold"]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal 2-D DCT-II of the luma and the mask of the coefficients the share keeps.

    The kept coefficients are the largest in magnitude, as few as reach
    ``threshold`` of the norm of all; ``100 * mask.mean()`` is
    :func:`~agreement_core.statistics.dct_coefficient_share`.

    Returns
    -------
    coefficients : ndarray, float64, (H, W)
    kept : ndarray, bool, (H, W)
    """
    from scipy.fft import dctn

    coefficients = dctn(_gray(image).astype(np.float64), type=2, norm="ortho")
    order = np.argsort(-np.abs(coefficients).ravel(), kind="stable")
    ordered = np.abs(coefficients).ravel()[order]
    count = int(_count_from_sorted_squares(np.cumsum(ordered * ordered)[None], threshold)[0])
    kept = np.zeros(coefficients.size, dtype=bool)
    kept[order[:count]] = True
    return coefficients, kept.reshape(coefficients.shape)


def statistic_maps(image) -> dict[str, np.ndarray]:
    """All maps of one image: ``segments``, ``entropy``, ``sobel``, ``dct`` (log10 |c|) and
    ``dct_kept``."""
    coefficients, kept = dct_map(image)
    return {"segments": segmentation(image), "entropy": entropy_map(image),
            "sobel": sobel_map(image), "dct": np.log10(np.abs(coefficients) + 1e-6),
            "dct_kept": kept}


__all__ = ["dct_map", "entropy_map", "segmentation", "sobel_map", "statistic_maps"]

"""Per-pixel views of the statistics of one image (the paper's Figs. 3, 10 and 11).

Each map is the intermediate picture whose summary is the scalar statistic of
:mod:`agreement_core.statistics.kernels`, computed with the same definitions,
so that ``entropy_map(g).mean()`` equals ``mean_windowed_entropy`` and so on
(tested): what the figure shows is what the correlation uses. Entropy and the DCT
take the kernels' ``definition`` (default ``"paper"``: the unrounded float luma of
the paper's code; ``"8bit"``: the 8-bit luma).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .kernels import (
    _DCT_COUNT_OFFSET,
    DEFAULT_PARAMETERS,
    _check_definition,
    _count_from_sorted_squares,
    _entropy_terms,
    felzenszwalb_segments,
    grayscale,
    grayscale_float,
    sobel_squared,
)


def _gray(image, definition: str = "8bit") -> np.ndarray:
    """The gray image of one uint8 image: 8-bit luma, or the float luma for "paper"."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (
            image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"expected one uint8 image (H, W, 3) or (H, W), got {image.dtype} "
                         f"{image.shape}")
    if image.ndim == 2:
        return image.astype(np.float64) if _check_definition(definition) == "paper" else image
    if _check_definition(definition) == "paper":
        return grayscale_float(image[None])[0]
    return grayscale(image[None])[0]


def entropy_map(image, window: int = 10, definition: str = "paper") -> np.ndarray:
    """Shannon entropy (bits) of the gray values in every ``window`` x ``window`` window.

    One value per valid window position, shape ``(H - window + 1, W - window + 1)``;
    its mean is :func:`~agreement_core.statistics.mean_windowed_entropy` with the same
    ``definition`` (``"paper"``: distinct values of the unrounded float luma; ``"8bit"``:
    8-bit luma levels). Each window's values are sorted; a run of c equal values adds
    ``(c/n) log2(n/c)``.
    """
    gray = _gray(image, definition)
    if min(gray.shape) < window:
        raise ValueError(f"image {gray.shape} is smaller than the {window}x{window} window")
    n = window * window
    windows = np.sort(sliding_window_view(gray, (window, window)).reshape(
        gray.shape[0] - window + 1, gray.shape[1] - window + 1, n), axis=-1)
    change = windows[..., 1:] != windows[..., :-1]
    edge = np.ones(change.shape[:-1] + (1,), dtype=bool)
    starts, ends = np.concatenate([edge, change], -1), np.concatenate([change, edge], -1)
    index = np.arange(n)
    first = np.maximum.accumulate(np.where(starts, index, 0), axis=-1)
    terms = np.asarray(_entropy_terms(n))
    return np.where(ends, terms[index - first + 1], 0.0).sum(axis=-1)


def segmentation(image, sigma: float = 0.5, k: float = 500, min_size: int = 20) -> np.ndarray:
    """Felzenszwalb-Huttenlocher segment labels (the segments that ``segment_count`` counts)."""
    image = np.asarray(image)
    _gray(image)  # validates
    return felzenszwalb_segments(image, sigma, k, min_size)


def sobel_map(image) -> np.ndarray:
    """Sobel gradient magnitude of the 8-bit luma scaled to [0, 1], interior pixels (H-2, W-2).

    Its sum is :func:`~agreement_core.statistics.sobel_edge_strength`.
    """
    x = _gray(image).astype(np.int32)
    if min(x.shape) < 3:
        raise ValueError(f"image {x.shape} is smaller than the 3x3 Sobel kernel")
    return np.sqrt(sobel_squared(x[None])[0].astype(np.float64)) / 255.0


def dct_map(image, threshold: float = DEFAULT_PARAMETERS["dct_share"]["threshold"],
            definition: str = "paper") -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal 2-D DCT-II of the gray image and the mask of the coefficients the share counts.

    The gray image is the unrounded float luma (``"paper"``) or the 8-bit luma (``"8bit"``),
    on the 0..255 scale. Let c be the fewest largest-magnitude coefficients that reach
    ``threshold`` of the norm of all. The mask holds the ``c`` largest under ``"8bit"`` and
    the ``c - 1`` largest under ``"paper"`` (the count the paper's code reports, one fewer
    than reach the threshold), so that ``100 * kept.mean()`` is
    :func:`~agreement_core.statistics.dct_coefficient_share` with the same ``definition``.
    ``np.abs(coefficients).max() / 255`` is
    :func:`~agreement_core.statistics.kernels.dct_largest_coefficient`.

    Returns
    -------
    coefficients : ndarray, float64, (H, W)
    kept : ndarray, bool, (H, W)
    """
    from scipy.fft import dctn

    coefficients = dctn(_gray(image, definition).astype(np.float64), type=2, norm="ortho")
    order = np.argsort(-np.abs(coefficients).ravel(), kind="stable")
    ordered = np.abs(coefficients).ravel()[order]
    count = int(_count_from_sorted_squares(np.cumsum(ordered * ordered)[None], threshold)[0])
    kept = np.zeros(coefficients.size, dtype=bool)
    kept[order[:count - _DCT_COUNT_OFFSET[definition]]] = True
    return coefficients, kept.reshape(coefficients.shape)


def statistic_maps(image) -> dict[str, np.ndarray]:
    """All maps of one image under the default definitions: ``segments``, ``entropy``,
    ``sobel``, ``dct`` (log10 |c|) and ``dct_kept``."""
    coefficients, kept = dct_map(image)
    return {"segments": segmentation(image), "entropy": entropy_map(image),
            "sobel": sobel_map(image), "dct": np.log10(np.abs(coefficients) + 1e-6),
            "dct_kept": kept}


__all__ = ["dct_map", "entropy_map", "segmentation", "sobel_map", "statistic_maps"]

"""Reference implementations of the image statistics, written from the definitions.

Explicit Python loops over pixels, windows and coefficients; slow on purpose of clarity.
They are the ground truth for ``agreement_core.statistics.kernels`` and its benchmark.
All take a single uint8 image (H, W, 3) or (H, W).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
from skimage.segmentation import felzenszwalb


def reference_grayscale(image: np.ndarray) -> np.ndarray:
    """floor(0.2989 R + 0.5870 G + 0.1140 B + 0.5), in exact integer arithmetic per pixel."""
    if image.ndim == 2:
        return image
    height, width = image.shape[:2]
    out = np.empty((height, width), dtype=np.uint8)
    for y in range(height):
        for x in range(width):
            r, g, b = (int(v) for v in image[y, x])
            out[y, x] = (2989 * r + 5870 * g + 1140 * b + 5000) // 10000
    return out


def reference_entropy(image: np.ndarray, window: int = 10) -> float:
    """Mean over valid windows of -sum p log2 p, with p the gray-level frequencies.

    Loops over windows with ``np.unique``. The mean is formed as ``fsum_c(m_c e_c) / P``,
    with m_c the number of (window, level) pairs of count c and ``e_c = (c/n) log2(n/c)``:
    the documented way of summing, so that the value is bitwise comparable.
    """
    gray = reference_grayscale(image)
    height, width = gray.shape
    n = window * window
    histogram = [0] * (n + 1)
    positions = 0
    for y in range(height - window + 1):
        for x in range(width - window + 1):
            _, counts = np.unique(gray[y:y + window, x:x + window], return_counts=True)
            for c in counts:
                histogram[int(c)] += 1
            positions += 1
    terms = [0.0] + [(c / n) * math.log2(n / c) for c in range(1, n + 1)]
    return math.fsum(histogram[c] * terms[c] for c in range(n + 1)) / positions


def textbook_entropy(image: np.ndarray, window: int = 10) -> float:
    """np.mean over windows of -sum(p * log2(p)): the same quantity, naive float summation."""
    gray = reference_grayscale(image)
    height, width = gray.shape
    values = []
    for y in range(height - window + 1):
        for x in range(width - window + 1):
            _, counts = np.unique(gray[y:y + window, x:x + window], return_counts=True)
            p = counts / (window * window)
            values.append(-np.sum(p * np.log2(p)))
    return float(np.mean(values))


def reference_dct_share(image: np.ndarray, threshold: float = 0.9998) -> float:
    """100 * c / (H W), c the first count whose coefficient norm reaches threshold * total."""
    gray = reference_grayscale(image).astype(np.float64)
    coefficients = scipy.fft.dctn(gray, norm="ortho")
    magnitudes = sorted((abs(float(v)) for v in coefficients.ravel()), reverse=True)
    cumulative = []
    total = 0.0
    for v in magnitudes:
        total += v * v
        cumulative.append(total)
    for c, partial in enumerate(cumulative, start=1):
        if math.sqrt(partial) >= threshold * math.sqrt(total):
            return 100.0 * c / gray.size
    raise AssertionError("unreachable: the full sum always reaches the threshold")


def dct_matrix_reference(gray: np.ndarray) -> np.ndarray:
    """Orthonormal 2-D DCT-II from its definition (double sum), for checking scipy."""
    height, width = gray.shape
    out = np.zeros((height, width))
    for k in range(height):
        for l in range(width):  # noqa: E741
            total = 0.0
            for y in range(height):
                for x in range(width):
                    total += (gray[y, x] * math.cos(math.pi * (2 * y + 1) * k / (2 * height))
                              * math.cos(math.pi * (2 * x + 1) * l / (2 * width)))
            sk = math.sqrt((1 if k == 0 else 2) / height)
            sl = math.sqrt((1 if l == 0 else 2) / width)
            out[k, l] = sk * sl * total
    return out


def reference_segments(image: np.ndarray, sigma: float = 0.5, k: float = 500,
                       min_size: int = 20) -> int:
    """Number of distinct labels of skimage's Felzenszwalb segmentation of one image."""
    channel_axis = -1 if image.ndim == 3 else None
    labels = felzenszwalb(image, scale=k, sigma=sigma, min_size=min_size,
                          channel_axis=channel_axis)
    return len(np.unique(labels))


def reference_sobel(image: np.ndarray) -> float:
    """Sum over interior pixels of sqrt(gx^2 + gy^2) with 3x3 Sobel kernels on gray / 255."""
    gray = reference_grayscale(image).astype(np.float64) / 255.0
    kx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    height, width = gray.shape
    total = 0.0
    for y in range(1, height - 1):
        for x in range(1, width - 1):
            gx = gy = 0.0
            for dy in range(3):
                for dx in range(3):
                    v = gray[y + dy - 1, x + dx - 1]
                    gx += kx[dy][dx] * v
                    gy += kx[dx][dy] * v
            total += math.sqrt(gx * gx + gy * gy)
    return total

"""Reference implementations of the image statistics, written from the definitions.

Explicit Python loops over pixels, windows and coefficients; slow on purpose of clarity.
They are the ground truth for ``agreement_core.statistics.kernels`` and its benchmark.
All take a single uint8 image (H, W, 3) or (H, W).

Entropy and the DCT statistics take ``definition``: ``"paper"`` (default) follows the paper's
published code (``img_entropy`` and ``img_frequency`` in ``lib/dataset_metrics.py`` of
ccc-frankfurt/intrinsic_ordering_nn_training): unrounded float luma, and the DCT count minus
one; ``"8bit"`` the 8-bit luma and the count itself. ``paper_code_entropy`` and
``paper_code_dct`` transcribe the paper's code line by line (NumPy float64 for the entropy,
torch float32 for the DCT, as the code runs).
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


def reference_float_grayscale(image: np.ndarray) -> np.ndarray:
    """0.2989 R + 0.5870 G + 0.1140 B per pixel in Python floats (float64), not rounded.

    Evaluated left to right, ``(0.2989 * R + 0.5870 * G) + 0.1140 * B``, as the paper's
    ``gray = 0.2989 * inputs[:, 0] + 0.5870 * inputs[:, 1] + 0.1140 * inputs[:, 2]`` does on
    its uint8 array (NumPy: float64).
    """
    if image.ndim == 2:
        return image.astype(np.float64)
    height, width = image.shape[:2]
    out = np.empty((height, width), dtype=np.float64)
    for y in range(height):
        for x in range(width):
            r, g, b = (float(v) for v in image[y, x])
            out[y, x] = 0.2989 * r + 0.5870 * g + 0.1140 * b
    return out


def _gray(image: np.ndarray, definition: str) -> np.ndarray:
    if definition == "paper":
        return reference_float_grayscale(image)
    if definition == "8bit":
        return reference_grayscale(image)
    raise ValueError(definition)


def reference_entropy(image: np.ndarray, window: int = 10, definition: str = "paper") -> float:
    """Mean over valid windows of -sum p log2 p, with p the frequencies of the gray values.

    Loops over windows with ``np.unique`` (exact equality of the float luma for "paper", of
    the 8-bit levels for "8bit"). The mean is formed as ``fsum_c(m_c e_c) / P``, with m_c the
    number of (window, value) pairs of count c and ``e_c = (c/n) log2(n/c)``: the documented
    way of summing, so that the value is bitwise comparable.
    """
    gray = _gray(image, definition)
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


def textbook_entropy(image: np.ndarray, window: int = 10, definition: str = "paper") -> float:
    """np.mean over windows of -sum(p * log2(p)): the same quantity, naive float summation."""
    gray = _gray(image, definition)
    height, width = gray.shape
    values = []
    for y in range(height - window + 1):
        for x in range(width - window + 1):
            _, counts = np.unique(gray[y:y + window, x:x + window], return_counts=True)
            p = counts / (window * window)
            values.append(-np.sum(p * np.log2(p)))
    return float(np.mean(values))


def paper_code_entropy(image: np.ndarray, window_size: int = 10) -> float:
    """The paper's ``img_entropy`` for one image, line by line (its loop over the batch and
    its ToTensor round trip ``(x / 255 * 255).astype(uint8)``, exact, left out)."""
    inputs = image.transpose(2, 0, 1)[None]  # (1, 3, H, W) uint8, as the code's inputs
    gray = 0.2989 * inputs[:, 0, :, :] + 0.5870 * inputs[:, 1, :, :] + 0.1140 * inputs[:, 2, :, :]
    i = 0
    window_entropies = []
    for h in range(gray.shape[1] + 1 - window_size):
        for w in range(gray.shape[2] + 1 - window_size):
            window = gray[i, h:h + window_size, w:w + window_size]
            values, counts = np.unique(window, return_counts=True)
            probs = counts / float(np.sum(counts))
            window_entropies.append(-np.sum(probs * np.log2(probs)))
    return float(np.mean(window_entropies))


def _dct_magnitudes(image: np.ndarray, definition: str) -> tuple[list[float], int]:
    """|coefficients| of the orthonormal 2-D DCT-II of the gray image (0..255), and H * W."""
    gray = _gray(image, definition).astype(np.float64)
    coefficients = scipy.fft.dctn(gray, norm="ortho")
    return [abs(float(v)) for v in coefficients.ravel()], gray.size


def reference_dct_share(image: np.ndarray, threshold: float = 0.9998,
                        definition: str = "paper") -> float:
    """100 * (c - 1) / (H W) ("paper") or 100 * c / (H W) ("8bit"), c the first count whose
    coefficient norm, largest first, reaches threshold * the norm of all."""
    magnitudes, size = _dct_magnitudes(image, definition)
    magnitudes.sort(reverse=True)
    cumulative = []
    total = 0.0
    for v in magnitudes:
        total += v * v
        cumulative.append(total)
    for c, partial in enumerate(cumulative, start=1):
        if math.sqrt(partial) >= threshold * math.sqrt(total):
            reported = c - 1 if definition == "paper" else c
            return 100.0 * reported / size
    raise AssertionError("unreachable: the full sum always reaches the threshold")


def reference_dct_largest(image: np.ndarray, definition: str = "paper") -> float:
    """The largest |coefficient| of the orthonormal 2-D DCT-II of gray (0..255), / 255."""
    magnitudes, _ = _dct_magnitudes(image, definition)
    largest = 0.0
    for v in magnitudes:
        largest = max(largest, v)
    return largest / 255.0


def paper_code_dct(image: np.ndarray) -> tuple[float, float]:
    """The paper's ``img_frequency`` for one image, line by line: (share in %, largest |coef|).

    The code's input is ``ToTensor`` of the image (float32, [0, 1]); its DCT is
    ``apply_linear_2d`` with torch-dct's ``LinearDCT`` (an orthonormal DCT-II matrix in
    float32), replaced here by the same matrix built in float64 and rounded to float32.
    """
    import torch

    inputs = torch.from_numpy(image.transpose(2, 0, 1).copy())[None].float().div(255)
    gray = 0.2989 * inputs[:, 0, :, :] + 0.5870 * inputs[:, 1, :, :] + 0.1140 * inputs[:, 2, :, :]
    img = gray[0]
    size = img.shape[0]
    k = np.arange(size)[:, None]
    basis = np.cos(np.pi * (2 * np.arange(size)[None, :] + 1) * k / (2 * size))
    basis *= np.where(k == 0, np.sqrt(1 / size), np.sqrt(2 / size))
    weight = torch.from_numpy(basis.astype(np.float32))  # LinearDCT: x @ weight.T
    coeffs = ((img @ weight.T).T @ weight.T).T
    sorted_coeffs, _ = torch.sort(torch.abs(coeffs).flatten(), descending=True)
    num_coeffs = 1
    while torch.norm(sorted_coeffs[0:num_coeffs]) / torch.norm(sorted_coeffs) < 0.9998:
        num_coeffs = num_coeffs + 1
    coeff_percentage = (float(num_coeffs - 1) / np.prod(list(coeffs.size())) * 100.)
    return coeff_percentage, sorted_coeffs[0].item()


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

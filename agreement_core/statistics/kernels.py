"""Per-image statistics kernels: windowed entropy, DCT coefficient share, segment count, edges.

Every kernel takes a batch of uint8 images (0..255) and returns one value per image as a
NumPy array of shape (N,). Accepted inputs:

- a NumPy array or a torch tensor, uint8, RGB ``(N, H, W, 3)`` or grayscale ``(N, H, W)``;
- a list (or tuple) of single images ``(H, W, 3)`` or ``(H, W)`` that may differ in size
  (Pascal VOC, KTH-TIPS2-b); they are grouped by size and each group runs as one batch.

A 3-D array whose last axis has length 3 is refused as ambiguous (one RGB image, or a batch
of grayscale images 3 pixels wide): pass ``image[None]`` or ``[image]``.

Torch tensors run on their own device (CPU or CUDA) in :func:`mean_windowed_entropy`,
:func:`dct_coefficient_share`, :func:`dct_largest_coefficient` and :func:`sobel_edge_strength`;
the other kernels move them to the CPU. The torch paths give the same values as the NumPy
paths (tested on CPU).

Entropy and the DCT statistics take ``definition``, one of :data:`DEFINITIONS`:

- ``"paper"`` (default): as the paper's published code computes them (``lib/dataset_metrics.py``
  of ccc-frankfurt/intrinsic_ordering_nn_training): on the *unrounded* float luma
  (:func:`grayscale_float`), and the DCT share reports one coefficient fewer than reach the
  threshold.
- ``"8bit"``: on the 8-bit luma (:func:`grayscale`, rounded half up), the DCT share counting
  the coefficients that reach the threshold (this library's earlier defaults).

``docs/statistics.md`` lists every difference.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numba
import numpy as np
import scipy.fft

__all__ = [
    "DEFAULT_PARAMETERS", "DEFINITIONS", "KERNELS", "dct_coefficient_share",
    "dct_largest_coefficient", "felzenszwalb_segments", "grayscale", "grayscale_float",
    "mean_windowed_entropy", "resize_images", "segment_count", "sobel_edge_strength",
    "sobel_squared",
]

# Integer luma weights: gray = floor((2989 R + 5870 G + 1140 B + 5000) / 10000), exactly the
# decimal weights 0.2989, 0.5870, 0.1140 rounded half up, with no float ties to break.
_LUMA = (2989, 5870, 1140)
_LUMA_DENOMINATOR = 10000
# The same weights as float64 literals, as the paper's code writes them.
_LUMA_FLOAT = (0.2989, 0.5870, 0.1140)

#: Named definitions of entropy and the DCT statistics: the paper's code, or 8-bit luma.
DEFINITIONS = ("paper", "8bit")


# --------------------------------------------------------------------------- input checks
def _torch():
    """The torch module if it has been imported (a tensor can only exist then), else None."""
    return sys.modules.get("torch")


def _is_tensor(x) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _is_image_list(images) -> bool:
    return isinstance(images, (list, tuple))


def _check_batch(images):
    """Validate a batch; return it unchanged (ndarray or tensor), uint8, ndim 3 or 4."""
    if _is_tensor(images):
        torch = _torch()
        if images.dtype != torch.uint8:
            raise TypeError(f"images must be uint8, got torch tensor of dtype {images.dtype}")
    elif isinstance(images, np.ndarray):
        if images.dtype != np.uint8:
            raise TypeError(f"images must be uint8 (0..255), got dtype {images.dtype}; "
                            f"convert floats in [0, 1] with skimage.util.img_as_ubyte")
    else:
        raise TypeError(f"images must be a numpy array, a torch tensor or a list of them, "
                        f"got {type(images).__name__}")
    shape = tuple(images.shape)
    if len(shape) == 4 and shape[-1] == 3:
        return images
    if len(shape) == 3 and shape[-1] != 3:
        return images
    if len(shape) == 3:
        raise ValueError(f"ambiguous shape {shape}: one RGB image or a batch of grayscale "
                         f"images 3 pixels wide; pass image[None] for one RGB image")
    raise ValueError(f"images must be (N, H, W, 3) RGB or (N, H, W) grayscale, got shape "
                     f"{shape}" + ("; pass image[None] for a single image"
                                   if len(shape) == 2 else ""))


def _check_single(image):
    """Validate one image of a list: (H, W, 3) or (H, W) uint8; return it with a batch axis."""
    if not (_is_tensor(image) or isinstance(image, np.ndarray)):
        raise TypeError(f"list items must be numpy arrays or torch tensors, "
                        f"got {type(image).__name__}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"list items must be single images (H, W, 3) or (H, W), "
                         f"got shape {tuple(image.shape)}")
    return _check_batch(image[None])


def _per_size(kernel: Callable, images: Sequence, dtype, **params) -> np.ndarray:
    """Run ``kernel`` on a list of images grouped by (type, shape, device); keep the order."""
    groups: dict[tuple, list[int]] = {}
    batches = [_check_single(image) for image in images]
    for i, batch in enumerate(batches):
        device = str(batch.device) if _is_tensor(batch) else "numpy"
        groups.setdefault((device, tuple(batch.shape)), []).append(i)
    out = np.empty(len(batches), dtype=dtype)
    for (device, _), members in groups.items():
        parts = [batches[i] for i in members]
        stacked = np.concatenate(parts) if device == "numpy" else _torch().cat(parts)
        out[members] = kernel(stacked, **params)
    return out


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_definition(definition) -> str:
    if not isinstance(definition, str):
        raise TypeError(f"definition must be a str, one of {DEFINITIONS}, got {definition!r}")
    if definition not in DEFINITIONS:
        raise ValueError(f"definition must be one of {DEFINITIONS}, got {definition!r}")
    return definition


def _to_numpy(images) -> np.ndarray:
    return images.detach().cpu().numpy() if _is_tensor(images) else images


# --------------------------------------------------------------------------- grayscale
def grayscale(images):
    """8-bit luma of RGB images (MATLAB ``rgb2gray`` weights, rounded half up).

    ``gray = floor(0.2989 R + 0.5870 G + 0.1140 B + 0.5)``, evaluated exactly in integers as
    ``(2989 R + 5870 G + 1140 B + 5000) // 10000`` so that no floating-point tie can round
    either way. Grayscale input is returned unchanged.

    Parameters
    ----------
    images : ndarray or torch.Tensor, uint8, (N, H, W, 3) or (N, H, W)
        A batch of images (a list of images of different sizes is not accepted here).

    Returns
    -------
    ndarray or torch.Tensor, uint8, (N, H, W)
        Same type (and device) as the input.

    References
    ----------
    .. [1] ITU-R Recommendation BT.601 luma weights as used by MATLAB ``rgb2gray``.
    """
    images = _check_batch(images)
    if images.ndim == 3:
        return images
    r, g, b = _LUMA
    if _is_tensor(images):
        x = images.to(_torch().int32)
        luma = r * x[..., 0] + g * x[..., 1] + b * x[..., 2] + _LUMA_DENOMINATOR // 2
        return (luma // _LUMA_DENOMINATOR).to(_torch().uint8)
    return _luma(np.ascontiguousarray(images))


@numba.njit(cache=True, parallel=True)
def _luma(images: np.ndarray) -> np.ndarray:
    # Compiled: NumPy's int32 floor division and strided channel access cost ~15 ns a pixel.
    r, g, b = _LUMA
    half, denominator = _LUMA_DENOMINATOR // 2, _LUMA_DENOMINATOR
    n_img, height, width, _ = images.shape
    out = np.empty((n_img, height, width), dtype=np.uint8)
    for i in numba.prange(n_img):
        for y in range(height):
            for x in range(width):
                luma = (r * np.int32(images[i, y, x, 0]) + g * np.int32(images[i, y, x, 1])
                        + b * np.int32(images[i, y, x, 2]) + half)
                out[i, y, x] = luma // denominator
    return out


def grayscale_float(images):
    """Unrounded luma of RGB images in float64, as the paper's code computes it.

    ``gray = 0.2989 R + 0.5870 G + 0.1140 B`` on the 0..255 scale, evaluated in float64
    left to right, ``(0.2989 * R + 0.5870 * G) + 0.1140 * B``, each operation rounded once
    (IEEE 754), and *not* rounded to 8 bits. Two pixels get the same value exactly when this
    expression rounds to the same double: always for the same (R, G, B); for different
    colours of equal exact luma only sometimes (the 2**24 colours have 2,282,894 distinct
    exact lumas and 4,358,677 distinct doubles). Grayscale input is returned as float64,
    unchanged in value.

    The paper's entropy code receives ``ToTensor`` floats in [0, 1], multiplies them by 255
    and casts to uint8 (an exact round trip for all 256 levels), then applies these weights
    to the uint8 array, which NumPy evaluates in float64 exactly as here. Its DCT code
    applies the same weights to the [0, 1] float32 tensor; see
    :func:`dct_coefficient_share`.

    Parameters
    ----------
    images : ndarray or torch.Tensor, uint8, (N, H, W, 3) or (N, H, W)
        A batch of images (a list of images of different sizes is not accepted here).

    Returns
    -------
    ndarray or torch.Tensor, float64, (N, H, W)
        Same type (and device) as the input; values in [0, 255].

    References
    ----------
    .. [1] ITU-R Recommendation BT.601 luma weights as used by MATLAB ``rgb2gray``.
    .. [2] Pliushch et al., When deep classifiers agree, 2021; code: ``img_entropy`` in
           ``lib/dataset_metrics.py`` of ccc-frankfurt/intrinsic_ordering_nn_training.
    """
    images = _check_batch(images)
    tensor = _is_tensor(images)
    if images.ndim == 3:
        return images.to(_torch().float64) if tensor else images.astype(np.float64)
    wr, wg, wb = _LUMA_FLOAT
    # One channel at a time (float64 planes, not the whole 4-D array); Python evaluates
    # the sum left to right, as the paper's expression.
    r, g, b = ((images[..., k].to(_torch().float64) if tensor
                else images[..., k].astype(np.float64)) for k in range(3))
    return wr * r + wg * g + wb * b


# --------------------------------------------------------------------------- entropy
def _entropy_terms(n: int) -> list[float]:
    """``e[c] = -(c/n) log2(c/n) = (c/n) log2(n/c)`` for c = 0..n (e[0] = 0, e[n] = 0)."""
    return [0.0] + [(c / n) * math.log2(n / c) for c in range(1, n + 1)]


def _entropy_from_count_histogram(m: np.ndarray, n: int, positions: int) -> np.ndarray:
    """Mean window entropy from ``m[i, c]``, the number of (window, value) pairs of count c.

    ``sum_windows H_w = sum_c m_c e_c``; the sum is taken with :func:`math.fsum` (exactly
    rounded) so that the value does not depend on the order of summation. Entry 0 of ``m``
    is not used (``e[0] = 0``).
    """
    terms = _entropy_terms(n)
    out = np.empty(len(m), dtype=np.float64)
    for i, row in enumerate(m.tolist()):
        out[i] = math.fsum(count * term for count, term in zip(row, terms, strict=True))
        out[i] /= positions
    return out


@numba.njit(cache=True, parallel=True)
def _distinct_value_labels(gray: np.ndarray) -> np.ndarray:
    """Per image, each pixel's rank among the image's distinct values (0, 1, ...), int32.

    Two pixels get the same label exactly when their float64 values compare equal, the
    equality ``np.unique`` uses. Compiled: one argsort per image, one image per thread.
    """
    n_img, height, width = gray.shape
    out = np.empty((n_img, height, width), dtype=np.int32)
    for i in numba.prange(n_img):
        flat = gray[i].copy().reshape(height * width)
        order = np.argsort(flat)
        label = 0
        previous = flat[order[0]]
        for k in range(height * width):
            index = order[k]
            value = flat[index]
            if value != previous:
                label += 1
                previous = value
            out[i, index // width, index % width] = label
    return out


@numba.njit(cache=True, parallel=True)
def _window_count_histogram(levels: np.ndarray, window: int, n_levels: int) -> np.ndarray:
    """``m[i, c]``: over all windows of image i, the number of levels with count c.

    ``levels`` holds integer levels in ``[0, n_levels)`` (8-bit gray, or the labels of
    :func:`_distinct_value_labels`). Compiled with numba, one image per thread. Each window
    row is swept left to right, keeping the level counts of the current window; when a
    level's count changes from c to c', the state "count c" ends and "count c'" begins, and
    both are booked with the number of windows of the row still to come (``m[c] -= w``,
    ``m[c'] += w``), so that ``m`` ends as an exact integer sum over windows (entry 0 is not
    used). At the end of a row the last window's pixels are taken out again, so that resetting
    the counts costs ``window**2``, not ``n_levels``.
    """
    n_img, height, width = levels.shape
    rows_out, cols_out = height - window + 1, width - window + 1
    out = np.zeros((n_img, window * window + 1), dtype=np.int64)
    for i in numba.prange(n_img):
        counts = np.zeros(n_levels, dtype=np.int32)
        m = out[i]
        for r in range(rows_out):
            for y in range(r, r + window):  # the first window: present in all cols_out
                for x in range(window):
                    level = levels[i, y, x]
                    c = counts[level]
                    m[c] -= cols_out
                    m[c + 1] += cols_out
                    counts[level] = c + 1
            for j in range(cols_out - 1):  # slide from window j to j + 1
                remaining = cols_out - 1 - j
                for y in range(r, r + window):
                    level = levels[i, y, j]
                    c = counts[level]
                    m[c] -= remaining
                    m[c - 1] += remaining
                    counts[level] = c - 1
                    level = levels[i, y, j + window]
                    c = counts[level]
                    m[c] -= remaining
                    m[c + 1] += remaining
                    counts[level] = c + 1
            for y in range(r, r + window):  # empty the counts for the next row
                for x in range(cols_out - 1, cols_out - 1 + window):
                    counts[levels[i, y, x]] -= 1
    return out


def _window_count_histogram_torch(gray, window: int) -> np.ndarray:
    """:func:`_window_count_histogram` of 8-bit gray with a box filter over one-hot levels."""
    torch = _torch()
    n_img, height, width = gray.shape
    n = window * window
    levels = torch.nn.functional.one_hot(gray.long(), 256).to(torch.int32)
    integral = torch.zeros((n_img, height + 1, width + 1, 256), dtype=torch.int32,
                           device=gray.device)
    integral[:, 1:, 1:] = levels.cumsum(1, dtype=torch.int32).cumsum(2, dtype=torch.int32)
    w = window
    counts = (integral[:, w:, w:] - integral[:, :-w, w:] - integral[:, w:, :-w]
              + integral[:, :-w, :-w])
    image = torch.arange(n_img, device=gray.device).view(-1, 1, 1, 1)
    keys = (image * (n + 1) + counts).reshape(-1)
    m = torch.bincount(keys, minlength=n_img * (n + 1)).reshape(n_img, n + 1)
    return m.cpu().numpy()


def _window_count_histogram_sorted_torch(gray, window: int, budget: int = 2**24) -> np.ndarray:
    """:func:`_window_count_histogram` of any values (float luma), by sorting each window.

    Each window's ``window**2`` values are sorted; a run of equal values of length c is one
    value with count c (the equality ``np.unique`` uses). Blocks of images, and of window rows
    within an image, hold at most ``budget`` values.
    """
    torch = _torch()
    n_img, height, width = gray.shape
    n = window * window
    rows_out, cols_out = height - window + 1, width - window + 1
    windows = gray.unfold(1, window, 1).unfold(2, window, 1)  # a view (N, R, C, w, w)
    per_image = max(1, budget // (rows_out * cols_out * n))
    rows_per_block = rows_out if per_image > 1 else max(1, budget // (cols_out * n))
    index = torch.arange(n, device=gray.device)
    m = torch.zeros((n_img, n + 1), dtype=torch.int64, device=gray.device)
    for a in range(0, n_img, per_image):
        b = min(a + per_image, n_img)
        image = torch.arange(b - a, device=gray.device).view(-1, 1, 1)
        for r in range(0, rows_out, rows_per_block):
            block = windows[a:b, r:r + rows_per_block].reshape(b - a, -1, n)
            ordered = torch.sort(block, dim=-1).values
            change = ordered[..., 1:] != ordered[..., :-1]
            edge = torch.ones_like(change[..., :1])
            starts = torch.cat([edge, change], dim=-1)
            ends = torch.cat([change, edge], dim=-1)
            first = torch.cummax(torch.where(starts, index, 0), dim=-1).values
            keys = image * (n + 1) + (index - first + 1)  # run length at each run's end
            m[a:b] += torch.bincount(keys[ends], minlength=(b - a) * (n + 1)).view(b - a, -1)
    return m.cpu().numpy()


def mean_windowed_entropy(images, window: int = 10, definition: str = "paper") -> np.ndarray:
    """Mean Shannon entropy (bits) of the gray values in every ``window`` x ``window`` window.

    For every valid window position (no padding: ``P = (H - window + 1) * (W - window + 1)``
    positions) take the counts ``c_v`` of each distinct gray value v among its
    ``n = window**2`` pixels and its entropy ``H_w = -sum_v (c_v/n) log2(c_v/n)``; return
    the mean of ``H_w`` over positions. The gray image depends on ``definition``:

    - ``"paper"`` (default): the unrounded float64 luma ``0.2989 R + 0.5870 G + 0.1140 B``
      (:func:`grayscale_float`), values compared for exact equality, as the paper's code
      does (``np.unique`` per window of the float image). Nearly every distinct colour is a
      distinct value, so windows hold up to 100 values and the entropy reaches
      ``log2(100) = 6.64`` bits (about 6.5 on CIFAR-10, the paper's figure).
    - ``"8bit"``: the 8-bit luma (:func:`grayscale`, rounded half up): at most 256 levels,
      and colours of nearly equal brightness share a level, so values are lower and rank
      images differently (first 1,000 CIFAR-10 train images: mean 5.67 against 6.51,
      Spearman 0.63; first 100 test images: up to 1.6 bits lower, Spearman 0.60).

    Computed exactly as ``fsum_c(m_c * e_c) / P`` where ``m_c`` is the number of
    (window, value) pairs with count c over the whole image (an integer) and
    ``e_c = (c/n) * log2(n/c)`` (float64, ``math.log2``); ``fsum`` rounds the sum once.
    The value therefore depends only on the integer counts, and a constant image gives
    exactly 0, a 0/255 checkerboard with an even window exactly 1. The paper's code takes
    ``np.mean`` of the per-window ``-np.sum(p * np.log2(p))``, which differs from this by
    float rounding only (relative 1e-15).

    Parameters
    ----------
    images : ndarray, torch.Tensor or list
        uint8 (N, H, W, 3) or (N, H, W), 0..255; see the module docstring.
    window : int, default 10
        Side of the square window; 1 <= window <= min(H, W).
    definition : {"paper", "8bit"}, default "paper"
        Unrounded float luma (the paper's code) or 8-bit luma.

    Returns
    -------
    ndarray, float64, (N,)

    References
    ----------
    .. [1] Shannon, C. E. A mathematical theory of communication. Bell Syst. Tech. J., 1948.
    .. [2] Pliushch et al., When deep classifiers agree, 2021, App. C; code: ``img_entropy``
           in ``lib/dataset_metrics.py`` of ccc-frankfurt/intrinsic_ordering_nn_training.
    """
    window = _check_int("window", window, 1)
    definition = _check_definition(definition)
    if _is_image_list(images):
        return _per_size(mean_windowed_entropy, images, np.float64, window=window,
                         definition=definition)
    images = _check_batch(images)
    n_img, height, width = images.shape[:3]
    if window > min(height, width):
        raise ValueError(f"window {window} is larger than the images ({height}x{width})")
    n, positions = window * window, (height - window + 1) * (width - window + 1)
    if n_img == 0:
        return np.empty(0, dtype=np.float64)
    # Float luma is 8 bytes a pixel: convert a chunk of about 2**22 pixels at a time.
    chunk = max(1, 2**22 // (height * width)) if definition == "paper" else n_img
    parts = []
    for start in range(0, n_img, chunk):
        batch = images[start:start + chunk]
        if definition == "8bit":
            gray = grayscale(batch)
            if _is_tensor(gray):
                # 256 int32 planes per image: bound the block to ~2**27 elements.
                block = max(1, 2**27 // (256 * (height + 1) * (width + 1)))
                parts += [_window_count_histogram_torch(gray[s:s + block], window)
                          for s in range(0, len(gray), block)]
            else:
                parts.append(_window_count_histogram(np.ascontiguousarray(gray), window, 256))
        else:
            gray = grayscale_float(batch)
            if _is_tensor(gray):
                parts.append(_window_count_histogram_sorted_torch(gray, window))
            else:
                labels = _distinct_value_labels(np.ascontiguousarray(gray))
                parts.append(_window_count_histogram(labels, window, height * width))
    return _entropy_from_count_histogram(np.concatenate(parts), n, positions)


# --------------------------------------------------------------------------- DCT
def _dct_matrix(size: int, device, dtype):
    """Orthonormal DCT-II basis ``D[k, x] = s_k cos(pi (2x + 1) k / (2 size))``."""
    torch = _torch()
    k = torch.arange(size, dtype=dtype, device=device).view(-1, 1)
    x = torch.arange(size, dtype=dtype, device=device).view(1, -1)
    basis = torch.cos(math.pi * (2 * x + 1) * k / (2 * size))
    basis[0] *= math.sqrt(1 / size)
    basis[1:] *= math.sqrt(2 / size)
    return basis


def _dct_gray(images, definition: str):
    """The gray image the DCT statistics transform: float luma (paper) or 8-bit luma."""
    return grayscale_float(images) if definition == "paper" else grayscale(images)


def _dct_coefficients(gray):
    """Orthonormal 2-D DCT-II of (N, H, W) gray images, flattened to (N, H * W) float64.

    NumPy: ``scipy.fft.dctn(norm="ortho")`` over the two image axes. Tensors: on their
    device as ``D_H X D_W^T`` with DCT-II basis matrices in float64.
    """
    n_img, height, width = gray.shape
    if _is_tensor(gray):
        torch = _torch()
        x = gray.to(torch.float64)
        rows = _dct_matrix(height, gray.device, torch.float64)
        cols = _dct_matrix(width, gray.device, torch.float64)
        return (rows @ x @ cols.T).reshape(n_img, -1)
    coefficients = scipy.fft.dctn(gray.astype(np.float64, copy=False), norm="ortho",
                                  axes=(1, 2))
    return coefficients.reshape(n_img, -1)


def _count_from_sorted_squares(cumulative, threshold: float):
    """The first c with sqrt(cumsum[c-1]) >= threshold * sqrt(total); total = cumsum[-1]."""
    if _is_tensor(cumulative):
        torch = _torch()
        reached = torch.sqrt(cumulative) >= threshold * torch.sqrt(cumulative[:, -1:])
        return (reached.to(torch.uint8).argmax(dim=1) + 1).cpu().numpy()
    reached = np.sqrt(cumulative) >= threshold * np.sqrt(cumulative[:, -1:])
    return reached.argmax(axis=1) + 1


#: What the DCT share reports of the count c that reaches the threshold: c - offset.
_DCT_COUNT_OFFSET = {"paper": 1, "8bit": 0}


def dct_coefficient_share(images, threshold: float = 0.9998, definition: str = "paper"
                          ) -> np.ndarray:
    """Percentage of 2-D DCT coefficients that hold ``threshold`` of the coefficient norm.

    Take the orthonormal 2-D DCT-II of the gray image, sort the absolute coefficients in
    descending order, let ``S_c`` be the running sum of their squares (accumulated in that
    order; the total is ``S_{H*W}``) and let c be the smallest count with
    ``sqrt(S_c) >= threshold * sqrt(S_{H*W})``. By ``definition``:

    - ``"paper"`` (default), as the paper's code: the gray image is the unrounded luma
      (:func:`grayscale_float`), and the value is ``100 * (c - 1) / (H * W)``: the code
      counts c in a ``while`` loop and then subtracts one ("because else for 1 coeffs it
      would be 2/size"), so it reports one coefficient fewer than reach the threshold. A
      constant (or all-zero) image gives 0.
    - ``"8bit"``: the 8-bit luma (:func:`grayscale`) and ``100 * c / (H * W)``, the
      coefficients that do reach the threshold. A constant (or all-zero) image gives
      ``100 / (H * W)``, its DC term (for all-zero, ``0 >= 0`` holds at c = 1).

    The paper's code transforms ``ToTensor`` floats in [0, 1] in float32 (torch); this
    kernel transforms the 0..255 luma in float64. The count does not depend on the scale;
    float32 rounding can move the paper's c by one where the norm ratio passes the threshold
    within ~1e-7 (measured: see ``docs/statistics.md``).

    A norm ratio of 0.9998 is ``0.9998**2 = 99.96 %`` of the energy, whereas the paper's text
    says 99.98 % of the energy; the default follows the paper's code (norm ratio). For 99.98 %
    of the energy pass ``threshold=math.sqrt(0.9998)``.

    Parameters
    ----------
    images : ndarray, torch.Tensor or list
        uint8 (N, H, W, 3) or (N, H, W), 0..255; see the module docstring. Tensors are
        transformed on their device as ``D_H X D_W^T`` with DCT-II basis matrices in float64.
    threshold : float, default 0.9998
        Norm ratio in (0, 1].
    definition : {"paper", "8bit"}, default "paper"
        Unrounded float luma and c - 1 (the paper's code), or 8-bit luma and c.

    Returns
    -------
    ndarray, float64, (N,)
        Percent, in ``[0, 100 - 100 / (H * W)]`` ("paper") or ``[100 / (H * W), 100]``
        ("8bit").

    References
    ----------
    .. [1] Ahmed, N., Natarajan, T., Rao, K. R. Discrete cosine transform. IEEE Trans.
           Computers, 1974.
    .. [2] Pliushch et al., When deep classifiers agree, 2021, App. C; code: ``img_frequency``
           in ``lib/dataset_metrics.py`` of ccc-frankfurt/intrinsic_ordering_nn_training.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise TypeError(f"threshold must be a float, got {threshold!r}")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    threshold = float(threshold)
    definition = _check_definition(definition)
    if _is_image_list(images):
        return _per_size(dct_coefficient_share, images, np.float64, threshold=threshold,
                         definition=definition)
    gray = _dct_gray(images, definition)
    height, width = gray.shape[1:]
    coefficients = _dct_coefficients(gray)
    if _is_tensor(gray):
        torch = _torch()
        ordered = torch.sort(coefficients.abs(), dim=1, descending=True).values
        count = _count_from_sorted_squares(torch.cumsum(ordered * ordered, dim=1), threshold)
    else:
        # Ascending sort of -|coef| is a descending sort of |coef|; ties do not matter
        # since equal magnitudes have equal squares.
        ordered = -np.sort(-np.abs(coefficients), axis=1)
        count = _count_from_sorted_squares(np.cumsum(ordered * ordered, axis=1), threshold)
    count = np.asarray(count, dtype=np.float64) - _DCT_COUNT_OFFSET[definition]
    return 100.0 * count / (height * width)


def dct_largest_coefficient(images, definition: str = "paper") -> np.ndarray:
    """Largest absolute 2-D DCT coefficient of the gray image on the [0, 1] scale.

    ``max |DCT(g)| / 255``, with DCT the orthonormal 2-D DCT-II and g the gray image on the
    0..255 scale: the unrounded luma (:func:`grayscale_float`, ``definition="paper"``) or the
    8-bit luma (:func:`grayscale`, ``"8bit"``). The paper's code records this as its second
    DCT value (``freq_biggest_coeff``, the first of the sorted ``|coefficients|``), computed
    on ``ToTensor`` floats in [0, 1] in float32; dividing by 255 puts this kernel on the same
    scale (equal up to float32 rounding, relative ~1e-7). For natural images it is usually
    the DC term, ``sqrt(H * W)`` times the mean gray value in [0, 1]: it grows with the
    image size. An all-zero image gives 0.

    Parameters
    ----------
    images : ndarray, torch.Tensor or list
        uint8 (N, H, W, 3) or (N, H, W), 0..255; see the module docstring.
    definition : {"paper", "8bit"}, default "paper"
        Unrounded float luma (the paper's code) or 8-bit luma.

    Returns
    -------
    ndarray, float64, (N,)
        At most ``sqrt(H * W)`` (a white image).

    References
    ----------
    .. [1] Ahmed, N., Natarajan, T., Rao, K. R. Discrete cosine transform. IEEE Trans.
           Computers, 1974.
    .. [2] Pliushch et al., When deep classifiers agree, 2021; code: ``img_frequency`` in
           ``lib/dataset_metrics.py`` of ccc-frankfurt/intrinsic_ordering_nn_training.
    """
    definition = _check_definition(definition)
    if _is_image_list(images):
        return _per_size(dct_largest_coefficient, images, np.float64, definition=definition)
    gray = _dct_gray(images, definition)
    if len(gray) == 0:
        return np.empty(0, dtype=np.float64)
    coefficients = _dct_coefficients(gray)
    if _is_tensor(gray):
        return (coefficients.abs().amax(dim=1) / 255.0).cpu().numpy()
    return np.abs(coefficients).max(axis=1) / 255.0


# --------------------------------------------------------------------------- segments
def felzenszwalb_segments(image: np.ndarray, sigma: float, k: float, min_size: int
                          ) -> np.ndarray:
    """Segment labels of one uint8 RGB (H, W, 3) or grayscale (H, W) image (see segment_count)."""
    from skimage.segmentation import felzenszwalb

    return felzenszwalb(image, scale=k, sigma=sigma, min_size=min_size,
                        channel_axis=-1 if image.ndim == 3 else None)


def _segment_counts(images: np.ndarray, sigma: float, k: float, min_size: int) -> np.ndarray:
    return np.array([len(np.unique(felzenszwalb_segments(image, sigma, k, min_size)))
                     for image in images], dtype=np.int64)


def segment_count(images, sigma: float = 0.5, k: float = 500, min_size: int = 20,
                  workers: int = 1) -> np.ndarray:
    """Number of Felzenszwalb-Huttenlocher graph segments of each image.

    Calls ``skimage.segmentation.felzenszwalb(image, scale=k, sigma=sigma,
    min_size=min_size)`` on the RGB (or grayscale) uint8 image and counts distinct labels.

    Relation to the reference program (Felzenszwalb's ``segment sigma k min``,
    segment-image.h / segment-graph.h), as read from scikit-image 0.26's source:

    - ``k``: skimage converts the image to float in [0, 1] and divides ``scale`` by 255, so
      ``k=500`` sets the same threshold ``tau(C) = k / |C|`` as the reference on 0..255.
    - ``sigma``: both smooth each channel with a Gaussian of radius 2 for sigma=0.5
      (reference: ``ceil(4 sigma) + 1`` taps; skimage: ``truncate=4``). Borders differ: the
      reference clamps (repeats the edge pixel), skimage reflects (``mode="reflect"``).
    - ``min_size``: the same post-processing, merging across edges in weight order any
      component smaller than ``min_size``.
    - Colour: skimage builds one 8-connected graph with Euclidean RGB distances as edge
      weights. The released reference code does the same (``diff`` in segment-image.h);
      the paper's text (Sec. 4) instead describes segmenting R, G and B separately and
      intersecting the three segmentations, which neither implementation does.
    - Merge test: skimage merges when ``w < min(Int + tau)``, the reference when
      ``w <= ...`` (ties; rare on smoothed float images); edge sorting tie order also
      differs. Counts can therefore differ slightly from the C++ program.

    A constant image gives one segment.

    Parameters
    ----------
    images : ndarray, torch.Tensor or list
        uint8 (N, H, W, 3) or (N, H, W); see the module docstring (tensors go to the CPU).
    sigma : float, default 0.5
        Gaussian smoothing before segmentation (reference default 0.5).
    k : float, default 500
        Threshold constant on the 0..255 scale (skimage's ``scale``).
    min_size : int, default 20
        Minimum component size in pixels.
    workers : int, default 1
        Processes; with ``workers > 1`` the images are split over a process pool.

    Returns
    -------
    ndarray, int64, (N,)

    References
    ----------
    .. [1] Felzenszwalb, P. F., Huttenlocher, D. P. Efficient graph-based image
           segmentation. IJCV 59(2), 2004.
    """
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if not k > 0:
        raise ValueError(f"k must be > 0, got {k}")
    min_size = _check_int("min_size", min_size, 0)
    workers = _check_int("workers", workers, 1)
    params = {"sigma": float(sigma), "k": float(k), "min_size": min_size}
    if _is_image_list(images):
        return _per_size(segment_count, images, np.int64, workers=workers, **params)
    images = _to_numpy(_check_batch(images))
    if workers == 1 or len(images) < 2:
        return _segment_counts(images, **params)
    import multiprocessing

    # forkserver/spawn: forking a process that runs torch threads is unsafe.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    chunks = np.array_split(images, min(len(images), 4 * workers))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        parts = list(pool.map(functools.partial(_segment_counts, **params), chunks))
    return np.concatenate(parts)


# --------------------------------------------------------------------------- Sobel
def sobel_edge_strength(images) -> np.ndarray:
    """Sum of the Sobel gradient magnitude over the image (a gradient-magnitude edge sum).

    On the grayscale image scaled to [0, 1] (``gray / 255``), with the unnormalised 3x3 Sobel
    kernels ``Kx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]`` (correlation; ``Ky = Kx.T``), the
    magnitude at interior pixel p is ``sqrt(gx(p)**2 + gy(p)**2)``; return its sum over the
    ``(H - 2) * (W - 2)`` interior pixels (valid positions only, no padding, so H, W >= 3).
    Gradients are computed on the integer image and divided by 255 once.

    This is *not* the crisp-boundary edge strength of Isola et al. (2014) used by the paper;
    see ``crisp_boundary_strength`` in :mod:`agreement_core.statistics.crisp`.

    Parameters
    ----------
    images : ndarray, torch.Tensor or list
        uint8 (N, H, W, 3) or (N, H, W); see the module docstring.

    Returns
    -------
    ndarray, float64, (N,)

    References
    ----------
    .. [1] Sobel, I., Feldman, G. A 3x3 isotropic gradient operator for image processing,
           1968 (in Duda & Hart, Pattern Classification and Scene Analysis, 1973).
    """
    if _is_image_list(images):
        return _per_size(sobel_edge_strength, images, np.float64)
    gray = grayscale(images)
    if min(gray.shape[1:]) < 3:
        raise ValueError(f"images must be at least 3x3 for the Sobel kernel, got "
                         f"{tuple(gray.shape[1:])}")
    tensor = _is_tensor(gray)
    squared = sobel_squared(gray.to(_torch().int32) if tensor else gray.astype(np.int32))
    if tensor:
        magnitude = _torch().sqrt(squared.to(_torch().float64)) / 255.0
        return magnitude.sum(dim=(1, 2)).cpu().numpy()
    return (np.sqrt(squared.astype(np.float64)) / 255.0).sum(axis=(1, 2))


def sobel_squared(x):
    """Squared Sobel gradient magnitude ``gx**2 + gy**2`` of int32 (N, H, W) images, (N, H-2, W-2).

    Exact in int32 (NumPy array or torch tensor). Separable: a central difference along one
    axis and [1, 2, 1] smoothing along the other.
    """
    gx = x[:, :, 2:] - x[:, :, :-2]
    gx = gx[:, :-2] + 2 * gx[:, 1:-1] + gx[:, 2:]
    gy = x[:, 2:, :] - x[:, :-2, :]
    gy = gy[:, :, :-2] + 2 * gy[:, :, 1:-1] + gy[:, :, 2:]
    return gx * gx + gy * gy


# --------------------------------------------------------------------------- resize
def resize_images(images, size: int = 128) -> np.ndarray:
    """Resize every image to ``size`` x ``size`` with PIL's bilinear filter.

    ``PIL.Image.resize((size, size), Image.Resampling.BILINEAR)`` per image: a triangle
    filter whose support widens with the downscaling factor (antialiased), on uint8 with
    rounding; the aspect ratio is not kept. The paper computes entropy and the DCT share of
    ImageNet images at 128x128.

    Parameters
    ----------
    images : ndarray, torch.Tensor or list
        uint8 (N, H, W, 3) or (N, H, W), or a list of images of different sizes.
    size : int, default 128
        Output side in pixels.

    Returns
    -------
    ndarray, uint8, (N, size, size, 3) (or (N, size, size) for grayscale input)
    """
    from PIL import Image

    size = _check_int("size", size, 1)
    if _is_image_list(images):
        batches = [_to_numpy(_check_single(image)) for image in images]
        if len({b.ndim for b in batches}) > 1:
            raise ValueError("a list of images must be all RGB or all grayscale")
    else:
        batches = list(_to_numpy(_check_batch(images)))
        batches = [b[None] for b in batches]
    if not batches:
        return np.empty((0, size, size, 3), dtype=np.uint8)
    resized = [np.asarray(Image.fromarray(b[0]).resize((size, size),
                                                       Image.Resampling.BILINEAR))
               for b in batches]
    return np.stack(resized)


KERNELS: dict[str, Callable[..., np.ndarray]] = {
    "entropy": mean_windowed_entropy,
    "dct_share": dct_coefficient_share,
    "dct_largest": dct_largest_coefficient,
    "segments": segment_count,
    "sobel_edges": sobel_edge_strength,
}

#: The parameters that define each kernel's values (keyword arguments, for table metadata).
DEFAULT_PARAMETERS: dict[str, dict[str, object]] = {
    "entropy": {"window": 10, "definition": "paper"},
    "dct_share": {"threshold": 0.9998, "definition": "paper"},
    "dct_largest": {"definition": "paper"},
    "segments": {"sigma": 0.5, "k": 500, "min_size": 20},
    "sobel_edges": {},
}

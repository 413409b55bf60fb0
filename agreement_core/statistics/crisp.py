"""Crisp-boundary edge strength after Isola, Zoran, Krishnan & Adelson (ECCV 2014).

Single-scale re-implementation of the boundary detector of

    P. Isola, D. Zoran, D. Krishnan, E. H. Adelson, "Crisp Boundary Detection Using
    Pointwise Mutual Information", ECCV 2014 (MATLAB code: ``phillipi/crisp-boundaries``).

The image statistic is the *sum of the (unthinned) boundary strength map* ``E``.
The pipeline per image and feature set (``"color"``: L*a*b*, ``"var"``: local
standard deviation) is

1. features: 3 channels, principal-component scores, jointly min-max scaled to [0, 1];
2. sample pixel pairs ``(A, B)`` at distance ~2-4 px exactly as the original ``sampleF``;
3. symmetric Gaussian kernel density estimate of ``P(A, B)`` (6-D, isotropic bandwidth)
   and its marginal; ``PMI_rho = log((P(A,B) + reg)^rho / (P(A) P(B) + reg))``;
4. affinity ``W_ij = exp(sum over feature sets of PMI_rho(f_i, f_j))`` for all pixel
   pairs within Euclidean distance ``radius``;
5. generalized eigenproblem ``(D - W) v = lambda D v``; every non-trivial eigenvector
   is min-max scaled to [0, 1], divided by ``sqrt(lambda)`` and filtered with 8
   oriented first-derivative-of-Gaussian filters (gPb ``spectralPb``); ``|response|``
   summed over eigenvectors gives ``E_oriented``; image-border suppression as the
   original ``borderSuppress``; ``E = max`` over orientations.

``docs/crisp_boundaries.md`` lists every difference from the MATLAB code and the three
implementations with their measured speed and agreement:

* ``method="dncuts"`` (the default of the public functions): a measured approximation --
  coarser KDE feature bins and eigenvectors by Downsampled Normalized Cuts refined by a
  Rayleigh-Ritz step on the full-resolution graph; ~20-30 times faster than the reference
  at VOC/DTD size, edge sums within ~1 % (median) and a few per cent (largest) of it;
* ``method="exact"``: the definition, computed by the fast path (same values as the
  reference to rounding and ARPACK's tolerance);
* ``*_reference``: the first implementation, kept unchanged as the tests' reference.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import multiprocessing
import os
from collections.abc import Sequence

import numba
import numpy as np
import scipy.linalg
import scipy.ndimage as ndi
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import threadpoolctl
from skimage.color import rgb2lab

__all__ = ["crisp_boundary_map", "crisp_boundary_map_reference", "crisp_boundary_strength",
           "crisp_boundary_strength_parallel", "crisp_boundary_strength_reference"]

_FEATURE_SETS = {"color": ("color",), "var": ("var",), "color+var": ("color", "var")}
#: Images with at most this many pixels use a dense eigensolver.
_DENSE_EIGEN_MAX_PIXELS = 400
#: Upper bound on the number of distinct (binned) feature vectors in the binned KDE.
_MAX_CODES = 2000


# --------------------------------------------------------------------------- features


def _minmax(x: np.ndarray) -> np.ndarray | None:
    """Joint min-max scaling of all channels to [0, 1] (MATLAB ``mat2gray``); None if flat."""
    lo, hi = float(x.min()), float(x.max())
    if not hi - lo > 1e-12 * max(1.0, abs(hi)):
        return None
    return (x - lo) / (hi - lo)


def _pca_scores(x: np.ndarray) -> np.ndarray:
    """Principal-component scores of the pixels (centred, rotated, not whitened)."""
    h, w, c = x.shape
    flat = x.reshape(-1, c)
    flat = flat - flat.mean(axis=0)
    cov = flat.T @ flat / max(len(flat) - 1, 1)
    evals, evecs = np.linalg.eigh(cov)
    evecs = evecs[:, ::-1]
    # deterministic sign: largest-magnitude loading positive
    signs = np.sign(evecs[np.argmax(np.abs(evecs), axis=0), np.arange(c)])
    signs[signs == 0] = 1.0
    return (flat @ (evecs * signs)).reshape(h, w, c)


def _local_std(x: np.ndarray) -> np.ndarray:
    """Unbiased standard deviation over the 5-pixel cross (``strel('disk', 1, 0)``)."""
    cross = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
    n = cross.sum()
    out = np.empty_like(x)
    for c in range(x.shape[2]):
        ch = x[..., c]
        s1 = ndi.correlate(ch, cross.astype(float), mode="reflect")
        s2 = ndi.correlate(ch * ch, cross.astype(float), mode="reflect")
        out[..., c] = np.sqrt(np.maximum(s2 - s1 * s1 / n, 0.0) / (n - 1))
    return out


def _feature_maps(rgb: np.ndarray, kind: str) -> np.ndarray | None:
    """(H, W, 3) features in [0, 1] for ``kind`` in {"color", "var"}; None when constant."""
    rgb01 = rgb.astype(np.float64) / 255.0
    if kind == "color":
        raw = rgb2lab(rgb01)
    else:  # "var": sqrt of local std of the RGB principal components
        raw = _minmax(np.sqrt(_local_std(_pca_scores(rgb01))))
        if raw is None:
            return None
    return _minmax(_pca_scores(raw))


# ------------------------------------------------------------------- sampling and PMI


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _sample_pairs(shape: tuple[int, int], n_kernels: int, sample_sigma: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pixel pairs for the KDE, as in ``sampleF.m`` (flat indices of both pixels).

    Centres: ``n_kernels`` uniform draws with replacement, duplicates removed. Offset
    ``r = g + g/|g|`` with ``g ~ N(0, sample_sigma I)``, each coordinate capped at
    ``4 sample_sigma + 1``; the pair is ``round(p0 + r), round(p0 - r)``; pairs leaving
    the image are dropped.
    """
    h, w = shape
    centres = np.unique(rng.integers(0, h * w, size=n_kernels))
    p0 = np.stack(np.unravel_index(centres, shape), axis=1).astype(np.float64)
    g = rng.standard_normal((len(p0), 2)) * np.sqrt(sample_sigma)
    norm = np.linalg.norm(g, axis=1, keepdims=True)
    r = g + g / np.where(norm > 0, norm, 1.0)
    r = np.clip(r, -(4 * sample_sigma + 1), 4 * sample_sigma + 1)
    p1 = _round_half_away(p0 + r).astype(np.int64)
    p2 = _round_half_away(p0 - r).astype(np.int64)
    ok = ((p1 >= 0) & (p2 >= 0) & (p1 < [h, w]) & (p2 < [h, w])).all(axis=1)
    return (np.ravel_multi_index(p1[ok].T, shape), np.ravel_multi_index(p2[ok].T, shape))


def _bin_features(feats: np.ndarray, bin_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Group pixels into cubic feature bins; returns (code per pixel, mean feature per code).

    The bin width grows by 25 % until at most ``_MAX_CODES`` bins are occupied.
    """
    while True:
        keys = np.floor(feats / bin_width).astype(np.int64)
        _, code, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
        code = code.ravel()
        if len(counts) <= _MAX_CODES:
            break
        bin_width *= 1.25
    centres = np.stack([np.bincount(code, weights=feats[:, d]) for d in range(feats.shape[1])],
                       axis=1) / counts[:, None]
    return code, centres


def _pmi(feats: np.ndarray, pairs: tuple[np.ndarray, np.ndarray],
         samples: tuple[np.ndarray, np.ndarray], *, bandwidth: float, rho: float,
         p_reg: float) -> np.ndarray:
    """``PMI_rho(f_i, f_j)`` for the pixel pairs ``pairs`` (binned Gaussian KDE)."""
    code, centres = _bin_features(feats, bandwidth / 2)
    m, dim = centres.shape
    sq = np.sum(centres ** 2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * centres @ centres.T, 0.0)
    gram = np.exp(-d2 / (2 * bandwidth ** 2)) / ((2 * np.pi) ** (dim / 2) * bandwidth ** dim)
    ca, cb = code[samples[0]], code[samples[1]]
    n = len(ca)
    # symmetrised kernel weights: each sample (a, b) also counts as (b, a)
    counts = sp.coo_matrix((np.full(2 * n, 0.5 / n), (np.r_[ca, cb], np.r_[cb, ca])),
                           shape=(m, m)).tocsr()
    joint = gram @ (counts @ gram)  # P(A, B) on all pairs of codes, (m, m)
    marginal = gram @ np.asarray(counts.sum(axis=1)).ravel()
    ci, cj = code[pairs[0]], code[pairs[1]]
    p_ab = np.maximum(joint[ci, cj], 0.0)
    return rho * np.log(p_ab + p_reg) - np.log(marginal[ci] * marginal[cj] + p_reg)


def _local_pairs(shape: tuple[int, int], radius: float) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pixel pairs at Euclidean distance in (0, radius] (flat indices)."""
    h, w = shape
    idx = np.arange(h * w).reshape(h, w)
    rr = int(np.floor(radius))
    first, second = [], []
    for dy in range(0, rr + 1):
        for dx in range(-rr, rr + 1):
            if (dy == 0 and dx <= 0) or dy * dy + dx * dx > radius * radius:
                continue
            a = idx[0:h - dy, max(0, -dx):w - max(0, dx)]
            b = idx[dy:h, max(0, dx):w - max(0, -dx)]
            first.append(a.ravel())
            second.append(b.ravel())
    return np.concatenate(first), np.concatenate(second)


# ------------------------------------------------------------ spectral boundaries


def _eigen(w: sp.csr_matrix, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Smallest ``k`` solutions of ``(D - W) v = lambda D v``, ascending."""
    n = w.shape[0]
    deg = np.asarray(w.sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(deg)
    a = sp.diags(inv_sqrt) @ w @ sp.diags(inv_sqrt)  # D^-1/2 W D^-1/2
    if n <= _DENSE_EIGEN_MAX_PIXELS:
        lap = np.eye(n) - a.toarray()
        lam, u = scipy.linalg.eigh(lap, subset_by_index=(0, k - 1))
    else:
        # largest eigenvalues of D^-1/2 W D^-1/2 = 1 - (smallest of the normalized Laplacian)
        v0 = np.random.default_rng(seed).standard_normal(n)
        try:
            mu, u = spla.eigsh(a.tocsr(), k=k, which="LA", v0=v0, tol=1e-6, maxiter=20 * n)
            lam = 1.0 - mu
        except spla.ArpackNoConvergence:  # fall back to shift-invert on the Laplacian
            lap = (sp.identity(n, format="csc") - a).tocsc()
            lu = spla.splu((lap + 1e-3 * sp.identity(n, format="csc")).tocsc(),
                           permc_spec="MMD_AT_PLUS_A")
            op = spla.LinearOperator((n, n), matvec=lu.solve, dtype=np.float64)
            lam, u = spla.eigsh(lap, k=k, sigma=-1e-3, which="LM", v0=v0, OPinv=op)
        order = np.argsort(lam)
        lam, u = lam[order], u[:, order]
    return np.maximum(lam, 0.0), u * inv_sqrt[:, None]


def _derivative_bases(sigma: float, support: float, oversample: int = 10) -> tuple:
    """Pixel-integrated ``x g`` and ``y g`` (g Gaussian) on a (2 hsz + 1)^2 grid."""
    hsz = int(np.ceil(support * sigma))
    sz = 2 * hsz + 1
    fine = (np.arange(sz * oversample) + 0.5) / oversample - (hsz + 0.5)
    fy, fx = np.meshgrid(fine, fine, indexing="ij")
    g = np.exp(-(fx ** 2 + fy ** 2) / (2 * sigma ** 2))

    def integrate(f):
        return f.reshape(sz, oversample, sz, oversample).mean(axis=(1, 3))

    return integrate(fx * g), integrate(fy * g)


def _oriented_filters(sigma: float, support: float, n_orient: int) -> tuple:
    """Unit-L1 oriented first-derivative-of-Gaussian filters (gPb ``oeFilter``), steered.

    Filter ``o`` differentiates along the direction at angle ``theta_o = o pi / n_orient``
    from the image x (column) axis: ``f_o = (cos theta_o X + sin theta_o Y) / L1``, with
    ``X, Y`` the pixel-integrated ``x g, y g``. ``X`` and ``Y`` are antisymmetric, so every
    ``f_o`` already has zero mean. Returns ``X, Y, thetas, [(cx, cy) per orientation]``.
    """
    bx, by = _derivative_bases(sigma, support)
    thetas = np.pi * np.arange(n_orient) / n_orient
    coeffs = []
    for t in thetas:
        l1 = np.abs(np.cos(t) * bx + np.sin(t) * by).sum()
        coeffs.append((np.cos(t) / l1, np.sin(t) / l1))
    return bx, by, thetas, coeffs


def _border_suppressor(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Weights (in [0, 1]) of the original ``borderSuppress`` for vertical/horizontal borders.

    Returns ``(vert, hort)``: ``vert`` is 1 on the left/right border columns and falls
    quadratically to 0 at ``ceil(0.03 H)`` pixels, inside the left/right triangular
    wedges of the image; ``hort`` likewise for the top/bottom wedges.
    """
    h, w = shape
    rad = int(np.ceil(0.03 * h))
    yy, xx = np.meshgrid(np.arange(1, h + 1), np.arange(1, w + 1), indexing="ij")
    aspect = w / h
    m1 = xx > aspect * yy
    m2 = m1[:, ::-1]
    left, top = ~m1 & m2, m1 & m2
    v = np.where(left, np.minimum(((xx - 1) / rad) ** 2, 1.0), 1.0)
    vert = 1.0 - v * v[:, ::-1]
    hh = np.where(top, np.minimum(((yy - 1) / rad) ** 2, 1.0), 1.0)
    hort = 1.0 - hh * hh[::-1, :]
    return vert, hort


# --------------------------------------------------------------------- fast path
#
# The fast path computes the same quantities as the reference path above (kept verbatim in
# ``_boundary_map_reference``) with these changes, none of which changes a value by more
# than rounding:
#
# * feature bins: one int64 key per pixel and a 1-D ``np.unique`` instead of the row-wise
#   ``np.unique(axis=0)``; the keys sort in the same (lexicographic) order, so codes, counts
#   and bin means are identical;
# * joint density: ``P(A, B) = G C G`` is evaluated only at the code pairs that occur among
#   the neighbouring pixel pairs (a sampled dense-dense product over at most ~10 % of the
#   ``m x m`` entries, compiled, inner dimension blocked for the cache), instead of the full
#   ``m x m`` matrix product. Every entry is the same sum in another order (relative
#   difference ~1e-15); the PMI is evaluated once per unordered code pair;
# * the per-orientation filter accumulation is one compiled loop (same arithmetic);
# * the pixel-pair index arrays are built by a compiled loop (identical arrays).
#
# The affinity matrix, its normalisation and the ARPACK call are *the same code* as the
# reference: the eigensolver is iterative (Lanczos, tolerance 1e-6), and any other solver,
# however accurate, differs from the reference by the reference's own convergence error
# (measured: up to ~8e-7 relative on the sum), so it is kept as it is.

#: Inner-dimension block of the sampled matrix product (two (m, 64) float64 panels, 2 MB
#: at m = 2000, stay in the L2/L3 cache while every code pair is visited).
_SDDMM_BLOCK = 64


@numba.njit(cache=True, nogil=True)
def _local_pairs_compiled(h: int, w: int, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = 0
    for o in range(offsets.shape[0]):
        dy, dx = offsets[o, 0], offsets[o, 1]
        total += (h - dy) * (w - abs(dx))
    first = np.empty(total, np.int64)
    second = np.empty(total, np.int64)
    pos = 0
    for o in range(offsets.shape[0]):
        dy, dx = offsets[o, 0], offsets[o, 1]
        x0, x1 = max(0, -dx), w - max(0, dx)
        for y in range(h - dy):
            for x in range(x0, x1):
                first[pos] = y * w + x
                second[pos] = (y + dy) * w + x + dx
                pos += 1
    return first, second


@functools.lru_cache(maxsize=4)
def _local_pairs_fast(shape: tuple[int, int], radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Same arrays, same order as :func:`_local_pairs` (cached per image size; read-only)."""
    rr = int(np.floor(radius))
    offsets = [(dy, dx) for dy in range(0, rr + 1) for dx in range(-rr, rr + 1)
               if not ((dy == 0 and dx <= 0) or dy * dy + dx * dx > radius * radius)]
    first, second = _local_pairs_compiled(shape[0], shape[1], np.array(offsets, np.int64))
    first.flags.writeable = False
    second.flags.writeable = False
    return first, second


def _bin_features_fast(feats: np.ndarray, bin_width: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_bin_features` with one int64 key per pixel (identical codes and means).

    Features lie in [0, 1], so the per-channel bin indices are small non-negative integers;
    the mixed-radix key ``(k0 * b1 + k1) * b2 + k2`` orders pixels exactly as the
    lexicographic row order of ``np.unique(keys, axis=0)``.
    """
    while True:
        keys = np.floor(feats / bin_width).astype(np.int64)
        lo = keys.min(axis=0)
        keys -= lo  # (lexicographic order is unchanged by a per-channel shift)
        base = keys.max(axis=0) + 1
        flat = keys[:, 0]
        for d in range(1, keys.shape[1]):
            flat = flat * base[d] + keys[:, d]
        _, code, counts = np.unique(flat, return_inverse=True, return_counts=True)
        code = code.ravel()
        if len(counts) <= _MAX_CODES:
            break
        bin_width *= 1.25
    centres = np.stack([np.bincount(code, weights=feats[:, d]) for d in range(feats.shape[1])],
                       axis=1) / counts[:, None]
    return code, centres


@numba.njit(cache=True, nogil=True)
def _unique_code_pairs(ci: np.ndarray, cj: np.ndarray, m: int):
    """Unordered code pairs of the pixel pairs: ``(pair_of, lo, hi)``, first-seen order."""
    table = np.full(m * m, -1, np.int32)
    n = ci.size
    pair_of = np.empty(n, np.int32)
    lo = np.empty(n, np.int32)
    hi = np.empty(n, np.int32)
    count = 0
    for p in range(n):
        a, b = ci[p], cj[p]
        if a > b:
            a, b = b, a
        key = a * m + b
        idx = table[key]
        if idx < 0:
            idx = count
            table[key] = idx
            lo[count] = a
            hi[count] = b
            count += 1
        pair_of[p] = idx
    return pair_of, lo[:count].copy(), hi[:count].copy()


@numba.njit(cache=True, nogil=True, fastmath=True)
def _sampled_product(g: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     block: int) -> np.ndarray:
    """``out[p] = sum_s g[lo[p], s] y[s, hi[p]]`` (entries of ``g @ y``), blocked over ``s``."""
    m = g.shape[0]
    n_pairs = lo.size
    out = np.zeros(n_pairs)
    gp = np.empty((m, block))
    yp = np.empty((m, block))
    for s0 in range(0, m, block):
        width = min(block, m - s0)
        for r in range(m):  # pack the panels contiguously: rows of g, columns of y
            for s in range(width):
                gp[r, s] = g[r, s0 + s]
                yp[r, s] = y[s0 + s, r]
        for p in range(n_pairs):
            a, b = lo[p], hi[p]
            acc = 0.0
            for s in range(width):
                acc += gp[a, s] * yp[b, s]
            out[p] += acc
    return out


@numba.njit(cache=True, nogil=True)
def _pmi_of_pairs(joint: np.ndarray, marginal: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  rho: float, p_reg: float) -> np.ndarray:
    out = np.empty(joint.size)
    for p in range(joint.size):
        p_ab = max(joint[p], 0.0)
        out[p] = rho * np.log(p_ab + p_reg) - np.log(marginal[lo[p]] * marginal[hi[p]] + p_reg)
    return out


def _pmi_fast(feats: np.ndarray, pairs: tuple[np.ndarray, np.ndarray],
              samples: tuple[np.ndarray, np.ndarray], *, bandwidth: float, rho: float,
              p_reg: float) -> np.ndarray:
    """:func:`_pmi`, evaluating ``P(A, B)`` only at the code pairs that occur in ``pairs``."""
    code, centres = _bin_features_fast(feats, bandwidth / 2)
    m, dim = centres.shape
    sq = np.sum(centres ** 2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * centres @ centres.T, 0.0)
    gram = np.exp(-d2 / (2 * bandwidth ** 2)) / ((2 * np.pi) ** (dim / 2) * bandwidth ** dim)
    ca, cb = code[samples[0]], code[samples[1]]
    n = len(ca)
    counts = sp.coo_matrix((np.full(2 * n, 0.5 / n), (np.r_[ca, cb], np.r_[cb, ca])),
                           shape=(m, m)).tocsr()
    right = counts @ gram  # C G, (m, m)
    marginal = gram @ np.asarray(counts.sum(axis=1)).ravel()
    code32 = code.astype(np.int32)
    pair_of, lo, hi = _unique_code_pairs(code32[pairs[0]], code32[pairs[1]], m)
    joint = _sampled_product(gram, np.ascontiguousarray(right), lo, hi, _SDDMM_BLOCK)
    return _pmi_of_pairs(joint, marginal, lo, hi, rho, p_reg)[pair_of]


@numba.njit(cache=True, nogil=True)
def _accumulate_oriented(oriented: np.ndarray, rx: np.ndarray, ry: np.ndarray,
                         cx: np.ndarray, cy: np.ndarray) -> None:
    """``oriented[o] += |cx[o] rx + cy[o] ry|`` (the reference's arithmetic, one pass)."""
    n_orient, h, w = oriented.shape
    for o in range(n_orient):
        for i in range(h):
            for j in range(w):
                oriented[o, i, j] += abs(cx[o] * rx[i, j] + cy[o] * ry[i, j])


def _boundary_map(img: np.ndarray, *, features, n_kernels, bandwidth, rho, p_reg,
                  sample_sigma, radius, n_eigenvectors, filter_sigma, n_orientations,
                  border_suppress, seed) -> np.ndarray:
    """Fast path of :func:`_boundary_map_reference` (same values; see the notes above)."""
    h, w = img.shape[:2]
    pairs = _local_pairs_fast((h, w), float(radius))
    pmi = np.zeros(len(pairs[0]))
    used = 0
    rng = np.random.default_rng(seed)
    for kind in _FEATURE_SETS[features]:
        samples = _sample_pairs((h, w), n_kernels, sample_sigma, rng)
        feats = _feature_maps(img, kind)
        if feats is None or len(samples[0]) == 0:
            continue
        pmi += _pmi_fast(feats.reshape(h * w, -1), pairs, samples, bandwidth=bandwidth,
                         rho=rho, p_reg=p_reg)
        used += 1
    if used == 0:
        return np.zeros((h, w))
    weights = np.exp(pmi - pmi.max())
    n = h * w
    aff = sp.coo_matrix((np.r_[weights, weights], (np.r_[pairs[0], pairs[1]],
                                                   np.r_[pairs[1], pairs[0]])),
                        shape=(n, n)).tocsr()
    k = min(int(n_eigenvectors), n - 1)
    lam, vecs = _eigen(aff, k, seed)

    bx, by, thetas, coeffs = _oriented_filters(filter_sigma, 3.0, n_orientations)
    cx = np.array([c[0] for c in coeffs])
    cy = np.array([c[1] for c in coeffs])
    oriented = np.zeros((n_orientations, h, w))
    for v in range(1, k):
        if lam[v] <= 0:
            continue
        vec = vecs[:, v].reshape(h, w)
        lo, hi = vec.min(), vec.max()
        if hi - lo <= 0:
            continue
        vec = (vec - lo) / (hi - lo) / np.sqrt(lam[v])
        rx = ndi.correlate(vec, bx, mode="mirror")
        ry = ndi.correlate(vec, by, mode="mirror")
        _accumulate_oriented(oriented, rx, ry, cx, cy)
    if border_suppress:
        vert, hort = _border_suppressor((h, w))
        for o, t in enumerate(thetas):
            oriented[o] *= 1.0 - np.abs(np.cos(t)) * vert - np.abs(np.sin(t)) * hort
    return oriented.max(axis=0)


# --------------------------------------------------------- approximation (the default)
#
# ``method="dncuts"`` (the default of the public functions) approximates the exact
# definition in two places; features, pair sampling, KDE, PMI, affinities (all pixel pairs
# within ``radius``, full resolution), eigenvector normalisation, filtering and border
# suppression are the exact definition:
#
# * KDE feature bins of width ``dncuts_bin_width * bandwidth`` (default: 1 bandwidth)
#   instead of ``bandwidth / 2``: 4-8 times fewer occupied bins, so ``G C G`` at the
#   occurring code pairs costs ~20-50 times less;
# * the eigenvectors by Downsampled Normalized Cuts (DNCuts: Arbelaez, Pont-Tuset, Barron,
#   Marques, Malik, "Multiscale Combinatorial Grouping", CVPR 2014, as used by the
#   ``speedy`` presets of the crisp-boundaries code): ``dncuts_levels`` times, keep every
#   second pixel in each direction, ``B = D_k^-1 W[:, keep]`` (each pixel's affinities to
#   the kept pixels, normalised to sum 1) and ``W <- W[keep, :] B`` (two-step random walk
#   between kept pixels); solve the small problem (ARPACK, ``n_eigenvectors +
#   _DNCUTS_EXTRA`` vectors); interpolate the vectors back with the ``B`` matrices; then a
#   Rayleigh-Ritz step on the full-resolution problem (``D``-orthonormal basis of the
#   interpolated vectors, projected eigenproblem) gives the eigenvalues and vectors. A large
#   coarsest problem is itself solved one decimation further down, interpolated and
#   smoothed by a Chebyshev filter (``_DNCUTS_SPLIT_NODES``).
#
# The full-resolution affinities are kept as a stencil, ``weight[i, o]`` for pixel ``i``
# and the ``o``-th forward offset of :func:`_forward_offsets` (the order of
# :func:`_local_pairs`), never as a sparse matrix. The oriented filtering uses the
# separable 1-D factors of the (separable) pixel-integrated derivative-of-Gaussian filters.

#: Vectors solved and interpolated beyond ``n_eigenvectors`` (they enter the Rayleigh-Ritz
#: step, which makes the first ``n_eigenvectors`` more accurate).
_DNCUTS_EXTRA = 4
#: A decimation is skipped when the coarse grid would have fewer nodes than this.
_DNCUTS_MIN_NODES = 256
#: ARPACK tolerance of the coarsest problem.
_DNCUTS_TOL = 1e-6
#: When the grid one decimation below the coarsest has at least this many nodes, the
#: coarsest problem is itself solved approximately: ARPACK on that smaller grid,
#: interpolation, and one Chebyshev filter of degree ``_DNCUTS_CHEBYSHEV_DEGREE`` with the
#: coarsest grid's operator (VOC/DTD size: ~1400 instead of ~5500 nodes for ARPACK).
_DNCUTS_SPLIT_NODES = 1000
_DNCUTS_CHEBYSHEV_DEGREE = 8
#: Largest dense key table of the table-based feature binning (else ``np.unique``).
_MAX_KEY_TABLE = 1 << 22


def _bin_features_table(feats: np.ndarray, bin_width: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_bin_features_fast` by counting keys in a dense table (same codes and means).

    Codes are the ranks of the occupied keys, i.e. the order of ``np.unique``; the table is
    used while the key space has at most ``_MAX_KEY_TABLE`` entries, else ``np.unique``.
    """
    while True:
        keys = np.floor(feats / bin_width).astype(np.int64)
        keys -= keys.min(axis=0)
        base = keys.max(axis=0) + 1
        flat = keys[:, 0]
        for d in range(1, keys.shape[1]):
            flat = flat * base[d] + keys[:, d]
        if int(np.prod(base)) <= _MAX_KEY_TABLE:
            table = np.bincount(flat)
            occupied = table > 0
            if int(occupied.sum()) <= _MAX_CODES:
                code, counts = (np.cumsum(occupied) - 1)[flat], table[occupied]
                break
        else:
            _, code, counts = np.unique(flat, return_inverse=True, return_counts=True)
            code = code.ravel()
            if len(counts) <= _MAX_CODES:
                break
        bin_width *= 1.25
    centres = np.stack([np.bincount(code, weights=feats[:, d], minlength=len(counts))
                        for d in range(feats.shape[1])], axis=1) / counts[:, None]
    return code, centres


def _forward_offsets(radius: float) -> np.ndarray:
    """Pixel offsets ``(dy, dx)`` of :func:`_local_pairs`, in its order (int64, (k, 2))."""
    rr = int(np.floor(radius))
    return np.array([(dy, dx) for dy in range(0, rr + 1) for dx in range(-rr, rr + 1)
                     if not ((dy == 0 and dx <= 0) or dy * dy + dx * dx > radius * radius)],
                    dtype=np.int64).reshape(-1, 2)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _row_dot(x: np.ndarray, a: int, y: np.ndarray, b: int) -> float:
    """``x[a] @ y[b]`` (rows of C-contiguous matrices; compiled, vectorised)."""
    acc = 0.0
    for s in range(x.shape[1]):
        acc += x[a, s] * y[b, s]
    return acc


@numba.njit(cache=True, nogil=True)
def _stencil_pmi(total: np.ndarray, first: bool, code: np.ndarray, h: int, w: int,
                 offsets: np.ndarray, gram: np.ndarray, right_t: np.ndarray,
                 marginal: np.ndarray, rho: float, p_reg: float) -> float:
    """Add ``PMI_rho(code_i, code_j)`` of every stencil pair to ``total`` (or set it).

    ``total[i, o]`` belongs to the pair (pixel ``i``, pixel ``i + offsets[o]``); with
    ``first`` the array is overwritten, pairs leaving the image get ``-inf``. The joint
    density ``P(a, b) = sum_s gram[a, s] right_t[b, s]`` (``a <= b``) is evaluated once per
    unordered code pair, when it first occurs. Returns the largest total of a pair.
    """
    m = gram.shape[0]
    n_off = offsets.shape[0]
    value = np.full(m * m, np.nan)  # symmetric table: (a, b) and (b, a); nan = not yet
    top = -np.inf
    for y in range(h):
        for x in range(w):
            i = y * w + x
            row = code[i] * m
            for o in range(n_off):
                yy, xx = y + offsets[o, 0], x + offsets[o, 1]
                if yy >= h or xx < 0 or xx >= w:
                    if first:
                        total[i, o] = -np.inf
                    continue
                b = code[yy * w + xx]
                v = value[row + b]
                if np.isnan(v):
                    lo, hi = min(code[i], b), max(code[i], b)
                    v = (rho * np.log(max(_row_dot(gram, lo, right_t, hi), 0.0) + p_reg)
                         - np.log(marginal[lo] * marginal[hi] + p_reg))
                    value[lo * m + hi] = v
                    value[hi * m + lo] = v
                t = v if first else total[i, o] + v
                total[i, o] = t
                if t > top:
                    top = t
    return top


def _pmi_stencil_set(total: np.ndarray, first: bool, feats: np.ndarray,
                     shape: tuple[int, int], offsets: np.ndarray,
                     samples: tuple[np.ndarray, np.ndarray], *, bandwidth: float,
                     bin_width: float, rho: float, p_reg: float) -> float:
    """:func:`_stencil_pmi` of one feature set: the PMI of :func:`_pmi_fast` (binned KDE)
    with feature bins of width ``bin_width``, for every stencil pair; returns the max."""
    code, centres = _bin_features_table(feats, bin_width)
    # restricted to the codes ``s`` that occur in the samples (the other columns of G C G
    # are zero): P(a, b) = sum_{s, t} G[a, s] C[s, t] G[t, b], P(a) = sum_s G[a, s] C[s, :]
    dim = centres.shape[1]
    ca, cb = code[samples[0]], code[samples[1]]
    s_codes, s_of = np.unique(np.r_[ca, cb], return_inverse=True)
    d2 = np.maximum((centres ** 2).sum(axis=1)[:, None] + (centres[s_codes] ** 2).sum(axis=1)
                    - 2 * centres @ centres[s_codes].T, 0.0)
    gram = np.ascontiguousarray(np.exp(-d2 / (2 * bandwidth ** 2))
                                / ((2 * np.pi) ** (dim / 2) * bandwidth ** dim))
    n, n_s = len(ca), len(s_codes)
    s_a, s_b = s_of[:n], s_of[n:]
    counts = sp.coo_matrix((np.full(2 * n, 0.5 / n), (np.r_[s_a, s_b], np.r_[s_b, s_a])),
                           shape=(n_s, n_s)).tocsr()
    right_t = np.ascontiguousarray((counts @ gram.T).T)  # (G C)[b, s]
    marginal = gram @ np.asarray(counts.sum(axis=1)).ravel()
    return _stencil_pmi(total, first, code.astype(np.int32), shape[0], shape[1], offsets, gram,
                        right_t, marginal, rho, p_reg)


def _kept_neighbour_lists(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a pixel of parity class ``2 (y % 2) + x % 2``: the (offset, direction) pairs of
    its stencil neighbours with even row and column. CSR-like ``(ptr, offset, sign)``."""
    ptr, offs, signs = [0], [], []
    for py in (0, 1):
        for px in (0, 1):
            for o, (dy, dx) in enumerate(offsets):
                if dy % 2 == py and dx % 2 == px:
                    for s in (-1, 1):
                        offs.append(o)
                        signs.append(s)
            ptr.append(len(offs))
    return (np.array(ptr, np.int64), np.array(offs, np.int64).reshape(-1),
            np.array(signs, np.int64).reshape(-1))


@numba.njit(cache=True, nogil=True)
def _stencil_kept(weight, h, w, offsets, k_ptr, k_off, k_sign, y, x, cy, cx, wt):
    """Kept (even row and column) neighbours of pixel ``(y, x)`` of the stencil graph:
    coarse coordinates into ``cy, cx``, weights into ``wt``; returns their number."""
    cls = 2 * (y % 2) + x % 2
    cnt = 0
    for t in range(k_ptr[cls], k_ptr[cls + 1]):
        o, s = k_off[t], k_sign[t]
        yy, xx = y + s * offsets[o, 0], x + s * offsets[o, 1]
        if 0 <= yy < h and 0 <= xx < w:
            cy[cnt] = yy // 2
            cx[cnt] = xx // 2
            wt[cnt] = weight[y * w + x, o] if s > 0 else weight[yy * w + xx, o]
            cnt += 1
    return cnt


@numba.njit(cache=True, nogil=True)
def _window_kept(win, h, w, reach, y, x, cy, cx, wt):
    """Kept (even row and column) neighbours of node ``(y, x)`` of a window graph
    (``win[i, (dy + reach) * side + dx + reach]`` = affinity to node ``(y + dy, x + dx)``,
    self included): coarse coordinates into ``cy, cx``, weights into ``wt``."""
    side = 2 * reach + 1
    i = y * w + x
    cnt = 0
    for yy in range(max(0, y - reach), min(h, y + reach + 1)):
        if yy % 2:
            continue
        for xx in range(max(0, x - reach), min(w, x + reach + 1)):
            if xx % 2:
                continue
            v = win[i, (yy - y + reach) * side + xx - x + reach]
            if v != 0.0:
                cy[cnt] = yy // 2
                cx[cnt] = xx // 2
                wt[cnt] = v
                cnt += 1
    return cnt


@numba.njit(cache=True, nogil=True)
def _accumulate_outer(coarse, wc, reach, cy, cx, wt, cnt, scale):
    """``coarse[a, slot(b - a)] += scale wt[a] wt[b]`` for all kept neighbour pairs."""
    side = 2 * reach + 1
    key = np.empty(cnt, np.int64)
    for b in range(cnt):
        key[b] = cy[b] * side + cx[b]
    for a in range(cnt):
        row = coarse[cy[a] * wc + cx[a]]
        fa = scale * wt[a]
        base = reach * side + reach - key[a]
        for b in range(cnt):
            row[base + key[b]] += fa * wt[b]


@numba.njit(cache=True, nogil=True)
def _dncuts_stencil(weight, h, w, offsets, k_ptr, k_off, k_sign, reach):
    """DNCuts step of the full-resolution (stencil) graph.

    Returns ``(W_c, d)``: ``W_c = W[keep, :] D_k^-1 W[:, keep]`` in window form (half-width
    ``reach``) on the ``ceil(h/2) x ceil(w/2)`` grid of kept pixels (even row and column),
    and ``d`` the sum of each pixel's affinities to the kept pixels (``B = D_k^-1 W[:, keep]``
    is recomputed from the stencil when interpolating).
    """
    hc, wc = (h + 1) // 2, (w + 1) // 2
    side = 2 * reach + 1
    coarse = np.zeros((hc * wc, side * side))
    d = np.zeros(h * w)
    n_max = k_off.shape[0]
    cy = np.empty(n_max, np.int64)
    cx = np.empty(n_max, np.int64)
    wt = np.empty(n_max)
    for y in range(h):
        for x in range(w):
            cnt = _stencil_kept(weight, h, w, offsets, k_ptr, k_off, k_sign, y, x, cy, cx, wt)
            total = 0.0
            for a in range(cnt):
                total += wt[a]
            d[y * w + x] = total
            if total > 0.0:
                _accumulate_outer(coarse, wc, reach, cy, cx, wt, cnt, 1.0 / total)
    return coarse, d


@numba.njit(cache=True, nogil=True)
def _dncuts_window(win, h, w, reach):
    """:func:`_dncuts_stencil` for a graph in window form (same ``reach``)."""
    hc, wc = (h + 1) // 2, (w + 1) // 2
    side = 2 * reach + 1
    coarse = np.zeros((hc * wc, side * side))
    d = np.zeros(h * w)
    cy = np.empty(side * side, np.int64)
    cx = np.empty(side * side, np.int64)
    wt = np.empty(side * side)
    for y in range(h):
        for x in range(w):
            cnt = _window_kept(win, h, w, reach, y, x, cy, cx, wt)
            total = 0.0
            for a in range(cnt):
                total += wt[a]
            d[y * w + x] = total
            if total > 0.0:
                _accumulate_outer(coarse, wc, reach, cy, cx, wt, cnt, 1.0 / total)
    return coarse, d


@numba.njit(cache=True, nogil=True)
def _interpolate_stencil(weight, h, w, offsets, k_ptr, k_off, k_sign, d, vc):
    """``B @ vc`` for the DNCuts step of :func:`_dncuts_stencil` (``B`` from the stencil)."""
    wc = (w + 1) // 2
    p = vc.shape[1]
    out = np.zeros((h * w, p))
    n_max = k_off.shape[0]
    cy = np.empty(n_max, np.int64)
    cx = np.empty(n_max, np.int64)
    wt = np.empty(n_max)
    for y in range(h):
        for x in range(w):
            i = y * w + x
            if d[i] <= 0.0:
                continue
            cnt = _stencil_kept(weight, h, w, offsets, k_ptr, k_off, k_sign, y, x, cy, cx, wt)
            for a in range(cnt):
                f = wt[a] / d[i]
                c = cy[a] * wc + cx[a]
                for j in range(p):
                    out[i, j] += f * vc[c, j]
    return out


@numba.njit(cache=True, nogil=True)
def _interpolate_window(win, h, w, reach, d, vc):
    """``B @ vc`` for the DNCuts step of :func:`_dncuts_window`."""
    wc = (w + 1) // 2
    side = 2 * reach + 1
    p = vc.shape[1]
    out = np.zeros((h * w, p))
    cy = np.empty(side * side, np.int64)
    cx = np.empty(side * side, np.int64)
    wt = np.empty(side * side)
    for y in range(h):
        for x in range(w):
            i = y * w + x
            if d[i] <= 0.0:
                continue
            cnt = _window_kept(win, h, w, reach, y, x, cy, cx, wt)
            for a in range(cnt):
                f = wt[a] / d[i]
                c = cy[a] * wc + cx[a]
                for j in range(p):
                    out[i, j] += f * vc[c, j]
    return out


@numba.njit(cache=True, nogil=True, fastmath=True)
def _window_matmat(win: np.ndarray, h: int, w: int, reach: int, z: np.ndarray) -> np.ndarray:
    """``W @ z`` for a graph in window form."""
    side = 2 * reach + 1
    p = z.shape[1]
    out = np.zeros_like(z)
    for y in range(h):
        for x in range(w):
            i = y * w + x
            for yy in range(max(0, y - reach), min(h, y + reach + 1)):
                base = (yy - y + reach) * side - x + reach
                for xx in range(max(0, x - reach), min(w, x + reach + 1)):
                    v = win[i, base + xx]
                    if v != 0.0:
                        j = yy * w + xx
                        for c in range(p):
                            out[i, c] += v * z[j, c]
    return out


def _chebyshev_filter(win: np.ndarray, shape: tuple[int, int], reach: int, vecs: np.ndarray,
                      lam_cut: float, degree: int) -> np.ndarray:
    """Generalized eigenvector estimates ``vecs`` of the window graph, filtered by the
    Chebyshev polynomial of ``D^-1/2 W D^-1/2`` that is bounded by 1 on eigenvalues
    ``mu = 1 - lambda`` in ``[-1, 1 - lam_cut]`` and grows fastest above (small ``lambda``)."""
    h, w = shape
    inv_sqrt = 1.0 / np.sqrt(win.sum(axis=1))

    def apply(y):  # (D^-1/2 W D^-1/2 - c) y / e
        return (inv_sqrt[:, None] * _window_matmat(win, h, w, reach, inv_sqrt[:, None] * y)
                - centre * y) / half_width

    half_width, centre = (2.0 - lam_cut) / 2, -lam_cut / 2
    y_prev = vecs / inv_sqrt[:, None]
    y = apply(y_prev)
    for _ in range(2, degree + 1):
        y, y_prev = 2 * apply(y) - y_prev, y
    y /= np.linalg.norm(y, axis=0)
    return y * inv_sqrt[:, None]


@numba.njit(cache=True, nogil=True)
def _window_csr(win, h, w, reach):
    """CSR arrays (sorted columns) of a graph in window form (non-zero entries)."""
    side = 2 * reach + 1
    n = h * w
    indptr = np.zeros(n + 1, np.int64)
    for i in range(n):
        c = 0
        for s in range(side * side):
            if win[i, s] != 0.0:
                c += 1
        indptr[i + 1] = indptr[i] + c
    indices = np.empty(indptr[-1], np.int32)
    data = np.empty(indptr[-1])
    for y in range(h):
        for x in range(w):
            i = y * w + x
            p = indptr[i]
            for s in range(side * side):  # row-major window: ascending columns
                if win[i, s] != 0.0:
                    indices[p] = (y + s // side - reach) * w + x + s % side - reach
                    data[p] = win[i, s]
                    p += 1
    return indptr, indices, data


@numba.njit(cache=True, nogil=True)
def _stencil_csr(weight: np.ndarray, h: int, w: int, offsets: np.ndarray):
    """CSR arrays (sorted columns) of the symmetric stencil graph (small images)."""
    n_off = offsets.shape[0]
    indptr = np.zeros(h * w + 1, np.int64)
    for y in range(h):
        for x in range(w):
            c = 0
            for o in range(n_off):
                dy, dx = offsets[o, 0], offsets[o, 1]
                if y + dy < h and 0 <= x + dx < w:
                    c += 1
                if y - dy >= 0 and 0 <= x - dx < w:
                    c += 1
            indptr[y * w + x + 1] = indptr[y * w + x] + c
    indices = np.empty(indptr[-1], np.int32)
    data = np.empty(indptr[-1], np.float64)
    for y in range(h):
        for x in range(w):
            i = y * w + x
            p = indptr[i]
            for o in range(n_off - 1, -1, -1):  # backward neighbours, ascending column
                yy, xx = y - offsets[o, 0], x - offsets[o, 1]
                if yy >= 0 and 0 <= xx < w:
                    indices[p] = yy * w + xx
                    data[p] = weight[yy * w + xx, o]
                    p += 1
            for o in range(n_off):
                yy, xx = y + offsets[o, 0], x + offsets[o, 1]
                if yy < h and 0 <= xx < w:
                    indices[p] = yy * w + xx
                    data[p] = weight[i, o]
                    p += 1
    return indptr, indices, data


@numba.njit(cache=True, nogil=True)
def _stencil_degree(weight: np.ndarray, h: int, w: int, offsets: np.ndarray) -> np.ndarray:
    """Row sums of the symmetric affinity matrix held by the stencil ``weight``."""
    deg = np.zeros(h * w)
    for y in range(h):
        for x in range(w):
            i = y * w + x
            for o in range(offsets.shape[0]):
                yy, xx = y + offsets[o, 0], x + offsets[o, 1]
                if yy < h and 0 <= xx < w:
                    deg[i] += weight[i, o]
                    deg[yy * w + xx] += weight[i, o]
    return deg


@numba.njit(cache=True, nogil=True, fastmath=True)
def _stencil_matmat(weight: np.ndarray, h: int, w: int, offsets: np.ndarray,
                    z: np.ndarray) -> np.ndarray:
    """``W @ z`` for the symmetric affinity matrix held by the stencil ``weight``."""
    out = np.zeros_like(z)
    p = z.shape[1]
    for y in range(h):
        for x in range(w):
            i = y * w + x
            for o in range(offsets.shape[0]):
                yy, xx = y + offsets[o, 0], x + offsets[o, 1]
                if yy < h and 0 <= xx < w:
                    j = yy * w + xx
                    wt = weight[i, o]
                    for c in range(p):
                        out[i, c] += wt * z[j, c]
                        out[j, c] += wt * z[i, c]
    return out


@numba.njit(cache=True, nogil=True)
def _mirror(k: int, n: int) -> int:
    """Index ``k`` reflected into ``[0, n)`` as ``scipy.ndimage`` mode ``"mirror"``."""
    if n == 1:
        return 0
    period = 2 * (n - 1)
    k = k % period
    return k if k < n else period - k


@numba.njit(cache=True, nogil=True, fastmath=True)
def _filter_accumulate(oriented, vec, scale, g, xg, cx, cy):
    """``oriented[o] += scale |cx[o] (g_y xg_x * vec) + cy[o] (xg_y g_x * vec)|``.

    The separable form of :func:`_accumulate_oriented` after the two 2-D correlations
    (``mirror`` boundary), one image row at a time.
    """
    h, w = vec.shape
    n_orient = oriented.shape[0]
    half = g.size // 2
    col_g = np.empty(w + 2 * half)
    col_x = np.empty(w + 2 * half)
    rows = np.empty(g.size, np.int64)
    for y in range(h):
        for t in range(g.size):
            rows[t] = _mirror(y + t - half, h)
        for xp in range(w + 2 * half):
            x = _mirror(xp - half, w)
            sg = 0.0
            sx = 0.0
            for t in range(g.size):
                v = vec[rows[t], x]
                sg += g[t] * v
                sx += xg[t] * v
            col_g[xp] = sg
            col_x[xp] = sx
        for x in range(w):
            rx = 0.0
            ry = 0.0
            for t in range(g.size):
                rx += xg[t] * col_g[x + t]
                ry += g[t] * col_x[x + t]
            for o in range(n_orient):
                oriented[o, y, x] += scale * abs(cx[o] * rx + cy[o] * ry)


def _eigen_small(w: sp.csr_matrix, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Smallest ``k`` solutions of ``(D - W) v = lambda D v`` (dense, or ARPACK)."""
    n = w.shape[0]
    deg = np.asarray(w.sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(deg)
    a = (sp.diags(inv_sqrt) @ w @ sp.diags(inv_sqrt)).tocsr()
    if n <= _DENSE_EIGEN_MAX_PIXELS:
        mu, u = scipy.linalg.eigh(a.toarray(), subset_by_index=(n - k, n - 1))
    else:
        v0 = np.random.default_rng(seed).standard_normal(n)
        mu, u = spla.eigsh(a, k=k, which="LA", v0=v0, tol=_DNCUTS_TOL, maxiter=20 * n)
    order = np.argsort(-mu)
    return 1.0 - mu[order], u[:, order] * inv_sqrt[:, None]


def _eigen_dncuts(weight: np.ndarray, shape: tuple[int, int], offsets: np.ndarray, k: int,
                  levels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Approximate smallest ``k`` solutions of ``(D - W) v = lambda D v`` by DNCuts.

    ``W`` is the stencil ``weight``. ``levels`` decimations (fewer while the coarse grid
    would have fewer than ``max(_DNCUTS_MIN_NODES, k + _DNCUTS_EXTRA + 1)`` nodes, none for
    a stencil radius below 2), ``k +
    _DNCUTS_EXTRA`` vectors of the coarsest problem, interpolated by the ``B`` matrices,
    then Rayleigh-Ritz on ``W``. Ascending ``lambda``.
    """
    h, w = shape
    reach = int(np.abs(offsets).max())
    kept = _kept_neighbour_lists(offsets)
    if (offsets ** 2).sum(axis=1).max() < 4:
        levels = 0  # radius < 2: kept pixels would lack kept neighbours; no decimation
    steps = []  # (window graph or None for the stencil, shape, d) per decimation
    win, cur = None, (h, w)
    for _ in range(levels):
        hc, wc = (cur[0] + 1) // 2, (cur[1] + 1) // 2
        if hc * wc < max(_DNCUTS_MIN_NODES, k + _DNCUTS_EXTRA + 1):
            break
        if win is None:
            coarse, d = _dncuts_stencil(weight, h, w, offsets, *kept, reach)
        else:
            coarse, d = _dncuts_window(win, cur[0], cur[1], reach)
        steps.append((win, cur, d))
        win, cur = coarse, (hc, wc)
    n_vec = k + _DNCUTS_EXTRA
    split = (win is not None
             and ((cur[0] + 1) // 2) * ((cur[1] + 1) // 2) >= max(_DNCUTS_SPLIT_NODES, n_vec))
    if split:  # ARPACK one grid further down, then interpolation and a Chebyshev filter
        below, d = _dncuts_window(win, cur[0], cur[1], reach)
        shape_below = ((cur[0] + 1) // 2, (cur[1] + 1) // 2)
        n_b = shape_below[0] * shape_below[1]
        lam, vecs = _eigen_small(
            sp.csr_matrix(_window_csr(below, *shape_below, reach)[::-1], shape=(n_b, n_b)),
            n_vec, seed)
        vecs = _interpolate_window(win, cur[0], cur[1], reach, d, vecs)
        # one decimation about doubles the eigenvalues; damp everything above 1.5 times
        # the largest wanted one
        vecs = _chebyshev_filter(win, cur, reach, vecs, 0.75 * lam[-1],
                                 _DNCUTS_CHEBYSHEV_DEGREE)
    else:
        n_c = cur[0] * cur[1]
        if win is None:  # too small to decimate: the full problem itself
            graph = sp.csr_matrix(_stencil_csr(weight, h, w, offsets)[::-1], shape=(n_c, n_c))
        else:
            graph = sp.csr_matrix(_window_csr(win, cur[0], cur[1], reach)[::-1],
                                  shape=(n_c, n_c))
        _, vecs = _eigen_small(graph, min(n_vec, n_c - 1), seed)
    del win
    for fine, (fh, fw), d in reversed(steps):
        if fine is None:
            vecs = _interpolate_stencil(weight, fh, fw, offsets, *kept, d, vecs)
        else:
            vecs = _interpolate_window(fine, fh, fw, reach, d, vecs)
    # Rayleigh-Ritz on the full problem: D-orthonormal basis of the interpolated vectors
    # (directions with a tiny Gram eigenvalue dropped), projected eigenproblem.
    deg = _stencil_degree(weight, h, w, offsets)
    gram = vecs.T @ (deg[:, None] * vecs)
    proj = vecs.T @ _stencil_matmat(weight, h, w, offsets, vecs)
    s, u = np.linalg.eigh((gram + gram.T) / 2)
    basis = u[:, s > 1e-12 * s.max()] / np.sqrt(s[s > 1e-12 * s.max()])
    mu, coef = np.linalg.eigh(basis.T @ ((proj + proj.T) / 2) @ basis)
    order = np.argsort(-mu)[:k]
    return 1.0 - mu[order], vecs @ (basis @ coef[:, order])


def _separable_bases(sigma: float, support: float, oversample: int = 10) -> tuple:
    """1-D factors of :func:`_derivative_bases`: ``X = g[:, None] * xg[None, :]`` and
    ``Y = xg[:, None] * g[None, :]`` (pixel-integrated Gaussian and ``x`` Gaussian)."""
    hsz = int(np.ceil(support * sigma))
    sz = 2 * hsz + 1
    fine = (np.arange(sz * oversample) + 0.5) / oversample - (hsz + 0.5)
    gauss = np.exp(-fine ** 2 / (2 * sigma ** 2))
    return (gauss.reshape(sz, oversample).mean(axis=1),
            (fine * gauss).reshape(sz, oversample).mean(axis=1))


def _boundary_map_dncuts(img: np.ndarray, *, features, n_kernels, bandwidth, rho, p_reg,
                         sample_sigma, radius, n_eigenvectors, filter_sigma, n_orientations,
                         border_suppress, seed, dncuts_levels, dncuts_bin_width) -> np.ndarray:
    """``method="dncuts"``: the approximation described above (the default)."""
    h, w = img.shape[:2]
    offsets = _forward_offsets(radius)
    weight = np.empty((h * w, len(offsets)))  # sum of the PMIs, then the affinity
    top = None
    rng = np.random.default_rng(seed)
    for kind in _FEATURE_SETS[features]:
        samples = _sample_pairs((h, w), n_kernels, sample_sigma, rng)
        feats = _feature_maps(img, kind)
        if feats is None or len(samples[0]) == 0:
            continue  # constant features: uniform PMI, no effect on the eigenvectors
        top = _pmi_stencil_set(weight, top is None, feats.reshape(h * w, -1), (h, w), offsets,
                               samples, bandwidth=bandwidth,
                               bin_width=dncuts_bin_width * bandwidth, rho=rho, p_reg=p_reg)
    if top is None:
        return np.zeros((h, w))
    np.subtract(weight, top, out=weight)
    np.exp(weight, out=weight)  # W = exp(sum PMI - max), as the exact path
    k = min(int(n_eigenvectors), h * w - 1)
    lam, vecs = _eigen_dncuts(weight, (h, w), offsets, k, int(dncuts_levels), seed)
    del weight

    g, xg = _separable_bases(filter_sigma, 3.0)
    _, _, thetas, coeffs = _oriented_filters(filter_sigma, 3.0, n_orientations)
    cx = np.array([c[0] for c in coeffs])
    cy = np.array([c[1] for c in coeffs])
    oriented = np.zeros((n_orientations, h, w))
    for v in range(1, k):
        if lam[v] <= 0:
            continue
        vec = np.ascontiguousarray(vecs[:, v].reshape(h, w))
        lo, hi = vec.min(), vec.max()
        if hi - lo <= 0:
            continue
        # min-max scaling to [0, 1] / sqrt(lambda); the offset cancels in the derivatives
        _filter_accumulate(oriented, vec, 1.0 / ((hi - lo) * np.sqrt(lam[v])), g, xg, cx, cy)
    if border_suppress:
        vert, hort = _border_suppressor((h, w))
        for o, t in enumerate(thetas):
            oriented[o] *= 1.0 - np.abs(np.cos(t)) * vert - np.abs(np.sin(t)) * hort
    return oriented.max(axis=0)


# ----------------------------------------------------------------------- public API


def _check_params(features, n_kernels, bandwidth, rho, p_reg, sample_sigma, radius,
                  n_eigenvectors, filter_sigma, n_orientations) -> None:
    if features not in _FEATURE_SETS:
        raise ValueError(f"features must be one of {sorted(_FEATURE_SETS)}, got {features!r}")
    checks = {"n_kernels": (n_kernels, 2), "n_eigenvectors": (n_eigenvectors, 2),
              "n_orientations": (n_orientations, 1)}
    for name, (value, low) in checks.items():
        if int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    positive = {"bandwidth": bandwidth, "rho": rho, "sample_sigma": sample_sigma,
                "filter_sigma": filter_sigma}
    for name, value in positive.items():
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (np.isfinite(p_reg) and p_reg >= 0):
        raise ValueError(f"p_reg must be a number >= 0, got {p_reg!r}")
    if not (np.isfinite(radius) and radius >= 1):
        raise ValueError(f"radius must be a number >= 1, got {radius!r}")


#: Values of ``method``: the approximation (default) and the exact computation.
METHODS = ("dncuts", "exact")


def _check_method(method, dncuts_levels, dncuts_bin_width) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if int(dncuts_levels) != dncuts_levels or dncuts_levels < 0:
        raise ValueError(f"dncuts_levels must be an integer >= 0, got {dncuts_levels!r}")
    if not (np.isfinite(dncuts_bin_width) and dncuts_bin_width > 0):
        raise ValueError(f"dncuts_bin_width must be a positive number, "
                         f"got {dncuts_bin_width!r}")


def _check_image(image, radius: float, where: str = "image") -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"{where} must be uint8 RGB with values 0..255, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{where} must have shape (H, W, 3), got {arr.shape}")
    min_side = 2 * int(np.floor(radius)) + 1
    if min(arr.shape[:2]) < min_side:
        raise ValueError(f"{where} of size {arr.shape[0]}x{arr.shape[1]} is too small for "
                         f"affinity radius {radius}: both sides must be >= {min_side}")
    return arr


def crisp_boundary_map(image: np.ndarray, *, features: str = "color+var",
                       n_kernels: int = 5000, bandwidth: float = 0.05, rho: float = 1.25,
                       p_reg: float = 100.0, sample_sigma: float = 0.25, radius: float = 5.0,
                       n_eigenvectors: int = 16, filter_sigma: float = 1.0,
                       n_orientations: int = 8, border_suppress: bool = True,
                       seed: int = 0, method: str = "dncuts", dncuts_levels: int = 2,
                       dncuts_bin_width: float = 1.0) -> np.ndarray:
    """Crisp-boundary strength map ``E`` of one image (Isola et al., ECCV 2014; one scale).

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
        RGB image; both sides must be at least ``2 floor(radius) + 1``.
    features : {"color+var", "color", "var"}
        Feature sets. ``"color"``: CIE L*a*b*; ``"var"``: square root of the local
        standard deviation (5-pixel cross) of the RGB principal components. Each set is
        3-D, rotated to its principal components and jointly min-max scaled to [0, 1].
        With several sets the affinities multiply (PMIs add), as in the original.
    n_kernels : int
        Pair-sample draws for the KDE (the original's ``kde.Nkernels``); duplicate centre
        pixels and pairs leaving the image are dropped, as in the original.
    bandwidth : float
        Standard deviation of the isotropic Gaussian KDE kernel in feature units.
    rho : float
        Exponent of the joint density in ``PMI_rho``.
    p_reg : float
        Regulariser added to ``P(A, B)`` and to ``P(A) P(B)`` (densities in units of the
        [0, 1]-scaled feature space).
    sample_sigma : float
        Variance (pixels^2) of the Gaussian offset used to sample KDE pairs.
    radius : float
        Pixels ``i, j`` with ``0 < |x_i - x_j| <= radius`` are connected in ``W``.
    n_eigenvectors : int
        Number of generalized eigenvectors computed (the trivial one included and then
        skipped); clipped to ``H W - 1``.
    filter_sigma : float
        Scale of the oriented derivative-of-Gaussian filters (support 3 sigma).
    n_orientations : int
        Number of filter orientations.
    border_suppress : bool
        Apply the original's suppression of border-aligned responses next to the border.
    seed : int
        Seed of the pair sampling and of the Lanczos start vector (the result is
        deterministic given the image).
    method : {"dncuts", "exact"}
        ``"dncuts"`` (default): the measured approximation of ``docs/crisp_boundaries.md``
        -- KDE feature bins of ``dncuts_bin_width`` bandwidths and eigenvectors by
        Downsampled Normalized Cuts (``dncuts_levels`` decimations by 2) refined by a
        Rayleigh-Ritz step on the full-resolution graph; ~20-30 times faster than the
        reference at 256-pixel short side, edge sums within a few per cent (median ~1 %).
        ``"exact"``: the definition itself (bins of half a bandwidth, ARPACK on the full
        graph); equal to :func:`crisp_boundary_map_reference` to ~1e-8.
    dncuts_levels : int
        ``method="dncuts"`` only: decimations before the eigensolve (each halves both sides;
        skipped while the coarse grid would have fewer than 256 nodes, and for
        ``radius < 2``).
    dncuts_bin_width : float
        ``method="dncuts"`` only: width of the cubic KDE feature bins, in units of
        ``bandwidth`` (the exact definition uses 0.5).

    Returns
    -------
    ndarray of float64, shape (H, W)
        ``E(x) = max_o s_o(x) sum_{v >= 2, lambda_v > 0} |(f_o * u_v)(x)| / sqrt(lambda_v)``
        where ``u_v`` is eigenvector ``v`` of ``(D - W) u = lambda D u`` min-max scaled
        to [0, 1], ``f_o`` the unit-L1 oriented filters, ``s_o`` the border suppression,
        ``W_ij = exp(sum_sets PMI_rho(f_i, f_j) - c)`` (``c`` a constant that leaves the
        eigenvectors unchanged). Not thinned (no non-maximum suppression). Zero for an
        image whose features are all constant (e.g. a constant image).

    References
    ----------
    P. Isola, D. Zoran, D. Krishnan, E. H. Adelson. Crisp Boundary Detection Using
    Pointwise Mutual Information. ECCV 2014. Differences from the authors' MATLAB code
    are listed in ``docs/crisp_boundaries.md``.
    """
    params = _params(features, n_kernels, bandwidth, rho, p_reg, sample_sigma, radius,
                     n_eigenvectors, filter_sigma, n_orientations, border_suppress, seed,
                     method, dncuts_levels, dncuts_bin_width)
    img = _check_image(image, radius)
    with threadpoolctl.threadpool_limits(1):  # same BLAS arithmetic in every process
        return _compute_map(img, params)


def crisp_boundary_map_reference(image: np.ndarray, **params) -> np.ndarray:
    """:func:`crisp_boundary_map` by the previous (slow) implementation, kept as reference.

    Takes the parameters of the definition (all but ``method``, ``dncuts_levels`` and
    ``dncuts_bin_width``), same defaults. ``method="exact"`` agrees with it to rounding in
    every step but the ARPACK eigensolve, which runs on an affinity matrix that differs by
    rounding (~1e-15 relative); see ``docs/crisp_boundaries.md`` for the measured differences.
    """
    params = _reference_params(params)
    return _boundary_map_reference(_check_image(image, params["radius"]), **params)


def _params(features, n_kernels, bandwidth, rho, p_reg, sample_sigma, radius, n_eigenvectors,
            filter_sigma, n_orientations, border_suppress, seed, method, dncuts_levels,
            dncuts_bin_width) -> dict:
    """Checked parameters, normalised to Python types (the keywords of ``_compute_map``)."""
    _check_params(features, n_kernels, bandwidth, rho, p_reg, sample_sigma, radius,
                  n_eigenvectors, filter_sigma, n_orientations)
    _check_method(method, dncuts_levels, dncuts_bin_width)
    return dict(features=features, n_kernels=int(n_kernels), bandwidth=float(bandwidth),
                rho=float(rho), p_reg=float(p_reg), sample_sigma=float(sample_sigma),
                radius=float(radius), n_eigenvectors=int(n_eigenvectors),
                filter_sigma=float(filter_sigma), n_orientations=int(n_orientations),
                border_suppress=bool(border_suppress), seed=int(seed), method=method,
                dncuts_levels=int(dncuts_levels), dncuts_bin_width=float(dncuts_bin_width))


#: Parameters that select how the definition is computed (not part of the definition).
_METHOD_PARAMETERS = ("method", "dncuts_levels", "dncuts_bin_width")


def _reference_params(params: dict) -> dict:
    """Checked definition parameters for the reference functions (no method parameters)."""
    given = sorted(set(params) & set(_METHOD_PARAMETERS))
    if given:
        raise TypeError(f"the reference implementation is exact; it takes no {given}")
    checked = _params(**{**_DEFAULTS, **params})
    return {name: value for name, value in checked.items() if name not in _METHOD_PARAMETERS}


def _compute_map(img: np.ndarray, params: dict) -> np.ndarray:
    """The map of one checked image by ``params["method"]`` (one BLAS thread expected)."""
    definition = {name: value for name, value in params.items()
                  if name not in _METHOD_PARAMETERS}
    if params["method"] == "exact":
        return _boundary_map(img, **definition)
    return _boundary_map_dncuts(img, **definition, dncuts_levels=params["dncuts_levels"],
                                dncuts_bin_width=params["dncuts_bin_width"])


def _image_list(images, radius: float) -> list[np.ndarray]:
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ValueError(f"images must be a (N, H, W, 3) uint8 array or a list of "
                             f"(H, W, 3) uint8 arrays, got an array of shape {images.shape}")
        batch = list(images)
    elif isinstance(images, Sequence) and not isinstance(images, str | bytes):
        batch = list(images)
    else:
        raise TypeError(f"images must be an array or a list of arrays, got {type(images)}")
    return [_check_image(im, radius, where=f"images[{i}]") for i, im in enumerate(batch)]


def _boundary_map_reference(img: np.ndarray, *, features, n_kernels, bandwidth, rho, p_reg,
                            sample_sigma, radius, n_eigenvectors, filter_sigma,
                            n_orientations, border_suppress, seed) -> np.ndarray:
    """The previous implementation, unchanged: the reference of the fast path's tests."""
    h, w = img.shape[:2]
    pairs = _local_pairs((h, w), radius)
    pmi = np.zeros(len(pairs[0]))
    used = 0
    rng = np.random.default_rng(seed)
    for kind in _FEATURE_SETS[features]:
        samples = _sample_pairs((h, w), n_kernels, sample_sigma, rng)
        feats = _feature_maps(img, kind)
        if feats is None or len(samples[0]) == 0:
            continue  # constant features: uniform PMI, no effect on the eigenvectors
        pmi += _pmi(feats.reshape(h * w, -1), pairs, samples, bandwidth=bandwidth, rho=rho,
                    p_reg=p_reg)
        used += 1
    if used == 0:
        return np.zeros((h, w))
    weights = np.exp(pmi - pmi.max())
    n = h * w
    aff = sp.coo_matrix((np.r_[weights, weights], (np.r_[pairs[0], pairs[1]],
                                                   np.r_[pairs[1], pairs[0]])),
                        shape=(n, n)).tocsr()
    k = min(int(n_eigenvectors), n - 1)
    lam, vecs = _eigen(aff, k, seed)

    bx, by, thetas, coeffs = _oriented_filters(filter_sigma, 3.0, n_orientations)
    oriented = np.zeros((n_orientations, h, w))
    for v in range(1, k):
        if lam[v] <= 0:
            continue
        vec = vecs[:, v].reshape(h, w)
        lo, hi = vec.min(), vec.max()
        if hi - lo <= 0:
            continue
        vec = (vec - lo) / (hi - lo) / np.sqrt(lam[v])
        rx = ndi.correlate(vec, bx, mode="mirror")
        ry = ndi.correlate(vec, by, mode="mirror")
        for o, (cx, cy) in enumerate(coeffs):
            oriented[o] += np.abs(cx * rx + cy * ry)
    if border_suppress:
        vert, hort = _border_suppressor((h, w))
        for o, t in enumerate(thetas):
            # derivative along x responds to vertical edges: suppressed at left/right borders
            oriented[o] *= 1.0 - np.abs(np.cos(t)) * vert - np.abs(np.sin(t)) * hort
    return oriented.max(axis=0)


def crisp_boundary_strength(images: np.ndarray | Sequence[np.ndarray], *,
                            features: str = "color+var", n_kernels: int = 5000,
                            bandwidth: float = 0.05, rho: float = 1.25, p_reg: float = 100.0,
                            sample_sigma: float = 0.25, radius: float = 5.0,
                            n_eigenvectors: int = 16, filter_sigma: float = 1.0,
                            n_orientations: int = 8, border_suppress: bool = True,
                            seed: int = 0, method: str = "dncuts", dncuts_levels: int = 2,
                            dncuts_bin_width: float = 1.0) -> np.ndarray:
    """Sum of the crisp-boundary strength map per image (Isola et al., ECCV 2014).

    ``S(image) = sum_x E(x)`` with ``E`` from :func:`crisp_boundary_map` (unthinned,
    single scale); every parameter has the meaning given there. The default
    ``method="dncuts"`` is a measured approximation (edge sums of real images within ~1 %
    median, a few per cent at most, rank correlation with the exact sums >= 0.99; see
    ``docs/crisp_boundaries.md``); ``method="exact"`` computes the definition.

    Parameters
    ----------
    images : ndarray of uint8, shape (N, H, W, 3), or sequence of (H_i, W_i, 3) uint8
        RGB images; a sequence may mix sizes.

    Returns
    -------
    ndarray of float64, shape (N,)

    References
    ----------
    P. Isola, D. Zoran, D. Krishnan, E. H. Adelson. Crisp Boundary Detection Using
    Pointwise Mutual Information. ECCV 2014.
    """
    params = _params(features, n_kernels, bandwidth, rho, p_reg, sample_sigma, radius,
                     n_eigenvectors, filter_sigma, n_orientations, border_suppress, seed,
                     method, dncuts_levels, dncuts_bin_width)
    return _strength_chunk(_image_list(images, params["radius"]), params)


def crisp_boundary_strength_reference(images, **params) -> np.ndarray:
    """:func:`crisp_boundary_strength` by the previous (slow) implementation (reference).

    Exact; takes the definition parameters only (see :func:`crisp_boundary_map_reference`).
    """
    params = _reference_params(params)
    checked = _image_list(images, params["radius"])
    return np.array([_boundary_map_reference(im, **params).sum() for im in checked],
                    dtype=np.float64)


def _strength_chunk(images: list[np.ndarray], params: dict) -> np.ndarray:
    # One BLAS thread: the values do not depend on the BLAS thread count, and in a pool the
    # worker count provides the parallelism.
    with threadpoolctl.threadpool_limits(1):
        return np.array([_compute_map(im, params).sum() for im in images],
                        dtype=np.float64)


def _pool_context():
    """fork, unless this process already ran a parallel numba kernel on GNU OpenMP (a forked
    child would abort): then forkserver (the rule of the statistics engine's pool)."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel numba kernel has run in this process
        layer = None
    if layer != "omp":
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # import once in the server, not per worker
    return context


def crisp_boundary_strength_parallel(images: np.ndarray | Sequence[np.ndarray], *,
                                     workers: int | None = None, chunksize: int = 1,
                                     **params) -> np.ndarray:
    """:func:`crisp_boundary_strength` of many images on all cores (one process per core).

    Parameters
    ----------
    images : ndarray of uint8, shape (N, H, W, 3), or sequence of (H_i, W_i, 3) uint8
        As for :func:`crisp_boundary_strength`.
    workers : int, optional
        Worker processes; default: the number of cores this process may use. With 1 (or a
        single image) the images are processed here, one after the other.
    chunksize : int
        Images sent to a worker at a time.
    **params
        The parameters of :func:`crisp_boundary_strength` (same defaults).

    Returns
    -------
    ndarray of float64, shape (N,)
        Exactly the values of ``crisp_boundary_strength(images, **params)``: each image is
        computed by the same single-threaded code, only in another process. Each worker
        runs with one BLAS thread.
    """
    params = _params(**{**_DEFAULTS, **params})
    checked = _image_list(images, params["radius"])
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be an integer >= 1 or None, got {workers!r}")
    if int(chunksize) != chunksize or chunksize < 1:
        raise ValueError(f"chunksize must be an integer >= 1, got {chunksize!r}")
    chunks = [checked[i:i + chunksize] for i in range(0, len(checked), chunksize)]
    workers = min(int(workers), len(chunks))
    if workers <= 1:
        return (np.concatenate([_strength_chunk(c, params) for c in chunks]) if chunks
                else np.zeros(0, dtype=np.float64))
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=_pool_context()) as pool:
        parts = list(pool.map(_strength_chunk, chunks, [params] * len(chunks)))
    return np.concatenate(parts)


#: Defaults of the public functions (the reference and parallel variants take ``**params``).
_DEFAULTS = {name: value.default for name, value in
             inspect.signature(crisp_boundary_strength).parameters.items()
             if value.default is not value.empty}

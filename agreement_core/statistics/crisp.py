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

``docs/crisp_boundaries.md`` lists every difference from the MATLAB code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg
import scipy.ndimage as ndi
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from skimage.color import rgb2lab

__all__ = ["crisp_boundary_map", "crisp_boundary_strength"]

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
                       seed: int = 0) -> np.ndarray:
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
        Seed of the pair sampling (the result is deterministic given the image).

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
    _check_params(features, n_kernels, bandwidth, rho, p_reg, sample_sigma, radius,
                  n_eigenvectors, filter_sigma, n_orientations)
    img = _check_image(image, radius)
    return _boundary_map(img, features=features, n_kernels=int(n_kernels),
                         bandwidth=float(bandwidth), rho=float(rho), p_reg=float(p_reg),
                         sample_sigma=float(sample_sigma), radius=float(radius),
                         n_eigenvectors=int(n_eigenvectors), filter_sigma=float(filter_sigma),
                         n_orientations=int(n_orientations),
                         border_suppress=bool(border_suppress), seed=int(seed))


def _boundary_map(img: np.ndarray, *, features, n_kernels, bandwidth, rho, p_reg,
                  sample_sigma, radius, n_eigenvectors, filter_sigma, n_orientations,
                  border_suppress, seed) -> np.ndarray:
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
                            seed: int = 0) -> np.ndarray:
    """Sum of the crisp-boundary strength map per image (Isola et al., ECCV 2014).

    ``S(image) = sum_x E(x)`` with ``E`` from :func:`crisp_boundary_map` (unthinned,
    single scale); every parameter has the meaning given there.

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
    _check_params(features, n_kernels, bandwidth, rho, p_reg, sample_sigma, radius,
                  n_eigenvectors, filter_sigma, n_orientations)
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ValueError(f"images must be a (N, H, W, 3) uint8 array or a list of "
                             f"(H, W, 3) uint8 arrays, got an array of shape {images.shape}")
        batch = list(images)
    elif isinstance(images, Sequence) and not isinstance(images, str | bytes):
        batch = list(images)
    else:
        raise TypeError(f"images must be an array or a list of arrays, got {type(images)}")
    checked = [_check_image(im, radius, where=f"images[{i}]") for i, im in enumerate(batch)]
    params = dict(features=features, n_kernels=int(n_kernels), bandwidth=float(bandwidth),
                  rho=float(rho), p_reg=float(p_reg), sample_sigma=float(sample_sigma),
                  radius=float(radius), n_eigenvectors=int(n_eigenvectors),
                  filter_sigma=float(filter_sigma), n_orientations=int(n_orientations),
                  border_suppress=bool(border_suppress), seed=int(seed))
    return np.array([_boundary_map(im, **params).sum() for im in checked], dtype=np.float64)

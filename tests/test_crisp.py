"""Tests of the crisp-boundary (Isola et al. 2014) edge-strength statistic."""

import numpy as np
import pytest

from agreement_core.statistics.crisp import crisp_boundary_map, crisp_boundary_strength


def _noisy(base: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(base + rng.normal(0.0, 3.0, base.shape), 0, 255).astype(np.uint8)


def _blocks(ny: int, nx: int, size: int = 64) -> np.ndarray:
    """``ny x nx`` rectangular regions of distinct grey levels (fixed permutation)."""
    base = np.zeros((size, size, 3))
    levels = np.linspace(20, 235, ny * nx)[np.random.default_rng(5).permutation(ny * nx)]
    for i in range(ny):
        for j in range(nx):
            rows = slice(i * size // ny, (i + 1) * size // ny)
            base[rows, j * size // nx:(j + 1) * size // nx] = levels[i * nx + j]
    return _noisy(base)


def test_constant_image_has_zero_strength():
    const = np.full((32, 32, 3), 128, np.uint8)
    assert crisp_boundary_map(const).shape == (32, 32)
    assert np.abs(crisp_boundary_map(const)).max() == 0.0
    assert crisp_boundary_strength(const[None])[0] == 0.0


def test_two_regions_boundary_along_dividing_column():
    base = np.full((32, 32, 3), 60.0)
    base[:, 16:] = 190.0
    emap = crisp_boundary_map(_noisy(base))
    assert emap.dtype == np.float64 and np.isfinite(emap).all() and (emap >= 0).all()
    columns = emap.sum(axis=0)
    assert abs(int(columns.argmax()) - 15.5) <= 1.5
    # the dividing columns dominate the flat regions
    assert columns[15:17].min() > 3 * np.median(columns)


def test_more_regions_larger_sum():
    # 2 regions (halves) vs 8 regions (2 x 4 blocks); measured ratio ~1.38
    two, eight = crisp_boundary_strength([_blocks(1, 2), _blocks(2, 4)])
    assert eight > 1.2 * two


def test_deterministic():
    img = _blocks(2, 2, 64)
    for method in ("dncuts", "exact"):
        first = crisp_boundary_strength(img[None], method=method)
        second = crisp_boundary_strength(img[None], method=method)
        np.testing.assert_array_equal(first, second)
        np.testing.assert_array_equal(crisp_boundary_map(img, method=method),
                                      crisp_boundary_map(img.copy(), method=method))


def test_batch_and_list_of_sizes():
    rng = np.random.default_rng(1)
    batch = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    out = crisp_boundary_strength(batch)
    assert out.shape == (3,) and out.dtype == np.float64
    mixed = [batch[0], rng.integers(0, 256, (20, 13, 3), dtype=np.uint8)]
    out2 = crisp_boundary_strength(mixed)
    assert out2.shape == (2,) and np.isfinite(out2).all()
    assert out2[0] == out[0]
    assert crisp_boundary_strength([]).shape == (0,)


def test_bad_inputs_raise():
    img = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(TypeError, match="uint8"):
        crisp_boundary_strength(img[None].astype(np.float32))
    with pytest.raises(TypeError, match="uint8"):
        crisp_boundary_map(img.astype(float))
    with pytest.raises(ValueError, match="shape"):
        crisp_boundary_strength(img)  # a single image, not a batch
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        crisp_boundary_map(img[..., 0])
    with pytest.raises(ValueError, match="too small"):
        crisp_boundary_map(np.zeros((8, 40, 3), np.uint8))  # radius 5 needs sides >= 11
    with pytest.raises(ValueError, match="too small"):
        crisp_boundary_strength([img, np.zeros((5, 5, 3), np.uint8)])
    with pytest.raises(ValueError, match="features"):
        crisp_boundary_map(img, features="sift")
    with pytest.raises(ValueError, match="rho"):
        crisp_boundary_map(img, rho=0)
    with pytest.raises(ValueError, match="method"):
        crisp_boundary_strength(img[None], method="arpack")
    with pytest.raises(ValueError, match="dncuts_levels"):
        crisp_boundary_map(img, dncuts_levels=-1)
    with pytest.raises(ValueError, match="dncuts_bin_width"):
        crisp_boundary_map(img, dncuts_bin_width=0)


def test_real_cifar_images_finite_positive(data_root, mirror):
    from agreement_core.data import get_dataset

    images = get_dataset("cifar10", "test", root=data_root, mirror=mirror,
                         subset=1).load_array()[:10]
    values = crisp_boundary_strength(images)
    assert values.shape == (10,)
    assert np.isfinite(values).all() and (values > 0).all()


# ---------------------------------------------------- method="exact" vs the reference


@pytest.fixture(scope="module")
def cifar_images(data_root, mirror) -> np.ndarray:
    from agreement_core.data import get_dataset

    return get_dataset("cifar10", "test", root=data_root, mirror=mirror,
                       subset=1).load_array()[:6]


def test_fast_pieces_identical_to_reference(cifar_images):
    from agreement_core.statistics import crisp

    img = np.kron(cifar_images[0], np.ones((2, 2, 1), np.uint8))  # 64 x 64
    h, w = img.shape[:2]
    for shape, radius in [((h, w), 5.0), ((13, 21), 5.0), ((20, 17), 3.5)]:
        for fast, ref in zip(crisp._local_pairs_fast(shape, radius),
                             crisp._local_pairs(shape, radius), strict=True):
            np.testing.assert_array_equal(fast, ref)
    pairs = crisp._local_pairs((h, w), 5.0)
    samples = crisp._sample_pairs((h, w), 5000, 0.25, np.random.default_rng(0))
    for kind in ("color", "var"):
        feats = crisp._feature_maps(img, kind).reshape(h * w, -1)
        for width in (0.025, 0.004):  # the second forces the bin widening loop
            code_f, centres_f = crisp._bin_features_fast(feats, width)
            code_r, centres_r = crisp._bin_features(feats, width)
            np.testing.assert_array_equal(code_f, code_r)
            np.testing.assert_array_equal(centres_f, centres_r)
        kw = dict(bandwidth=0.05, rho=1.25, p_reg=100.0)
        np.testing.assert_allclose(crisp._pmi_fast(feats, pairs, samples, **kw),
                                   crisp._pmi(feats, pairs, samples, **kw), rtol=0, atol=1e-12)


def test_exact_matches_reference_on_real_images(cifar_images):
    from agreement_core.statistics.crisp import (
        crisp_boundary_map_reference,
        crisp_boundary_strength_reference,
    )

    # 32 x 32 CIFAR-10 images and one upscaled to 64 x 64 (both use the ARPACK path)
    images = list(cifar_images[:4]) + [np.kron(cifar_images[4], np.ones((2, 2, 1), np.uint8))]
    fast = crisp_boundary_strength(images, method="exact")
    ref = crisp_boundary_strength_reference(images)
    assert np.all(np.abs(fast - ref) <= 1e-6 * np.abs(ref))  # measured: <= ~1e-12
    for img in (images[0], images[-1]):
        emap = crisp_boundary_map(img, method="exact")
        emap_ref = crisp_boundary_map_reference(img)
        assert np.abs(emap - emap_ref).max() <= 1e-6 * emap_ref.max()
    # other parameters reach the same code
    params = dict(features="color", radius=3.0, n_eigenvectors=6, seed=3)
    np.testing.assert_allclose(crisp_boundary_strength(images[:2], method="exact", **params),
                               crisp_boundary_strength_reference(images[:2], **params),
                               rtol=1e-6, atol=0)
    with pytest.raises(TypeError, match="exact"):
        crisp_boundary_strength_reference(images[:1], method="exact")


def test_parallel_batch_equals_serial(cifar_images):
    from agreement_core.statistics.crisp import crisp_boundary_strength_parallel

    images = list(cifar_images[:5]) + [cifar_images[5][:20, :27]]  # mixed sizes
    serial = crisp_boundary_strength(images)
    np.testing.assert_array_equal(crisp_boundary_strength_parallel(images, workers=2), serial)
    np.testing.assert_array_equal(
        crisp_boundary_strength_parallel(images, workers=2, chunksize=4), serial)
    np.testing.assert_array_equal(crisp_boundary_strength_parallel(images, workers=1), serial)
    np.testing.assert_array_equal(
        crisp_boundary_strength_parallel(np.stack(cifar_images[:2]), workers=2, seed=1),
        crisp_boundary_strength(cifar_images[:2], seed=1))
    np.testing.assert_array_equal(
        crisp_boundary_strength_parallel(images[:3], workers=2, method="exact"),
        crisp_boundary_strength(images[:3], method="exact"))
    assert crisp_boundary_strength_parallel([], workers=2).shape == (0,)
    with pytest.raises(ValueError, match="workers"):
        crisp_boundary_strength_parallel(images, workers=0)
    with pytest.raises(ValueError, match="too small"):
        crisp_boundary_strength_parallel([np.zeros((5, 5, 3), np.uint8)], workers=2)
    with pytest.raises(TypeError):
        crisp_boundary_strength_parallel(images, workers=2, no_such_parameter=1)


# ------------------------------------------------- the approximation (method="dncuts")


def _graph_of_stencil(weight, shape, offsets):
    """The symmetric sparse affinity matrix that a stencil ``weight`` holds (scipy)."""
    import scipy.sparse as sp

    h, w = shape
    rows, cols, vals = [], [], []
    for o, (dy, dx) in enumerate(offsets):
        for y in range(h):
            for x in range(w):
                if y + dy < h and 0 <= x + dx < w:
                    rows.append(y * w + x)
                    cols.append((y + dy) * w + x + dx)
                    vals.append(weight[y * w + x, o])
    a = sp.coo_matrix((vals, (rows, cols)), shape=(h * w, h * w)).tocsr()
    return (a + a.T).tocsr()


def _dncuts_reference(w_csr, shape):
    """One DNCuts step as written in the MCG code: ``A_sub = A(:, keep)``,
    ``B = A_sub ./ sum(A_sub, 2)``, ``A_down = A_sub' * B``."""
    import scipy.sparse as sp

    h, w = shape
    keep = np.array([y * w + x for y in range(0, h, 2) for x in range(0, w, 2)])
    a_sub = w_csr[:, keep]
    b = sp.diags(1.0 / np.asarray(a_sub.sum(axis=1)).ravel()) @ a_sub
    return (a_sub.T @ b).toarray(), b


def test_dncuts_kernels_match_their_definitions(cifar_images):
    import scipy.ndimage as ndi

    from agreement_core.statistics import crisp

    rng = np.random.default_rng(0)
    shape = (23, 30)  # odd and even sides
    h, w = shape
    offsets = crisp._forward_offsets(5.0)
    weight = rng.uniform(0.1, 1.0, (h * w, len(offsets)))
    graph = _graph_of_stencil(weight, shape, offsets)
    z = rng.standard_normal((h * w, 5))
    np.testing.assert_allclose(crisp._stencil_degree(weight, h, w, offsets),
                               np.asarray(graph.sum(axis=1)).ravel(), rtol=1e-13)
    np.testing.assert_allclose(crisp._stencil_matmat(weight, h, w, offsets, z), graph @ z,
                               rtol=1e-12, atol=1e-12)
    indptr, indices, data = crisp._stencil_csr(weight, h, w, offsets)
    np.testing.assert_array_equal(indptr, graph.indptr)
    np.testing.assert_array_equal(indices, graph.indices)
    np.testing.assert_allclose(data, graph.data, rtol=1e-15)
    # two DNCuts steps: stencil -> window -> window, and the interpolations back
    kept = crisp._kept_neighbour_lists(offsets)
    coarse, d = crisp._dncuts_stencil(weight, h, w, offsets, *kept, 5)
    shape1 = ((h + 1) // 2, (w + 1) // 2)
    expected, b = _dncuts_reference(graph, shape)
    n1 = shape1[0] * shape1[1]
    c_ptr, c_idx, c_dat = crisp._window_csr(coarse, *shape1, 5)
    import scipy.sparse as sp

    w1 = sp.csr_matrix((c_dat, c_idx, c_ptr), shape=(n1, n1))
    np.testing.assert_allclose(w1.toarray(), expected, rtol=1e-12, atol=1e-15)
    v1 = rng.standard_normal((n1, 4))
    np.testing.assert_allclose(
        crisp._interpolate_stencil(weight, h, w, offsets, *kept, d, v1), b @ v1, rtol=1e-12,
        atol=1e-14)
    coarse2, d2 = crisp._dncuts_window(coarse, *shape1, 5)
    shape2 = ((shape1[0] + 1) // 2, (shape1[1] + 1) // 2)
    expected2, b2 = _dncuts_reference(w1, shape1)
    n2 = shape2[0] * shape2[1]
    w2 = sp.csr_matrix(crisp._window_csr(coarse2, *shape2, 5)[::-1], shape=(n2, n2))
    np.testing.assert_allclose(w2.toarray(), expected2, rtol=1e-12, atol=1e-15)
    v2 = rng.standard_normal((n2, 4))
    np.testing.assert_allclose(crisp._interpolate_window(coarse, *shape1, 5, d2, v2), b2 @ v2,
                               rtol=1e-12, atol=1e-14)
    # separable oriented filtering = 2-D correlations + _accumulate_oriented
    g, xg = crisp._separable_bases(1.0, 3.0)
    bx, by, _, coeffs = crisp._oriented_filters(1.0, 3.0, 8)
    # Entries that are 0 in exact arithmetic round to +-1e-17 either way: atol 1e-16.
    np.testing.assert_allclose(np.outer(g, xg), bx, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(np.outer(xg, g), by, rtol=1e-14, atol=1e-16)
    cx, cy = np.array(coeffs).T
    vec = rng.standard_normal(shape)
    fast, ref = np.zeros((8, h, w)), np.zeros((8, h, w))
    crisp._filter_accumulate(fast, vec, 0.5, g, xg, cx, cy)
    crisp._accumulate_oriented(ref, ndi.correlate(0.5 * vec, bx, mode="mirror"),
                               ndi.correlate(0.5 * vec, by, mode="mirror"), cx, cy)
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-13)
    # the stencil PMI is _pmi_fast's PMI (same bins), in stencil layout
    img = np.kron(cifar_images[0], np.ones((2, 2, 1), np.uint8))[:40, :45]
    h, w = img.shape[:2]
    pairs = crisp._local_pairs((h, w), 5.0)
    offsets = crisp._forward_offsets(5.0)
    per_offset = [(h - dy) * (w - abs(dx)) for dy, dx in offsets]
    which = np.repeat(np.arange(len(offsets)), per_offset)
    samples = crisp._sample_pairs((h, w), 5000, 0.25, np.random.default_rng(0))
    for kind in ("color", "var"):
        feats = crisp._feature_maps(img, kind).reshape(h * w, -1)
        for width in (0.025, 0.004):  # the second forces the bin widening loop
            np.testing.assert_array_equal(crisp._bin_features_table(feats, width)[0],
                                          crisp._bin_features_fast(feats, width)[0])
            np.testing.assert_allclose(crisp._bin_features_table(feats, width)[1],
                                       crisp._bin_features_fast(feats, width)[1], rtol=1e-15)
        total = np.empty((h * w, len(offsets)))
        top = crisp._pmi_stencil_set(total, True, feats, (h, w), offsets, samples,
                                     bandwidth=0.05, bin_width=0.025, rho=1.25, p_reg=100.0)
        expected = crisp._pmi_fast(feats, pairs, samples, bandwidth=0.05, rho=1.25,
                                   p_reg=100.0)
        np.testing.assert_allclose(total[pairs[0], which], expected, rtol=0, atol=1e-12)
        assert top == total[pairs[0], which].max()
        inside = np.zeros(total.shape, bool)
        inside[pairs[0], which] = True
        assert np.all(total[~inside] == -np.inf)


def test_dncuts_without_its_approximations_is_exact(cifar_images):
    """No decimation and the definition's bins: only the Rayleigh-Ritz step and ARPACK's
    tolerance remain, so the values are the exact ones."""
    from agreement_core.statistics.crisp import crisp_boundary_strength_reference

    images = [np.kron(cifar_images[i], np.ones((2, 2, 1), np.uint8)) for i in (0, 1)]
    values = crisp_boundary_strength(images, dncuts_levels=0, dncuts_bin_width=0.5)
    np.testing.assert_allclose(values, crisp_boundary_strength_reference(images), rtol=1e-6)
    # below radius 2 DNCuts is not used (kept pixels would lack kept neighbours): only the
    # bins differ (measured <= 1.1 % on these 64 x 64 images)
    np.testing.assert_allclose(crisp_boundary_strength(images, radius=1.5),
                               crisp_boundary_strength(images, radius=1.5, method="exact"),
                               rtol=0.03)


@pytest.fixture(scope="module")
def imagenette_val(data_root, mirror) -> np.ndarray:
    from agreement_core.data import get_dataset

    return get_dataset("imagenette", "val", root=data_root, mirror=mirror,
                       subset=1).load_array()[:3]


def test_dncuts_error_on_real_images(imagenette_val):
    """The default approximation against the reference on real 128 x 128 images.

    Measured (docs/crisp_boundaries.md): relative error of the edge sum median ~0.9 %,
    largest 3.0 % on 72 Imagenette and 4.4 % on 24 VOC train images (Spearman >= 0.995);
    on these three Imagenette val images +1.1 %, -1.7 %, -2.9 %.
    """
    import threadpoolctl

    from agreement_core.statistics.crisp import crisp_boundary_strength_reference

    approx = crisp_boundary_strength(imagenette_val)
    with threadpoolctl.threadpool_limits(1):  # the reference does not limit BLAS itself
        ref = crisp_boundary_strength_reference(imagenette_val)
    rel = approx / ref - 1
    assert np.all(np.abs(rel) <= 0.05), rel
    assert np.mean(np.abs(rel)) <= 0.025, rel
    # the map itself: same boundaries (pixel correlation measured 0.99-0.996 here)
    amap = crisp_boundary_map(imagenette_val[0])
    emap = crisp_boundary_map(imagenette_val[0], method="exact")
    assert np.corrcoef(amap.ravel(), emap.ravel())[0, 1] >= 0.97


def test_parameters_name_the_method():
    from agreement_core.statistics.engine import statistic_parameters

    params = statistic_parameters("crisp_edges")
    assert params["method"] == "dncuts"
    assert params["dncuts_levels"] == 2 and params["dncuts_bin_width"] == 1.0

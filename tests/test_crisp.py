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
    img = _blocks(2, 2, 32)
    first = crisp_boundary_strength(img[None])
    second = crisp_boundary_strength(img[None])
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(crisp_boundary_map(img), crisp_boundary_map(img.copy()))


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


def test_real_cifar_images_finite_positive(data_root, mirror):
    from agreement_core.data import get_dataset

    images = get_dataset("cifar10", "test", root=data_root, mirror=mirror,
                         subset=1).load_array()[:10]
    values = crisp_boundary_strength(images)
    assert values.shape == (10,)
    assert np.isfinite(values).all() and (values > 0).all()

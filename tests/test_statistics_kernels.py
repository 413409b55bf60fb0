"""Image-statistics kernels against the loop references in ``reference_statistics``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference_statistics import (
    dct_matrix_reference,
    reference_dct_share,
    reference_entropy,
    reference_grayscale,
    reference_segments,
    reference_sobel,
    textbook_entropy,
)

from agreement_core.data import get_dataset
from agreement_core.statistics.kernels import (
    DEFAULT_PARAMETERS,
    KERNELS,
    dct_coefficient_share,
    grayscale,
    mean_windowed_entropy,
    resize_images,
    segment_count,
    sobel_edge_strength,
)


@pytest.fixture(scope="module")
def cifar(data_root, mirror) -> np.ndarray:
    """200 CIFAR-10 mirror train images, 20 per class."""
    return get_dataset("cifar10", "train", root=data_root, mirror=mirror, subset=20).load_array()


@pytest.fixture(scope="module")
def imagenette(data_root, mirror) -> np.ndarray:
    """20 Imagenette 128x128 train images, 2 per class."""
    return get_dataset("imagenette", "train", root=data_root, mirror=mirror,
                       subset=2).load_array()


def test_grayscale_matches_reference(cifar):
    gray = grayscale(cifar[:20])
    assert gray.dtype == np.uint8 and gray.shape == (20, 32, 32)
    for image, expected in zip(cifar[:20], gray, strict=True):
        np.testing.assert_array_equal(reference_grayscale(image), expected)
    assert grayscale(np.full((1, 2, 2, 3), 255, np.uint8)).max() == 255
    torch_gray = grayscale(torch.from_numpy(cifar[:20]))
    np.testing.assert_array_equal(torch_gray.numpy(), gray)


def test_entropy_exact_cifar(cifar):
    fast = mean_windowed_entropy(cifar)
    expected = np.array([reference_entropy(image) for image in cifar])
    assert fast.dtype == np.float64 and fast.shape == (200,)
    np.testing.assert_array_equal(fast, expected)
    textbook = np.array([textbook_entropy(image) for image in cifar[:10]])
    np.testing.assert_allclose(fast[:10], textbook, rtol=1e-12)


def test_entropy_exact_imagenette(imagenette):
    fast = mean_windowed_entropy(imagenette)
    expected = np.array([reference_entropy(image) for image in imagenette])
    np.testing.assert_array_equal(fast, expected)
    np.testing.assert_array_equal(mean_windowed_entropy(torch.from_numpy(imagenette)), fast)


@pytest.mark.parametrize("window", [1, 3, 10, 32])
def test_entropy_other_windows(cifar, window):
    fast = mean_windowed_entropy(cifar[:3], window=window)
    np.testing.assert_array_equal(fast, [reference_entropy(im, window) for im in cifar[:3]])
    if window == 1:
        np.testing.assert_array_equal(fast, 0.0)


def test_dct_share_exact(cifar, imagenette):
    for images in (cifar, imagenette):
        fast = dct_coefficient_share(images)
        np.testing.assert_array_equal(fast, [reference_dct_share(im) for im in images])
    energy = dct_coefficient_share(cifar[:5], threshold=0.9999)
    np.testing.assert_array_equal(energy, [reference_dct_share(im, 0.9999) for im in cifar[:5]])


def test_scipy_dct_is_the_definition():
    import scipy.fft

    gray = np.random.default_rng(0).integers(0, 256, (6, 5)).astype(np.float64)
    np.testing.assert_allclose(scipy.fft.dctn(gray, norm="ortho"), dct_matrix_reference(gray),
                               atol=1e-10)


def test_segment_count_matches_reference(cifar, imagenette):
    for images in (cifar, imagenette):
        fast = segment_count(images)
        assert fast.dtype == np.int64
        np.testing.assert_array_equal(fast, [reference_segments(im) for im in images])
    np.testing.assert_array_equal(segment_count(cifar[:8], workers=2), segment_count(cifar[:8]))


def test_sobel_matches_reference(cifar, imagenette):
    for images in (cifar, imagenette):
        np.testing.assert_allclose(sobel_edge_strength(images),
                                   [reference_sobel(im) for im in images], rtol=1e-10)


def test_torch_path_equals_numpy(cifar):
    tensor = torch.from_numpy(cifar)
    np.testing.assert_array_equal(mean_windowed_entropy(tensor), mean_windowed_entropy(cifar))
    np.testing.assert_array_equal(dct_coefficient_share(tensor), dct_coefficient_share(cifar))
    np.testing.assert_allclose(sobel_edge_strength(tensor), sobel_edge_strength(cifar),
                               rtol=1e-12)
    np.testing.assert_array_equal(segment_count(tensor[:3]), segment_count(cifar[:3]))


def test_constant_and_zero_images():
    constant = np.full((2, 20, 24, 3), 77, np.uint8)
    zero = np.zeros((1, 20, 24), np.uint8)
    np.testing.assert_array_equal(mean_windowed_entropy(constant), 0.0)
    np.testing.assert_array_equal(segment_count(constant), 1)
    np.testing.assert_array_equal(dct_coefficient_share(constant), 100 / (20 * 24))
    np.testing.assert_array_equal(dct_coefficient_share(zero), 100 / (20 * 24))
    np.testing.assert_array_equal(sobel_edge_strength(zero), 0.0)
    tensor = torch.from_numpy(constant)
    np.testing.assert_array_equal(mean_windowed_entropy(tensor), 0.0)
    np.testing.assert_array_equal(dct_coefficient_share(tensor), 100 / (20 * 24))


@pytest.mark.parametrize("window", [2, 4, 10])
def test_checkerboard_entropy_is_one_bit(window):
    y, x = np.indices((16, 16))
    board = np.where((x + y) % 2 == 0, 0, 255).astype(np.uint8)
    rgb = np.repeat(board[None, :, :, None], 3, axis=3)
    np.testing.assert_array_equal(mean_windowed_entropy(rgb, window=window), [1.0])
    np.testing.assert_array_equal(mean_windowed_entropy(torch.from_numpy(rgb), window), [1.0])


def test_images_of_different_sizes():
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, shape, dtype=np.uint8)
              for shape in [(20, 30, 3), (40, 25, 3), (20, 30, 3)]]
    for kernel, reference in [(mean_windowed_entropy, reference_entropy),
                              (dct_coefficient_share, reference_dct_share),
                              (segment_count, reference_segments)]:
        np.testing.assert_array_equal(kernel(images), [reference(im) for im in images])
    np.testing.assert_allclose(sobel_edge_strength(images),
                               [reference_sobel(im) for im in images], rtol=1e-10)
    gray = [reference_grayscale(im) for im in images]
    np.testing.assert_array_equal(mean_windowed_entropy(gray), mean_windowed_entropy(images))
    assert resize_images(images, size=16).shape == (3, 16, 16, 3)
    assert mean_windowed_entropy([]).shape == (0,)


def test_resize_images(imagenette):
    small = resize_images(imagenette[:3], size=64)
    assert small.dtype == np.uint8 and small.shape == (3, 64, 64, 3)
    np.testing.assert_array_equal(resize_images(imagenette[:2], size=128), imagenette[:2])
    from PIL import Image

    expected = np.asarray(Image.fromarray(imagenette[0]).resize((64, 64), Image.BILINEAR))
    np.testing.assert_array_equal(small[0], expected)


def test_registry():
    assert set(KERNELS) == set(DEFAULT_PARAMETERS) == {"entropy", "dct_share", "segments",
                                                        "sobel_edges"}
    image = np.random.default_rng(2).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    for name, kernel in KERNELS.items():
        assert kernel(image, **DEFAULT_PARAMETERS[name]).shape == (2,)


@pytest.mark.parametrize("call, error", [
    (lambda: mean_windowed_entropy(np.zeros((2, 16, 16, 3))), TypeError),
    (lambda: mean_windowed_entropy(torch.zeros((2, 16, 16, 3))), TypeError),
    (lambda: mean_windowed_entropy([[1, 2], [3, 4]]), TypeError),
    (lambda: mean_windowed_entropy(np.zeros((16, 16), np.uint8)), ValueError),
    (lambda: mean_windowed_entropy(np.zeros((16, 16, 3), np.uint8)), ValueError),
    (lambda: mean_windowed_entropy(np.zeros((2, 16, 16, 4), np.uint8)), ValueError),
    (lambda: mean_windowed_entropy(np.zeros((1, 2, 16, 16, 3), np.uint8)), ValueError),
    (lambda: mean_windowed_entropy(np.zeros((2, 8, 16), np.uint8), window=10), ValueError),
    (lambda: mean_windowed_entropy(np.zeros((2, 16, 16), np.uint8), window=0), ValueError),
    (lambda: mean_windowed_entropy(np.zeros((2, 16, 16), np.uint8), window=2.0), TypeError),
    (lambda: dct_coefficient_share(np.zeros((2, 8, 8), np.uint8), threshold=0), ValueError),
    (lambda: dct_coefficient_share(np.zeros((2, 8, 8), np.uint8), threshold=1.01), ValueError),
    (lambda: dct_coefficient_share(np.zeros((2, 8, 8), np.uint8), threshold="x"), TypeError),
    (lambda: segment_count(np.zeros((2, 8, 8), np.uint8), workers=0), ValueError),
    (lambda: sobel_edge_strength(np.zeros((2, 2, 8), np.uint8)), ValueError),
    (lambda: mean_windowed_entropy([np.zeros((2, 8, 8, 3), np.uint8)]), ValueError),
])
def test_bad_input(call, error):
    with pytest.raises(error):
        call()

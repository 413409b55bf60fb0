"""Image-statistics kernels against the loop references in ``reference_statistics``.

Entropy and the DCT statistics are checked under both definitions ("paper", the default:
the paper's code; "8bit"), against loops written from the definitions and against
line-by-line transcriptions of the paper's code.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from reference_statistics import (
    dct_matrix_reference,
    paper_code_dct,
    paper_code_entropy,
    reference_dct_largest,
    reference_dct_share,
    reference_entropy,
    reference_float_grayscale,
    reference_grayscale,
    reference_segments,
    reference_sobel,
    textbook_entropy,
)

from agreement_core.data import get_dataset
from agreement_core.statistics import kernels
from agreement_core.statistics.kernels import (
    DEFAULT_PARAMETERS,
    DEFINITIONS,
    KERNELS,
    dct_coefficient_share,
    dct_largest_coefficient,
    grayscale,
    grayscale_float,
    mean_windowed_entropy,
    resize_images,
    segment_count,
    sobel_edge_strength,
)

DEFINED = [(mean_windowed_entropy, reference_entropy), (dct_coefficient_share, reference_dct_share),
           (dct_largest_coefficient, reference_dct_largest)]


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


def test_grayscale_float_matches_reference(cifar):
    gray = grayscale_float(cifar[:20])
    assert gray.dtype == np.float64 and gray.shape == (20, 32, 32)
    for image, expected in zip(cifar[:20], gray, strict=True):
        np.testing.assert_array_equal(reference_float_grayscale(image), expected)
    np.testing.assert_array_equal(grayscale_float(torch.from_numpy(cifar[:20])).numpy(), gray)
    # Not rounded: the 8-bit luma is the float luma rounded half up.
    np.testing.assert_array_equal(np.floor(gray + 0.5), grayscale(cifar[:20]))
    assert np.any(gray != np.round(gray))
    assert grayscale_float(np.full((1, 2, 2, 3), 255, np.uint8)).max() == 0.2989 * 255 + \
        0.5870 * 255 + 0.1140 * 255  # 254.97...: the weights sum to 0.9999


def test_the_default_is_the_papers_definition(cifar):
    for name in ("entropy", "dct_share", "dct_largest"):
        assert DEFAULT_PARAMETERS[name]["definition"] == "paper"
        signature = inspect.signature(KERNELS[name])
        assert signature.parameters["definition"].default == "paper"
    assert DEFINITIONS == ("paper", "8bit")
    images = cifar[:10]
    for kernel, _ in DEFINED:
        np.testing.assert_array_equal(kernel(images), kernel(images, definition="paper"))
        assert not np.array_equal(kernel(images), kernel(images, definition="8bit"))


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_entropy_exact_cifar(cifar, definition):
    fast = mean_windowed_entropy(cifar, definition=definition)
    expected = np.array([reference_entropy(image, definition=definition) for image in cifar])
    assert fast.dtype == np.float64 and fast.shape == (200,)
    np.testing.assert_array_equal(fast, expected)
    textbook = np.array([textbook_entropy(image, definition=definition) for image in cifar[:10]])
    np.testing.assert_allclose(fast[:10], textbook, rtol=1e-12)


def test_entropy_is_the_paper_codes(cifar):
    """The default equals the paper's ``img_entropy`` (to summation order) and is higher than
    the 8-bit variant: ~6.5 bits on CIFAR-10, the paper's figure."""
    fast = mean_windowed_entropy(cifar)
    code = np.array([paper_code_entropy(image) for image in cifar[:20]])
    np.testing.assert_allclose(fast[:20], code, rtol=1e-12)
    eight_bit = mean_windowed_entropy(cifar, definition="8bit")
    assert np.all(fast >= eight_bit)
    assert 6.3 < fast.mean() < 6.7 and 5.4 < eight_bit.mean() < 5.9


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_entropy_exact_imagenette(imagenette, definition):
    fast = mean_windowed_entropy(imagenette, definition=definition)
    expected = np.array([reference_entropy(image, definition=definition)
                         for image in imagenette])
    np.testing.assert_array_equal(fast, expected)
    np.testing.assert_array_equal(
        mean_windowed_entropy(torch.from_numpy(imagenette), definition=definition), fast)


@pytest.mark.parametrize("definition", DEFINITIONS)
@pytest.mark.parametrize("window", [1, 3, 10, 32])
def test_entropy_other_windows(cifar, window, definition):
    fast = mean_windowed_entropy(cifar[:3], window=window, definition=definition)
    np.testing.assert_array_equal(fast, [reference_entropy(im, window, definition)
                                         for im in cifar[:3]])
    np.testing.assert_array_equal(
        mean_windowed_entropy(torch.from_numpy(cifar[:3]), window, definition), fast)
    if window == 1:
        np.testing.assert_array_equal(fast, 0.0)


def test_entropy_torch_blocks(imagenette):
    """The sorting torch kernel gives the same counts in blocks of images and of rows."""
    gray = grayscale_float(torch.from_numpy(imagenette[:3]))
    labels = kernels._distinct_value_labels(gray.numpy())
    expected = kernels._window_count_histogram(labels, 10, 128 * 128)
    for budget in (2**24, 100 * 119 * 5, 1):  # whole images, 5 window rows, one row
        np.testing.assert_array_equal(
            kernels._window_count_histogram_sorted_torch(gray, 10, budget)[:, 1:],
            expected[:, 1:])


def test_float_luma_edge_cases():
    """Colours with the same 8-bit luma but different float luma; luma equal in exact
    arithmetic but not in float64 (as in the paper's code, they count as two values)."""
    pair = np.zeros((1, 10, 10, 3), np.uint8)
    pair[0, :, 5:] = (0, 0, 4)  # float luma 0.456, 8-bit luma 0
    assert mean_windowed_entropy(pair, definition="8bit")[0] == 0.0
    assert mean_windowed_entropy(pair)[0] == 1.0
    assert dct_coefficient_share(pair, definition="8bit")[0] == 1.0  # one coefficient: 1 %
    assert dct_coefficient_share(pair)[0] > 0
    tie = np.zeros((1, 10, 10, 3), np.uint8)
    tie[0, :, :5], tie[0, :, 5:] = (0, 0, 129), (30, 9, 4)  # 2989*30 + 5870*9 + 1140*4 = ...
    assert 2989 * 30 + 5870 * 9 + 1140 * 4 == 1140 * 129  # ... equal luma, 14.706
    gray = grayscale_float(tie)[0]
    assert gray[0, 0] != gray[0, 9]  # but not as float64 doubles
    assert mean_windowed_entropy(tie)[0] == 1.0 == reference_entropy(tie[0])
    assert mean_windowed_entropy(torch.from_numpy(tie))[0] == 1.0
    assert paper_code_entropy(tie[0]) == 1.0
    # Every pixel a distinct colour: each 10x10 window holds 100 values, log2(100) bits.
    y, x = np.indices((12, 13))
    distinct = np.stack([y * 13 + x, np.zeros_like(y), np.zeros_like(y)], -1).astype(np.uint8)
    assert mean_windowed_entropy(distinct[None])[0] == pytest.approx(math.log2(100), rel=1e-15)
    assert mean_windowed_entropy(distinct[None], definition="8bit")[0] < math.log2(100)


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_dct_share_exact(cifar, imagenette, definition):
    for images in (cifar, imagenette):
        fast = dct_coefficient_share(images, definition=definition)
        np.testing.assert_array_equal(fast, [reference_dct_share(im, definition=definition)
                                             for im in images])
        largest = dct_largest_coefficient(images, definition=definition)
        np.testing.assert_array_equal(largest, [reference_dct_largest(im, definition)
                                                for im in images])
    energy = dct_coefficient_share(cifar[:5], threshold=0.9999, definition=definition)
    np.testing.assert_array_equal(energy, [reference_dct_share(im, 0.9999, definition)
                                           for im in cifar[:5]])


def test_dct_is_the_paper_codes(cifar):
    """The paper's ``img_frequency`` (float32 torch) within its float32 rounding: the share
    within one coefficient (equal on most images), the largest coefficient to 1e-6."""
    share, largest = dct_coefficient_share(cifar), dct_largest_coefficient(cifar)
    code = np.array([paper_code_dct(image) for image in cifar])
    steps = np.round((code[:, 0] - share) * 1024 / 100)
    assert np.all(np.abs(steps) <= 1) and np.mean(steps == 0) > 0.9
    np.testing.assert_allclose(code[:, 1], largest, rtol=1e-6)


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


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_torch_path_equals_numpy(cifar, definition):
    tensor = torch.from_numpy(cifar)
    for kernel in (mean_windowed_entropy, dct_coefficient_share):
        np.testing.assert_array_equal(kernel(tensor, definition=definition),
                                      kernel(cifar, definition=definition))
    np.testing.assert_allclose(dct_largest_coefficient(tensor, definition=definition),
                               dct_largest_coefficient(cifar, definition=definition), rtol=1e-12)
    np.testing.assert_allclose(sobel_edge_strength(tensor), sobel_edge_strength(cifar),
                               rtol=1e-12)
    np.testing.assert_array_equal(segment_count(tensor[:3]), segment_count(cifar[:3]))


def test_constant_and_zero_images():
    constant = np.full((2, 20, 24, 3), 77, np.uint8)
    zero = np.zeros((1, 20, 24), np.uint8)
    np.testing.assert_array_equal(segment_count(constant), 1)
    np.testing.assert_array_equal(sobel_edge_strength(zero), 0.0)
    # The paper's code reports c - 1 coefficients: 0 for one (the DC term) or an all-zero image.
    for definition, share in [("paper", 0.0), ("8bit", 100 / (20 * 24))]:
        for images in (constant, zero, torch.from_numpy(constant)):
            np.testing.assert_array_equal(mean_windowed_entropy(images, definition=definition),
                                          0.0)
            np.testing.assert_array_equal(dct_coefficient_share(images, definition=definition),
                                          share)
    # The largest coefficient is the DC term, sqrt(H W) * gray / 255 ([0, 1] scale).
    float_gray = 0.2989 * 77 + 0.5870 * 77 + 0.1140 * 77
    np.testing.assert_allclose(dct_largest_coefficient(constant),
                               math.sqrt(20 * 24) * float_gray / 255, rtol=1e-14)
    np.testing.assert_allclose(dct_largest_coefficient(constant, definition="8bit"),
                               math.sqrt(20 * 24) * 77 / 255, rtol=1e-14)
    np.testing.assert_array_equal(dct_largest_coefficient(zero), 0.0)


@pytest.mark.parametrize("definition", DEFINITIONS)
@pytest.mark.parametrize("window", [2, 4, 10])
def test_checkerboard_entropy_is_one_bit(window, definition):
    y, x = np.indices((16, 16))
    board = np.where((x + y) % 2 == 0, 0, 255).astype(np.uint8)
    rgb = np.repeat(board[None, :, :, None], 3, axis=3)
    for images in (rgb, torch.from_numpy(rgb)):
        np.testing.assert_array_equal(mean_windowed_entropy(images, window, definition), [1.0])


def test_images_of_different_sizes():
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, shape, dtype=np.uint8)
              for shape in [(20, 30, 3), (40, 25, 3), (20, 30, 3)]]
    for kernel, reference in [*DEFINED, (segment_count, reference_segments)]:
        np.testing.assert_array_equal(kernel(images), [reference(im) for im in images])
    for kernel, reference in DEFINED:
        np.testing.assert_array_equal(kernel(images, definition="8bit"),
                                      [reference(im, definition="8bit") for im in images])
    np.testing.assert_allclose(sobel_edge_strength(images),
                               [reference_sobel(im) for im in images], rtol=1e-10)
    gray = [reference_grayscale(im) for im in images]
    np.testing.assert_array_equal(mean_windowed_entropy(gray, definition="8bit"),
                                  mean_windowed_entropy(images, definition="8bit"))
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
    assert set(KERNELS) == set(DEFAULT_PARAMETERS) == {"entropy", "dct_share", "dct_largest",
                                                        "segments", "sobel_edges"}
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
    (lambda: mean_windowed_entropy(np.zeros((2, 16, 16), np.uint8), definition="float"),
     ValueError),
    (lambda: dct_coefficient_share(np.zeros((2, 8, 8), np.uint8), definition=None), TypeError),
    (lambda: dct_largest_coefficient(np.zeros((2, 8, 8), np.uint8), definition="8-bit"),
     ValueError),
    (lambda: dct_largest_coefficient(np.zeros((2, 8, 8))), TypeError),
    (lambda: grayscale_float(np.zeros((2, 8, 8, 3), np.float32)), TypeError),
    (lambda: segment_count(np.zeros((2, 8, 8), np.uint8), workers=0), ValueError),
    (lambda: sobel_edge_strength(np.zeros((2, 2, 8), np.uint8)), ValueError),
    (lambda: mean_windowed_entropy([np.zeros((2, 8, 8, 3), np.uint8)]), ValueError),
])
def test_bad_input(call, error):
    with pytest.raises(error):
        call()

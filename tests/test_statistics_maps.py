"""The per-pixel maps of Fig. 3 summarise to exactly the statistics the study correlates."""

import numpy as np
import pytest

from agreement_core.statistics import (
    dct_coefficient_share,
    mean_windowed_entropy,
    segment_count,
    sobel_edge_strength,
)
from agreement_core.statistics.kernels import DEFINITIONS, dct_largest_coefficient
from agreement_core.statistics.maps import (
    dct_map,
    entropy_map,
    segmentation,
    sobel_map,
    statistic_maps,
)


@pytest.fixture(scope="module")
def images(data_root, mirror):
    from agreement_core.data import CIFAR10

    return CIFAR10("train", root=data_root, mirror=mirror, subset=2).load_array()


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_maps_summarise_to_the_statistics(images, definition):
    for image in images:
        batch = image[None]
        assert entropy_map(image, definition=definition).mean() == pytest.approx(
            mean_windowed_entropy(batch, definition=definition)[0], rel=1e-12)
        assert sobel_map(image).sum() == pytest.approx(sobel_edge_strength(batch)[0], rel=1e-12)
        coefficients, kept = dct_map(image, definition=definition)
        assert 100 * kept.mean() == dct_coefficient_share(batch, definition=definition)[0]
        assert np.abs(coefficients).max() / 255 == dct_largest_coefficient(
            batch, definition=definition)[0]
        assert len(np.unique(segmentation(image))) == segment_count(batch)[0]


def test_maps_default_to_the_papers_definition(images):
    image = images[0]
    np.testing.assert_array_equal(entropy_map(image), entropy_map(image, definition="paper"))
    assert entropy_map(image).mean() > entropy_map(image, definition="8bit").mean()
    # The paper's share counts one coefficient fewer than reach the threshold: for a
    # constant image none, where the DC term alone reaches it.
    constant = np.full((12, 12, 3), 90, np.uint8)
    assert dct_map(constant)[1].sum() == 0
    assert dct_map(constant, definition="8bit")[1].sum() == 1
    assert dct_map(constant, definition="8bit")[1][0, 0]
    np.testing.assert_array_equal(statistic_maps(image)["entropy"], entropy_map(image))


def test_map_shapes_and_validation(images):
    maps = statistic_maps(images[0])
    assert maps["entropy"].shape == (23, 23) and maps["sobel"].shape == (30, 30)
    assert maps["dct"].shape == maps["dct_kept"].shape == (32, 32)
    assert maps["segments"].shape == (32, 32)
    with pytest.raises(ValueError, match="uint8"):
        entropy_map(images[0].astype(float))
    with pytest.raises(ValueError, match="smaller"):
        entropy_map(images[0][:5, :5])
    with pytest.raises(ValueError, match="definition"):
        entropy_map(images[0], definition="float")

"""The per-pixel maps of Fig. 3 summarise to exactly the statistics the study correlates."""

import numpy as np
import pytest

from agreement_core.statistics import (
    dct_coefficient_share,
    mean_windowed_entropy,
    segment_count,
    sobel_edge_strength,
)
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


def test_maps_summarise_to_the_statistics(images):
    for image in images:
        batch = image[None]
        assert entropy_map(image).mean() == pytest.approx(mean_windowed_entropy(batch)[0],
                                                          rel=1e-12)
        assert sobel_map(image).sum() == pytest.approx(sobel_edge_strength(batch)[0], rel=1e-12)
        _, kept = dct_map(image)
        assert 100 * kept.mean() == dct_coefficient_share(batch)[0]
        assert len(np.unique(segmentation(image))) == segment_count(batch)[0]


def test_map_shapes_and_validation(images):
    maps = statistic_maps(images[0])
    assert maps["entropy"].shape == (23, 23) and maps["sobel"].shape == (30, 30)
    assert maps["dct"].shape == maps["dct_kept"].shape == (32, 32)
    assert maps["segments"].shape == (32, 32)
    with pytest.raises(ValueError, match="uint8"):
        entropy_map(images[0].astype(float))
    with pytest.raises(ValueError, match="smaller"):
        entropy_map(images[0][:5, :5])

"""Image statistics: vectorised kernels, dataset factors and the batch engine.

Kernels (one function per statistic, batched, exact definitions in their docstrings):
mean windowed entropy, DCT coefficient share, Felzenszwalb-Huttenlocher segment count,
Sobel gradient-magnitude edge strength, and crisp-boundary edge strength after Isola et al.
:func:`compute_statistics` runs them over a dataset split into a cached parquet table.
"""

from .crisp import crisp_boundary_map, crisp_boundary_strength
from .engine import (
    DEFAULT_STATISTICS,
    STATISTICS,
    compute_statistics,
    read_statistics,
    read_statistics_tables,
    statistics_spec,
    statistics_table_path,
)
from .factors import cifar10h_entropy, dataset_factors, soft_label_entropy
from .kernels import (
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

__all__ = [
    "DEFAULT_PARAMETERS", "DEFAULT_STATISTICS", "DEFINITIONS", "KERNELS", "STATISTICS",
    "cifar10h_entropy", "compute_statistics", "crisp_boundary_map", "crisp_boundary_strength",
    "dataset_factors", "dct_coefficient_share", "dct_largest_coefficient", "grayscale",
    "grayscale_float", "mean_windowed_entropy", "read_statistics", "read_statistics_tables",
    "resize_images", "segment_count", "sobel_edge_strength", "soft_label_entropy",
    "statistics_spec", "statistics_table_path",
]

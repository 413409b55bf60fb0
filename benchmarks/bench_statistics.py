"""Benchmark: vectorised image-statistics kernels vs. the loop references of the tests.

For each statistic, images per second of the kernel (``agreement_core.statistics.kernels``)
and of the reference loop (``tests/reference_statistics.py``) on the same CIFAR-10 mirror
train images (32x32) and Imagenette images (128x128), the speed-up, and the per-image time
of the fast kernel (to estimate whole-dataset cost). The values must agree (entropy and DCT
share exactly, segments exactly, Sobel to rtol 1e-10), otherwise the benchmark fails.

Usage::

    python benchmarks/bench_statistics.py --cifar 500 --imagenette 50
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import threadpoolctl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from reference_statistics import (  # noqa: E402
    reference_dct_share,
    reference_entropy,
    reference_segments,
    reference_sobel,
)

from agreement_core.data import get_dataset  # noqa: E402
from agreement_core.statistics import (  # noqa: E402
    crisp_boundary_strength,
    dct_coefficient_share,
    mean_windowed_entropy,
    segment_count,
    sobel_edge_strength,
)

CASES = [
    ("entropy", mean_windowed_entropy, reference_entropy, 0.0, 100),
    ("dct_share", dct_coefficient_share, reference_dct_share, 0.0, 30),
    ("segments", segment_count, reference_segments, 0.0, None),
    ("sobel_edges", sobel_edge_strength, reference_sobel, 1e-10, None),
]


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _reference_all(reference, images) -> np.ndarray:
    return np.array([reference(image) for image in images])


def main(argv=None) -> int:
    default_mirror = os.environ.get("AGREEMENT_MIRROR") or str(REPO.parent / "shared" / "datasets")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=str(REPO / ".bench" / "data"))
    parser.add_argument("--mirror", default=default_mirror)
    parser.add_argument("--cifar", type=int, default=500, help="CIFAR-10 train images")
    parser.add_argument("--imagenette", type=int, default=50, help="Imagenette train images")
    parser.add_argument("--reference-imagenette", type=int, default=None,
                        help="run the (slow) references on only this many Imagenette images")
    parser.add_argument("--crisp", type=int, default=10,
                        help="images per dataset for the crisp-boundary cost")
    args = parser.parse_args(argv)

    sets = []
    for name, n in [("cifar10", args.cifar), ("imagenette", args.imagenette)]:
        if n <= 0:
            continue
        # subset=k takes k images per class (10 classes); keep the first n.
        ds = get_dataset(name, "train", root=args.data_root, mirror=args.mirror,
                         subset=max(1, -(-n // 10)))
        images = ds.load_array()[:n]
        sets.append((name, images))
        print(f"{name}: {images.shape} uint8")

    rows, failures = [], []
    for data_name, images in sets:
        n_ref = len(images)
        if data_name == "imagenette" and args.reference_imagenette:
            n_ref = min(n_ref, args.reference_imagenette)
        for stat, fast, reference, rtol, goal in CASES:
            fast(images[:2])  # warm-up: numba loads its compiled kernels on the first call
            ref_values, ref_time = _timed(_reference_all, reference, images[:n_ref])
            values, fast_time = _timed(fast, images)
            ok = (np.array_equal(values[:n_ref], ref_values) if rtol == 0 else
                  np.allclose(values[:n_ref], ref_values, rtol=rtol, atol=0))
            if not ok:
                failures.append(f"{data_name} {stat}")
            fast_ips, ref_ips = len(images) / fast_time, n_ref / ref_time
            rows.append((data_name, stat, fast_ips, ref_ips, fast_ips / ref_ips,
                         1e3 * fast_time / len(images), goal, ok))

    header = (f"{'data':<11}{'statistic':<23}{'fast img/s':>12}{'ref img/s':>11}"
              f"{'speed-up':>10}{'fast ms/img':>13}{'60k CIFAR s':>13}  goal        agree")
    print(header)
    print("-" * len(header))
    for data, stat, fast_ips, ref_ips, ratio, ms, goal, ok in rows:
        whole = f"{60000 * ms / 1e3:13.1f}" if data == "cifar10" else f"{'':>13}"
        goal_text = "" if goal is None else f">={goal}x " + ("met" if ratio >= goal else "MISSED")
        print(f"{data:<11}{stat:<23}{fast_ips:12.1f}{ref_ips:11.1f}{ratio:9.1f}x{ms:13.3f}"
              f"{whole}  {goal_text:<12}{'yes' if ok else 'NO'}")

    # Crisp boundaries have no loop reference (the method is the reference): cost per image,
    # one BLAS thread as in the engine's workers.
    with threadpoolctl.threadpool_limits(1):
        for data_name, images in sets:
            sample = images[:args.crisp]
            crisp_boundary_strength(sample[:1])
            _, seconds = _timed(crisp_boundary_strength, sample)
            h, w = sample.shape[1:3]
            print(f"crisp_edges {data_name} {h}x{w}: {seconds / len(sample):.3f} s per image "
                  f"({len(sample)} images, 1 BLAS thread)")
    if failures:
        print("values disagree:", ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: vectorised image-statistics kernels vs. the loop references of the tests.

For each statistic, images per second of the kernel (``agreement_core.statistics.kernels``)
and of the reference loop (``tests/reference_statistics.py``) on the same CIFAR-10 mirror
train images (32x32) and Imagenette images (128x128), the speed-up, and the per-image time
of the fast kernel (to estimate whole-dataset cost). The values must agree (entropy and DCT
share exactly, segments exactly, Sobel to rtol 1e-10), otherwise the benchmark fails.

Crisp-boundary edge strength: the previous implementation (``crisp_boundary_strength_reference``),
the default approximation (``crisp_boundary_strength``, ``method="dncuts"``) and the exact
computation (``method="exact"``) on the same images in this process, one BLAS thread,
alternated image by image and repeated (best of ``--crisp-repeats`` per image, so that a
background load hits all alike). Reported side by side: seconds per image (wall clock and
CPU time of this process; on a loaded machine the CPU-time ratio is the steadier one), the
speed-up over the reference, the median and largest relative difference of the sums from the
reference and the Spearman rank correlation with the reference sums; then the throughput of
``crisp_boundary_strength_parallel`` (default method) on all cores and the projected wall
time for all 3,426 VOC and 1,200 DTD images. ``--crisp-voc N`` / ``--crisp-dtd N`` add N
Pascal VOC / DTD images (short side 256, evenly spaced over the train split).
``method="exact"`` must agree with the reference to 1e-6; the approximation fails the
benchmark only beyond 10 % (its measured error is a few per cent at most).

Usage::

    python benchmarks/bench_statistics.py --cifar 500 --imagenette 50
    python benchmarks/bench_statistics.py --cifar 0 --imagenette 24 --crisp 24 --crisp-voc 24 \
        --crisp-dtd 8 --skip-kernels
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import threadpoolctl
from scipy.stats import spearmanr

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
    dct_coefficient_share,
    mean_windowed_entropy,
    segment_count,
    sobel_edge_strength,
)
from agreement_core.statistics.crisp import (  # noqa: E402
    crisp_boundary_strength,
    crisp_boundary_strength_parallel,
    crisp_boundary_strength_reference,
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


#: Images of the whole study datasets, for the projected wall time.
STUDY_IMAGES = {"voc": 3426, "dtd": 1200}


def _timed_both(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _compare_crisp(data_name: str, sample: list, repeats: int, workers: int | None,
                   exact: bool) -> tuple[bool, float]:
    """Reference, default (approximate) and exact crisp sums side by side, alternated image
    by image. Returns (values acceptable, parallel wall seconds per image)."""
    variants = {"reference": (crisp_boundary_strength_reference, {}),
                "dncuts (default)": (crisp_boundary_strength, {})}
    if exact:
        variants["exact"] = (crisp_boundary_strength, {"method": "exact"})
    crisp_boundary_strength(sample[:1])  # compile (numba caches on disk) and warm up
    crisp_boundary_strength(sample[:1], method="exact")
    n = len(sample)
    wall = {name: np.full(n, np.inf) for name in variants}
    cpu = {name: np.full(n, np.inf) for name in variants}
    values = {name: np.zeros(n) for name in variants}
    with threadpoolctl.threadpool_limits(1):
        for _ in range(max(1, repeats)):
            for i, image in enumerate(sample):  # alternate: ref, default, exact, ref, ...
                for name, (fn, kwargs) in variants.items():
                    out, seconds, cpu_seconds = _timed_both(fn, [image], **kwargs)
                    values[name][i] = out[0]
                    wall[name][i] = min(wall[name][i], seconds)
                    cpu[name][i] = min(cpu[name][i], cpu_seconds)
    _, parallel_seconds = _timed(crisp_boundary_strength_parallel, sample, workers=workers)
    cores = workers or len(os.sched_getaffinity(0))
    sizes = sorted({f"{im.shape[0]}x{im.shape[1]}" for im in sample})
    print(f"\ncrisp_edges {data_name} ({n} images, {', '.join(sizes[:3])}"
          f"{', ...' if len(sizes) > 3 else ''}; 1 BLAS thread, best of {max(1, repeats)}, "
          f"alternated):")
    print(f"  {'variant':<17}{'wall s/img':>11}{'cpu s/img':>11}{'speed-up wall':>15}"
          f"{'speed-up cpu':>14}{'per image (cpu)':>17}{'median rel':>12}{'max rel':>10}"
          f"{'Spearman':>10}")
    ref = values["reference"]
    ok = True
    for name in variants:
        rel = np.abs(values[name] - ref) / np.abs(ref).clip(1e-300)
        rho = spearmanr(values[name], ref)[0] if n > 2 else float("nan")
        per_image = cpu["reference"] / cpu[name]
        print(f"  {name:<17}{wall[name].mean():11.3f}{cpu[name].mean():11.3f}"
              f"{wall['reference'].sum() / wall[name].sum():14.1f}x"
              f"{cpu['reference'].sum() / cpu[name].sum():13.1f}x"
              f"{per_image.min():8.1f}-{per_image.max():.1f}x"
              f"{np.median(rel):12.2e}{rel.max():10.2e}{rho:10.4f}")
        if name == "exact":
            ok &= bool(rel.max() <= 1e-6)
        elif name != "reference":
            ok &= bool(rel.max() <= 0.1)
    print(f"  all {cores} cores (crisp_boundary_strength_parallel, default method): "
          f"{parallel_seconds / n:8.3f} s/img wall, "
          f"{wall['reference'].sum() / parallel_seconds:6.1f}x the reference on 1 core")
    return ok, parallel_seconds / n


def _evenly_spaced(name: str, n: int, root: str, mirror: str) -> list:
    ds = get_dataset(name, "train", root=root, mirror=mirror)
    return list(ds.load_batch(np.linspace(0, len(ds) - 1, n).astype(int)))


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
                        help="images per dataset for the crisp-boundary comparison")
    parser.add_argument("--crisp-repeats", type=int, default=2,
                        help="alternated repeats per image (best of) for the crisp comparison")
    parser.add_argument("--crisp-voc", type=int, default=0,
                        help="also compare on this many Pascal VOC train images (slow)")
    parser.add_argument("--crisp-dtd", type=int, default=0,
                        help="also compare on this many DTD train images (slow)")
    parser.add_argument("--no-crisp-exact", action="store_true",
                        help="leave method='exact' out of the crisp comparison (it costs "
                             "about as much as the reference)")
    parser.add_argument("--skip-kernels", action="store_true",
                        help="only the crisp-boundary comparison")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for the all-core crisp figure (default: all cores)")
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
    for data_name, images in ([] if args.skip_kernels else sets):
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

    if rows:
        header = (f"{'data':<11}{'statistic':<23}{'fast img/s':>12}{'ref img/s':>11}"
                  f"{'speed-up':>10}{'fast ms/img':>13}{'60k CIFAR s':>13}  goal        agree")
        print(header)
        print("-" * len(header))
    for data, stat, fast_ips, ref_ips, ratio, ms, goal, ok in rows:
        whole = f"{60000 * ms / 1e3:13.1f}" if data == "cifar10" else f"{'':>13}"
        goal_text = "" if goal is None else f">={goal}x " + ("met" if ratio >= goal else "MISSED")
        print(f"{data:<11}{stat:<23}{fast_ips:12.1f}{ref_ips:11.1f}{ratio:9.1f}x{ms:13.3f}"
              f"{whole}  {goal_text:<12}{'yes' if ok else 'NO'}")

    # Crisp boundaries: reference vs default (approximate) vs exact, alternated, 1 BLAS thread.
    crisp_sets = [(name, list(images[:args.crisp])) for name, images in sets]
    for name, n in [("voc", args.crisp_voc), ("dtd", args.crisp_dtd)]:
        if n > 0:
            crisp_sets.append((name, _evenly_spaced(name, n, args.data_root, args.mirror)))
    projected = {}
    for data_name, sample in crisp_sets:
        if not sample:
            continue
        ok, parallel_per_image = _compare_crisp(data_name, sample, args.crisp_repeats,
                                                args.workers, not args.no_crisp_exact)
        if not ok:
            failures.append(f"{data_name} crisp_edges")
        if data_name in STUDY_IMAGES:
            projected[data_name] = STUDY_IMAGES[data_name] * parallel_per_image
    if projected:
        cores = args.workers or len(os.sched_getaffinity(0))
        parts = ", ".join(f"{STUDY_IMAGES[k]} {k} {v / 60:.1f} min" for k, v in projected.items())
        print(f"\nprojected wall time of crisp_boundary_strength_parallel on {cores} cores: "
              f"{parts}; total {sum(projected.values()) / 60:.1f} min")
    if failures:
        print("values disagree:", ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

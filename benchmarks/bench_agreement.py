"""Benchmark: streaming agreement metrics vs. a dense naive reference.

Builds (once, then reuses) a synthetic record store of K networks x E epochs x N examples
(default: ImageNet scale, K=5, E=100, N=1.28M, 1000 classes) and measures wall time and peak
memory of

(a) the per-epoch table: ``agreement_table`` (ours) vs. dense int64 (K, E, N) correctness with
    ``np.prod`` / ``np.max`` over networks per epoch (the paper's published code style);
(b) the per-example columns: ``example_dynamics_table`` (ours) vs. the dense array with a loop
    over epochs for the agreed-from epoch.

Every measurement runs in its own spawned process; peak memory is that process's VmHWM
minus its VmHWM after imports. The two implementations' TPa per epoch and agreed-from epochs
must be identical, otherwise the benchmark fails.

(c) the cost of verifying every record file read (identity and CRC-32 from its header, see
    ``docs/records.md``): (a) and (b) of ours timed with ``RecordStore.open(verify=True)`` and
    ``verify=False`` side by side, alternating in one process, best of ``--repeats``; the
    overhead ratio is verified s / unverified s (budget: 1.10).

Usage::

    python benchmarks/bench_agreement.py                        # full size
    python benchmarks/bench_agreement.py --examples 20000 --epochs 10   # smoke
    python benchmarks/bench_agreement.py --examples 200000 --epochs 30  # 2-core machine
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import resource
import sys
import time
from pathlib import Path

import numpy as np

from agreement_core.agreement import agreement_table, example_dynamics_table
from agreement_core.records import RecordStore, upgrade_store

REPO = Path(__file__).resolve().parents[1]
SPLIT = "train"


# ---------------------------------------------------------------------- synthetic store
def _latent(seed: int, n: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 0])
    targets = rng.integers(0, n_classes, size=n, dtype=np.int16)
    difficulty = rng.random(n, dtype=np.float32)
    return targets, difficulty


def _fill_network(path: str, k: int, seed: int) -> int:
    """Write every missing epoch of network k; returns the number of files written."""
    store = RecordStore.open(path)
    n, n_epochs, n_classes = store.num_examples(SPLIT), store.num_epochs, store.num_classes
    targets, difficulty = _latent(seed, n, n_classes)
    rng = np.random.default_rng([seed, 1, k])
    # Per (network, example) offset: a network keeps what it learned (few forgetting events);
    # the shared difficulty correlates networks.
    persistent = difficulty + np.float32(0.15) * rng.standard_normal(n, dtype=np.float32)
    written = 0
    for t in range(1, n_epochs + 1):
        noise = rng.standard_normal(n, dtype=np.float32)
        wrong_offset = rng.integers(1, n_classes, size=n, dtype=np.int16)
        if store.has_epoch(k, SPLIT, t):
            continue  # random draws above keep the stream identical on resume
        # Accuracy rises fast first, then saturates (~5 % -> ~90 %).
        level = -0.1 + 1.1 * (1 - np.exp(-4 * t / n_epochs)) / (1 - np.exp(-4))
        correct = persistent + np.float32(0.05) * noise < level
        wrong = ((targets.astype(np.int32) + wrong_offset) % n_classes).astype(np.int16)
        store.write_epoch(k, SPLIT, t, np.where(correct, targets, wrong))
        written += 1
    return written


def build_store(workdir: Path, k: int, e: int, n: int, c: int, seed: int) -> RecordStore:
    path = workdir / f"synthetic-K{k}-E{e}-N{n}-C{c}-s{seed}"
    if (path / "meta.json").exists() and upgrade_store(path):  # no-op unless schema 1
        print(f"upgraded {path} to the current record format")
    targets, _ = _latent(seed, n, c)
    store = RecordStore.create(
        path, num_networks=k, num_epochs=e, num_classes=c,
        splits={SPLIT: (np.arange(n, dtype=np.int64), targets)},
        config={"synthetic": True, "seed": seed}, seeds=list(range(k)), exist_ok=True)
    if store.available_epochs(SPLIT) < e:
        t0 = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        # One job per network writing into the same store, as training jobs would.
        with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
            files = sum(pool.map(_fill_network, [str(path)] * k, range(k), [seed] * k))
        print(f"built {path} ({files} epoch files) in {time.perf_counter() - t0:.1f} s")
    else:
        print(f"reusing {path}")
    return store


# ---------------------------------------------------------------------- measurements
def _hwm_mib() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _naive_load(store: RecordStore) -> np.ndarray:
    """Dense int64 (K, E, N) correctness, as the paper's published code keeps it."""
    k, e, n = store.num_networks, store.num_epochs, store.num_examples(SPLIT)
    targets = store.targets(SPLIT)
    correct = np.zeros((k, e, n), dtype=np.int64)
    for i in range(k):
        for t in range(e):
            correct[i, t] = (store.read_predictions(i, SPLIT, t + 1) == targets).astype(np.int64)
    return correct


def _naive_table(store: RecordStore) -> np.ndarray:
    correct = _naive_load(store)
    tpa = np.zeros(correct.shape[1])
    for t in range(correct.shape[1]):
        n_all = np.sum(np.prod(correct[:, t], axis=0))
        n_any = np.sum(np.max(correct[:, t], axis=0))
        tpa[t] = n_all / n_any if n_any else 0.0
    return tpa


def _naive_dynamics(store: RecordStore) -> np.ndarray:
    """Agreed-from epochs, float with NaN for never agreed (as ours converts to)."""
    correct = _naive_load(store)
    all_correct = np.prod(correct, axis=0)  # (E, N)
    agreed = np.full(all_correct.shape[1], np.nan)
    still = np.ones(all_correct.shape[1], dtype=np.int64)
    for t in range(all_correct.shape[0] - 1, -1, -1):  # from the last epoch backwards
        still = still * all_correct[t]
        agreed = np.where(still == 1, t + 1, agreed)
    return agreed


def _ours_table(store: RecordStore) -> np.ndarray:
    return agreement_table(store, SPLIT)["tpa"].to_numpy()


def _ours_dynamics(store: RecordStore) -> np.ndarray:
    column = example_dynamics_table(store, SPLIT)["agreed_from_epoch"]  # Int16, <NA> = never
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


TASKS = {"ours_table": _ours_table, "ours_dynamics": _ours_dynamics,
         "naive_table": _naive_table, "naive_dynamics": _naive_dynamics}


def _measure(task: str, path: str) -> tuple[float, float, np.ndarray]:
    """Run in a fresh process: (seconds, peak MiB above the post-import baseline, result)."""
    store = RecordStore.open(path)
    base = _hwm_mib()
    t0 = time.perf_counter()
    result = TASKS[task](store)
    seconds = time.perf_counter() - t0
    return seconds, _hwm_mib() - base, result


def measure(task: str, path: Path) -> tuple[float, float, np.ndarray]:
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_measure, task, str(path)).result()


def _measure_verification(task: str, path: str, repeats: int) -> dict[bool, float]:
    """Best-of-``repeats`` seconds of ``task`` with and without verification (one process).

    The two settings alternate, and swap which goes first each round, so that drift (page
    cache, other load, CPU clock) affects both alike.
    """
    best = {True: float("inf"), False: float("inf")}
    for i in range(repeats):
        for verify in ((True, False) if i % 2 == 0 else (False, True)):
            store = RecordStore.open(path, verify=verify)  # fresh: no cached targets
            t0 = time.perf_counter()
            TASKS[task](store)
            best[verify] = min(best[verify], time.perf_counter() - t0)
    return best


def measure_verification(task: str, path: Path, repeats: int) -> dict[bool, float]:
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_measure_verification, task, str(path), repeats).result()


def _warm_page_cache(path: Path) -> None:
    # Read every file once so that neither side pays for a cold disk.
    for f in sorted(path.rglob("*.npz")):
        f.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--examples", type=int, default=1_280_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per setting for the verification overhead (best of)")
    parser.add_argument("--workdir", type=Path, default=REPO / ".bench" / "agreement")
    args = parser.parse_args(argv)

    store = build_store(args.workdir, args.networks, args.epochs, args.examples, args.classes,
                        args.seed)
    _warm_page_cache(store.path)
    print(f"K={args.networks} E={args.epochs} N={args.examples} C={args.classes}; "
          f"python {sys.version.split()[0]}, numpy {np.__version__}")

    results = {task: measure(task, store.path) for task in TASKS}

    # The two implementations must give the same numbers.
    tpa_ours, tpa_naive = results["ours_table"][2], results["naive_table"][2]
    agreed_ours, agreed_naive = results["ours_dynamics"][2], results["naive_dynamics"][2]
    if not np.array_equal(tpa_ours, tpa_naive):
        raise SystemExit("MISMATCH: TPa per epoch differs between ours and naive")
    if not np.array_equal(agreed_ours, agreed_naive, equal_nan=True):
        raise SystemExit("MISMATCH: agreed-from epochs differ between ours and naive")
    print("check: TPa per epoch and agreed-from epochs identical (ours == naive)")

    header = (f"{'measurement':<26}{'ours s':>9}{'ours MiB':>10}{'naive s':>9}"
              f"{'naive MiB':>11}{'speed-up':>10}{'memory ratio':>14}")
    print(header)
    print("-" * len(header))
    for label, name in (("(a) per-epoch table", "table"), ("(b) per-example columns",
                                                           "dynamics")):
        t_o, m_o, _ = results[f"ours_{name}"]
        t_n, m_n, _ = results[f"naive_{name}"]
        print(f"{label:<26}{t_o:>9.2f}{m_o:>10.0f}{t_n:>9.2f}{m_n:>11.0f}"
              f"{t_n / t_o:>9.2f}x{m_n / max(m_o, 1.0):>13.1f}x")
    print("speed-up = naive s / ours s; memory ratio = naive MiB / ours MiB "
          "(peak RSS above the post-import baseline, each run in its own process)")

    # (c) What verifying every file read costs, measured on the same store in the same run.
    print()
    header = f"{'(c) verification':<26}{'verified s':>12}{'unverified s':>14}{'overhead':>10}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for label, task in (("(a) per-epoch table", "ours_table"),
                        ("(b) per-example columns", "ours_dynamics")):
        best = measure_verification(task, store.path, args.repeats)
        ratio = best[True] / best[False]
        worst = max(worst, ratio)
        print(f"{label:<26}{best[True]:>12.3f}{best[False]:>14.3f}{ratio:>9.3f}x")
    print(f"overhead = verified s / unverified s (best of {args.repeats}, alternating in one "
          f"process); worst {100 * (worst - 1):+.1f} %"
          + ("" if worst < 1.10 else " -- ABOVE the 10 % budget"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

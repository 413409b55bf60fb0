"""The agreement benchmark's smoke mode runs, agrees with the naive reference, prints ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_agreement.py"


def test_bench_agreement_smoke(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--examples", "20000", "--epochs", "10",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "TPa per epoch and agreed-from epochs identical" in out
    assert "speed-up" in out and "memory ratio" in out
    assert "(a) per-epoch table" in out and "(b) per-example columns" in out
    # (c): reading with and without verification, side by side, and the overhead ratio.
    assert "(c) verification" in out and "verified s" in out and "unverified s" in out
    assert "overhead = verified s / unverified s" in out
    # Second run reuses the store.
    again = subprocess.run(
        [sys.executable, str(BENCH), "--examples", "20000", "--epochs", "10",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0 and "reusing" in again.stdout

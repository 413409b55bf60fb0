"""Benchmark: finding flipped labels with the Recorder's scores, on real data.

scikit-learn's handwritten digits (1,797 8x8 images, 10 classes): a fraction of the training
labels is flipped to another class at random, K small MLPs train on the noisy labels with a
:class:`~agreement_core.recorder.Recorder`, and each method's flags are compared with the
flipped set (precision, recall, F1; AUROC for the scores that rank):

- **AUM + threshold samples** (Pleiss et al., 2020; :func:`agreement_core.scores.
  flag_label_issues`): a second run of the same networks with N / (C + 1) examples moved to
  a fake class; flagged: AUM at most the 99th percentile of the fake class's AUM. Examples
  used as threshold samples are assessed by a second run with a disjoint block (part 1),
  as Pleiss et al. do.
- **forgetting events** and **AUM** alone, as rankings (AUROC against the flipped set).
- **cleanlab** ``find_label_issues`` on out-of-sample probabilities (5-fold
  cross-validation with the same MLP), when ``cleanlab`` is installed.

Usage::

    python benchmarks/bench_label_issues.py                 # 10% flipped, K=3, 30 epochs
    python benchmarks/bench_label_issues.py --flip 0.2 --networks 2 --epochs 15
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agreement_core.recorder import Recorder
from agreement_core.records import RecordStore
from agreement_core.scores import (
    area_under_margin,
    flag_label_issues,
    forgetting_events,
    threshold_samples,
)


def digits(flip: float, seed: int = 0):
    """Standardised digits, the clean labels and the noisy ones (flipped to another class)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = ((x - x.mean(0)) / (x.std(0) + 1e-6)).astype(np.float32)
    rng = np.random.default_rng(seed)
    flipped = np.zeros(len(y), bool)
    flipped[rng.choice(len(y), int(round(flip * len(y))), replace=False)] = True
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    return x, y.astype(np.int64), noisy.astype(np.int64), flipped


def _mlp(num_outputs: int) -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, num_outputs))


def train(path: Path, x: np.ndarray, targets: np.ndarray, num_classes: int, *,
          networks: int, epochs: int, batch_size: int = 64, lr: float = 0.05,
          seed: int = 0) -> RecordStore:
    """K MLPs on (x, targets), recorded per batch with keep='margin'."""
    ids = np.arange(len(targets))
    recorder = Recorder(path, splits={"train": (ids, targets)}, num_networks=networks,
                        num_epochs=epochs, num_classes=num_classes, keep="margin")
    xt, yt = torch.from_numpy(x), torch.from_numpy(targets)
    for k in range(networks):
        torch.manual_seed(seed + k)
        model = _mlp(num_classes)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        generator = torch.Generator().manual_seed(seed + k)
        for epoch in recorder.epochs_to_run(k):
            for rows in torch.randperm(len(yt), generator=generator).split(batch_size):
                logits = model(xt[rows])
                recorder.update(k, "train", epoch, rows, logits=logits)
                loss = nn.functional.cross_entropy(logits, yt[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            recorder.finish_epoch(k, "train", epoch, model=model)
    return recorder.store


def aum_flags(workdir: Path, x, noisy, *, networks: int, epochs: int, seed: int = 0):
    """Pleiss et al.'s two runs with disjoint threshold samples: every example flagged or
    not by the run in which it was not a threshold sample. Returns flags and the two
    thresholds."""
    masks, flagged, thresholds = [], [], []
    for part in (0, 1):
        mask = threshold_samples(len(noisy), 10, part=part, seed=seed)
        store = train(workdir / f"threshold{part}", x, np.where(mask, 10, noisy), 11,
                      networks=networks, epochs=epochs, seed=seed)
        ids = store.example_ids("train")
        table = flag_label_issues(store, threshold_mask=mask[ids])
        by_id = np.zeros(len(noisy), bool)
        by_id[ids] = table["flagged"].to_numpy()
        masks.append(mask)
        flagged.append(by_id)
        thresholds.append(table.attrs["threshold"])
    # Part 0's threshold samples are assessed by part 1, where they train on their labels.
    return np.where(masks[0], flagged[1], flagged[0]), thresholds


def cleanlab_flags(x, noisy, seed: int = 0, epochs: int = 30):
    """cleanlab's find_label_issues on 5-fold out-of-sample probabilities, or None."""
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        return None
    probs = np.zeros((len(noisy), 10), np.float32)
    folds = np.random.default_rng(seed).permutation(len(noisy)) % 5
    for fold in range(5):
        train_rows, held = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        torch.manual_seed(seed + fold)
        model = _mlp(10)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        xt, yt = torch.from_numpy(x[train_rows]), torch.from_numpy(noisy[train_rows])
        generator = torch.Generator().manual_seed(seed + fold)
        for _ in range(epochs):
            for rows in torch.randperm(len(yt), generator=generator).split(64):
                loss = nn.functional.cross_entropy(model(xt[rows]), yt[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            probs[held] = torch.softmax(model(torch.from_numpy(x[held])), 1).numpy()
    return find_label_issues(noisy, probs)


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for finding ``positive`` (ties count half)."""
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    # Average ranks over ties (Mann-Whitney U).
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for s, c in zip(start, counts, strict=True):
        ranks[order[s:s + c]] = s + (c + 1) / 2
    p, n = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - p * (p + 1) / 2) / (p * n))


def precision_recall(flags: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = np.sum(flags & truth)
    precision = tp / max(flags.sum(), 1)
    recall = tp / max(truth.sum(), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return float(precision), float(recall), float(f1)


def run(workdir: Path, *, flip: float, networks: int, epochs: int, seed: int = 0,
        with_cleanlab: bool = True) -> dict:
    x, _, noisy, flipped = digits(flip, seed)
    started = time.perf_counter()
    store = train(workdir / "plain", x, noisy, 10, networks=networks, epochs=epochs,
                  seed=seed)
    aum = area_under_margin(store)
    forgetting = forgetting_events(store)
    # The observed transitions alone (never-learned examples at 0), for comparison.
    from agreement_core.agreement import example_dynamics_table

    raw = example_dynamics_table(store, "train")["forgetting_events"].to_numpy()
    flags, thresholds = aum_flags(workdir, x, noisy, networks=networks, epochs=epochs,
                                  seed=seed)
    result = {
        "n": len(noisy), "flipped": int(flipped.sum()), "thresholds": thresholds,
        "aum_auroc": auroc(-aum, flipped), "forgetting_auroc": auroc(forgetting, flipped),
        "raw_forgetting_auroc": auroc(raw.astype(float), flipped),
        "aum_threshold": precision_recall(flags, flipped), "aum_flags": int(flags.sum()),
        "seconds": time.perf_counter() - started,
    }
    if with_cleanlab:
        found = cleanlab_flags(x, noisy, seed, epochs)
        if found is not None:
            result["cleanlab"] = precision_recall(found, flipped)
            result["cleanlab_flags"] = int(found.sum())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flip", type=float, default=0.1)
    parser.add_argument("--networks", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        r = run(Path(tmp), flip=args.flip, networks=args.networks, epochs=args.epochs,
                seed=args.seed)
    print(f"digits: {r['n']} examples, {r['flipped']} labels flipped ({args.flip:.0%}); "
          f"K={args.networks} MLPs x {args.epochs} epochs; {r['seconds']:.0f} s")
    print(f"AUROC for the flipped set: AUM {r['aum_auroc']:.3f}, forgetting events "
          f"{r['forgetting_auroc']:.3f} (never-learned = most forgettable; observed "
          f"transitions alone {r['raw_forgetting_auroc']:.3f})")
    print(f"{'method':<34} {'flags':>6} {'precision':>10} {'recall':>7} {'F1':>6}")
    p, rc, f1 = r["aum_threshold"]
    print(f"{'AUM + threshold samples (99th pct)':<34} {r['aum_flags']:>6} {p:>10.3f} "
          f"{rc:>7.3f} {f1:>6.3f}")
    if "cleanlab" in r:
        p, rc, f1 = r["cleanlab"]
        print(f"{'cleanlab find_label_issues (5-fold)':<34} {r['cleanlab_flags']:>6} "
              f"{p:>10.3f} {rc:>7.3f} {f1:>6.3f}")
    else:
        print("cleanlab: not installed (pip install cleanlab)")
    print(f"AUM thresholds (parts 0, 1): {r['thresholds'][0]:.3f}, {r['thresholds'][1]:.3f}")


if __name__ == "__main__":
    main()

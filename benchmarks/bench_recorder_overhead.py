"""Benchmark: what the Recorder costs per batch, against the same loop without it.

For each model, in one process and side by side, the same training steps on the same
in-memory batches (forward, cross-entropy, backward, SGD step):

- **plain**: the loop alone;
- **recorded**: the same loop plus ``recorder.update(...)`` on every batch, with
  ``--keep`` scores and the true-class probability kept; ``finish_epoch`` (writing the
  epoch's file, once an epoch) is timed apart;
- **update alone**: ``recorder.update`` timed on its own, per batch.

Models: ``small``, an MLP on 64 features (a step of well under a millisecond: the worst
case for a per-batch overhead), and ``mid``, torchvision's ResNet-18 (11 M parameters) on
32 x 32 images. Each number is the best of ``--repeats`` epochs after one warm-up epoch;
ratio = recorded / plain (1.00 = free). Run on a quiet machine: other work on the cores
moves every number.

Usage::

    python benchmarks/bench_recorder_overhead.py                       # both models
    python benchmarks/bench_recorder_overhead.py --models small --batches 50
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from agreement_core.recorder import Recorder


def _model(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    if name == "small":
        return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10)), (64,)
    if name == "mid":
        import torchvision

        return torchvision.models.resnet18(num_classes=10), (3, 32, 32)
    raise ValueError(name)


def _epoch(model, optimizer, batches, recorder=None, epoch=1, k=0):
    started = time.perf_counter()
    for x, y, ids in batches:
        logits = model(x)
        if recorder is not None:
            recorder.update(k, "train", epoch, ids, logits=logits, targets=y)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    looped = time.perf_counter() - started
    if recorder is not None:
        recorder.finish_epoch(k, "train", epoch)
    return looped, time.perf_counter() - started - looped


def measure(name: str, *, batches: int, batch_size: int, repeats: int, keep: str,
            workdir: Path) -> dict:
    torch.manual_seed(0)
    model, shape = _model(name)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    n = batches * batch_size
    x = torch.randn(n, *shape)
    y = torch.randint(0, 10, (n,))
    ids = torch.arange(n)
    data = [(x[i:i + batch_size], y[i:i + batch_size], ids[i:i + batch_size])
            for i in range(0, n, batch_size)]
    epochs = 2 * (repeats + 1)
    recorder = Recorder(workdir / name, splits={"train": (ids.numpy(), y.numpy())},
                        num_networks=1, num_epochs=epochs, num_classes=10, keep=keep,
                        with_true_prob=True)
    plain, recorded, finish = [], [], []
    epoch = 0
    for r in range(repeats + 1):            # interleaved, the first pair a warm-up
        p, _ = _epoch(model, optimizer, data)
        epoch += 1
        q, f = _epoch(model, optimizer, data, recorder, epoch)
        if r:
            plain.append(p)
            recorded.append(q)
            finish.append(f)
    # update() alone, on the logits of one batch.
    with torch.no_grad():
        logits = [model(xb) for xb, _, _ in data]
    epoch += 1
    started = time.perf_counter()
    for (_, yb, ib), z in zip(data, logits, strict=True):
        recorder.update(0, "train", epoch, ib, logits=z, targets=yb)
    update = (time.perf_counter() - started) / len(data)
    return {"model": name, "params": sum(p.numel() for p in model.parameters()),
            "plain": min(plain) / len(data), "recorded": min(recorded) / len(data),
            "update": update, "finish": min(finish), "examples": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["small", "mid"],
                        choices=["small", "mid"])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", default="scores", choices=["none", "margin", "scores",
                                                             "probs"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"batch {args.batch_size}, {args.batches} batches an epoch, keep={args.keep!r} + "
          f"true_prob, best of {args.repeats} epochs, {args.threads} thread(s)")
    print(f"{'model':<7} {'params':>10} {'plain ms/batch':>15} {'recorded ms/batch':>18} "
          f"{'ratio':>6} {'update ms':>10} {'update / plain':>15} {'finish_epoch ms':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            r = measure(name, batches=args.batches, batch_size=args.batch_size,
                        repeats=args.repeats, keep=args.keep, workdir=Path(tmp))
            print(f"{r['model']:<7} {r['params']:>10,} {1e3 * r['plain']:>15.2f} "
                  f"{1e3 * r['recorded']:>18.2f} {r['recorded'] / r['plain']:>6.3f} "
                  f"{1e3 * r['update']:>10.3f} {r['update'] / r['plain']:>14.1%} "
                  f"{1e3 * r['finish']:>16.1f}")
    print("ratio = recorded / plain per batch (the loop with update() on every batch); "
          "update / plain = update() alone against the plain step; finish_epoch = writing "
          "the epoch's file, once per epoch")


if __name__ == "__main__":
    main()

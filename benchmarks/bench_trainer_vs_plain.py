"""Benchmark: the study trainer against a minimal plain-PyTorch loop, per network and precision.

For every architecture and precision, in one process and side by side:

- **plain**: the shortest loop that trains the network on the same uint8 images held in
  memory: a shuffled batch, normalise, forward (under ``torch.autocast`` for bfloat16),
  cross-entropy, backward, SGD step. Nothing is recorded.
- **trainer**: :class:`agreement_core.training.GroupTrainer` for one network, its training
  pass with online recording (the predictions and true-class probabilities of every
  example kept from the same forward pass), same batch size, same precision.
- **epoch**: the trainer's whole epoch as a study runs it: the training pass, the eval-mode
  test pass, and the checkpoint (record writing is timed by ``bench_training.py``).

Each measurement is the best of ``--repeats`` timed passes after one warm-up pass, over the
same ``--images`` training images; the ratio trainer / plain is what the study costs over
the plain loop (1.0 = nothing). Run it on a quiet machine: other work on the cores moves
every number.

Usage::

    python benchmarks/bench_trainer_vs_plain.py                      # all CPU-sized networks
    python benchmarks/bench_trainer_vs_plain.py --arch fastnet_small --images 2560
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from agreement_core import training
from agreement_core.locations import Locations
from agreement_core.models import build_model

REPO = Path(__file__).resolve().parents[1]
ARCHS = ("lenet5_bn", "fastnet_small", "vgg11_narrow", "resnet20", "densenet_bc_40")


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", help=f"repeatable (default: {ARCHS})")
    parser.add_argument("--precision", action="append", choices=["float32", "bfloat16"],
                        help="repeatable (default: both)")
    parser.add_argument("--images", type=int, default=2560, help="training images per pass")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--mirror", default=os.environ.get("AGREEMENT_MIRROR")
                        or str(REPO.parent / "shared" / "datasets"))
    return parser.parse_args(argv)


def _best(fn, repeats: int) -> float:
    fn()  # warm-up: allocator, oneDNN primitives
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_pass(model, optimizer, images, targets, mean, std, batch_size, precision):
    """One shuffled sweep of the plain loop over ``images``."""
    model.train()
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bfloat16"
                else contextlib.nullcontext())
    order = torch.randperm(len(images))
    for start in range(0, len(images), batch_size):
        idx = order[start:start + batch_size]
        x = training.to_float(images[idx], mean, std)
        with autocast:
            logits = model(x)
        loss = F.cross_entropy(logits, targets[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def main(argv=None) -> int:
    args = _parse(argv)
    archs = args.arch or ARCHS
    precisions = args.precision or ["float32", "bfloat16"]
    base = training.TrainConfig(num_networks=1, epochs=1, batch_size=args.batch_size,
                                train_subset=args.images // 10, test_subset=100)
    data = training.TrainingData.load(base, Locations(args.data_root, args.mirror), "cpu")
    images, targets = data.train.images, data.train.targets
    mean, std = training.channel_stats(images)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{len(images)} train / {len(data.test)} test images, batch {args.batch_size}, "
          f"best of {args.repeats}")
    header = (f"{'arch':<16}{'precision':<10}{'plain img/s':>12}{'trainer img/s':>15}"
              f"{'ratio':>7}{'epoch img/s':>13}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="bench_trainer_") as tmp:
        for arch in archs:
            for precision in precisions:
                config = training.TrainConfig(**{**base.to_dict(), "arch": arch,
                                                 "precision": precision})
                torch.manual_seed(0)
                model = build_model(arch, data.num_classes)
                optimizer = training.make_optimizer(config, model.parameters())
                plain = _best(lambda m=model, o=optimizer, p=precision: plain_pass(
                    m, o, images, targets, mean, std, args.batch_size, p), args.repeats)
                trainer = training.GroupTrainer(config, [0], data, Path(tmp) / arch, "cpu")
                online = _best(lambda t=trainer: t.train_epoch(1, bookkeeping=True),
                               args.repeats)

                def epoch(t=trainer):
                    t.train_epoch(1, bookkeeping=True)
                    t.predict("test")
                    t.save_checkpoints(1)

                whole = _best(epoch, args.repeats)
                n = len(images)
                print(f"{arch:<16}{precision:<10}{n / plain:>12.0f}{n / online:>15.0f}"
                      f"{plain / online:>7.2f}{n / whole:>13.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

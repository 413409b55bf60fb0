"""Benchmark: K networks trained one after another vs. concurrently, and the cost of recording.

(1) Throughput: the same K networks on the same data, in one process and on one device, trained
    (a) one after another (``training.train_networks`` without ``concurrent``) and
    (b) together as one grouped network (with ``concurrent``); both with the full
    per-epoch work (online recording, test-set pass, record files, checkpoints). Reported as
    training images per second (K x N x epochs / wall time) and their ratio.
(2) Recording overhead, measured on the concurrent trainer phase by phase (same networks, same
    epoch): a bare training pass (no bookkeeping), the training pass with online bookkeeping
    (arg-max and true-class probability of every example), an eval-mode pass over the train set,
    the test-set pass, writing the record files, and the checkpoints. Shares are of a full epoch
    in each recording mode.

Each timed part is preceded by a warm-up on a small slice; on CUDA every timing is bracketed by
``torch.cuda.synchronize``.

Usage::

    python benchmarks/bench_training.py                   # cuda if available, else cpu
    python benchmarks/bench_training.py --device cpu --train-subset 50
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from agreement_core import training
from agreement_core.locations import Locations
from agreement_core.records import RecordStore
from agreement_core.study.runs import store_recorder

REPO = Path(__file__).resolve().parents[1]


def _parse(argv):
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if cuda else "cpu")
    parser.add_argument("--arch", default=None,
                        help="default fastnet on CUDA, fastnet_small on CPU")
    parser.add_argument("--networks", type=int, default=5)
    parser.add_argument("--train-subset", type=int, default=None,
                        help="training images per class (default: all on CUDA, 100 on CPU)")
    parser.add_argument("--test-subset", type=int, default=None,
                        help="test images per class (default: all on CUDA, 10 on CPU)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default 512 on CUDA, 128 on CPU")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--mirror", default=os.environ.get("AGREEMENT_MIRROR")
                        or str(REPO.parent / "shared" / "datasets"))
    args = parser.parse_args(argv)
    on_cuda = torch.device(args.device).type == "cuda"
    args.arch = args.arch or ("fastnet" if on_cuda else "fastnet_small")
    if args.train_subset is None and not on_cuda:
        args.train_subset = 100
    if args.test_subset is None and not on_cuda:
        args.test_subset = 10
    args.batch_size = args.batch_size or (512 if on_cuda else 128)
    return args


class Timer:
    def __init__(self, device):
        self.cuda = torch.device(device).type == "cuda"

    def __call__(self, fn, *args, **kwargs):
        """(seconds, result) of one call of ``fn``."""
        if self.cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start, result


def _store(path, config, data, datasets):
    """A record store for ``data`` (TrainingData), ids from ``datasets`` (train, test)."""
    return RecordStore.create(
        path, num_networks=config.num_networks, num_epochs=config.epochs,
        splits={split: (dataset.example_ids[:len(getattr(data, split))],
                        getattr(data, split).targets.cpu().numpy())
                for split, dataset in zip(("train", "test"), datasets, strict=True)},
        num_classes=data.num_classes, with_true_prob=True,
        config=config.to_dict(), seeds=[config.seed + k for k in range(config.num_networks)])


def _train(concurrent: bool):
    """Train every network one after another (False) or as one group (True), quietly."""
    def run(config, store, data, ckpt, device):
        config = dataclasses.replace(config, concurrent=concurrent)
        with contextlib.redirect_stdout(io.StringIO()):  # no per-epoch summary lines
            training.train_networks(config, range(config.num_networks), data,
                                    store_recorder(store), ckpt, device, progress=False)
    return run


def _write(store, epoch, split, recorded):
    """Write (K, N) predictions and probabilities of ``split`` for every network."""
    pred, prob = recorded
    for k in range(len(pred)):
        store.write_epoch(k, split, epoch, pred[k].cpu().numpy(),
                          true_prob=prob[k].float().cpu().numpy().astype(np.float16))


def main(argv=None) -> int:
    args = _parse(argv)
    device = torch.device(args.device)
    timer = Timer(device)
    config = training.TrainConfig(
        arch=args.arch, num_networks=args.networks, epochs=args.epochs,
        batch_size=args.batch_size, train_subset=args.train_subset,
        test_subset=args.test_subset)
    locations = Locations(args.data_root, args.mirror)
    datasets = [training.load_dataset(config, split, locations) for split in ("train", "test")]
    data = training.TrainingData.load(config, locations, device)
    n, k_nets = len(data.train), config.num_networks
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"{torch.get_num_threads()} threads")
    print(f"device {device} ({where}), "
          f"torch {torch.__version__}, arch {config.arch}, K={k_nets}, "
          f"train {n} / test {len(data.test)} images, batch {config.batch_size}, "
          f"{config.epochs} epoch(s), recording {config.recording}"
          + (", concurrent path with bf16 autocast + channels_last" if device.type == "cuda"
             else ""))
    # Warm-up data: the first two batches, one epoch.
    warm_n = min(n, 2 * config.batch_size)
    warm_data = training.TrainingData(
        training.SplitTensors(data.train.images[:warm_n], data.train.targets[:warm_n]),
        data.test, data.num_classes)
    warm_config = training.TrainConfig(**{**config.to_dict(), "epochs": 1})

    with tempfile.TemporaryDirectory(prefix="bench_training_") as tmp:
        tmp = Path(tmp)
        # ---------------------------------------------------------------- (1) throughput
        results = {}
        for name, fn in (("one after another", _train(False)), ("concurrent", _train(True))):
            tag = name.split()[0]
            warm_store = _store(tmp / f"warm_{tag}", warm_config, warm_data, datasets)
            fn(warm_config, warm_store, warm_data, tmp / f"warm_{tag}" / "ckpt", device)
            store = _store(tmp / tag, config, data, datasets)
            seconds, _ = timer(fn, config, store, data, tmp / tag / "ckpt", device)
            results[name] = k_nets * n * config.epochs / seconds
            print(f"(1) {name:17s}: {seconds:8.2f} s  {results[name]:9.0f} images/s")
        ratio = results["concurrent"] / results["one after another"]
        print(f"(1) concurrent / one after another: {ratio:.2f}x images/s")

        # ---------------------------------------------------------------- (2) recording
        store = _store(tmp / "phases", config, data, datasets)
        trainer = training.GroupTrainer(config, range(k_nets), data, tmp / "phases" / "ckpt",
                                        device)
        trainer.train_epoch(1, bookkeeping=False)  # warm-up
        t = {}
        t["bare"], _ = timer(trainer.train_epoch, 1, bookkeeping=False)
        t["online"], (_, pred, prob) = timer(trainer.train_epoch, 1, bookkeeping=True)
        t["eval_train"], eval_rec = timer(trainer.predict, "train")
        t["test"], test_rec = timer(trainer.predict, "test")
        t["write_train"], _ = timer(_write, store, 1, "train", (pred, prob))
        t["write_test"], _ = timer(_write, store, 1, "test", test_rec)
        t["checkpoint"], _ = timer(trainer.save_checkpoints, 1)
        del eval_rec
        bookkeeping = t["online"] - t["bare"]
        online_epoch = t["online"] + t["test"] + t["write_train"] + t["write_test"] \
            + t["checkpoint"]
        eval_epoch = t["bare"] + t["eval_train"] + t["test"] + t["write_train"] \
            + t["write_test"] + t["checkpoint"]
        print(f"(2) phases of one concurrent epoch (K={k_nets}, seconds): "
              f"bare training pass {t['bare']:.3f}, with online bookkeeping {t['online']:.3f}, "
              f"eval pass over train {t['eval_train']:.3f}, test pass {t['test']:.3f}, "
              f"write train records {t['write_train']:.3f}, write test records "
              f"{t['write_test']:.3f}, checkpoints {t['checkpoint']:.3f}")

        def share(part, whole):
            return f"{part:.3f} s = {part / whole:6.1%} of the {whole:.3f} s epoch"

        test_part = t["test"] + t["write_test"]
        online_part, eval_part = bookkeeping + t["write_train"], t["eval_train"] + t["write_train"]
        print(f"(2) (i) online recording (bookkeeping + train records): "
              f"{share(online_part, online_epoch)}; with the test pass and test records: "
              f"{share(online_part + test_part, online_epoch)}")
        print(f"(2) (ii) eval recording (eval pass over train + train records): "
              f"{share(eval_part, eval_epoch)}; with the test pass and test records: "
              f"{share(eval_part + test_part, eval_epoch)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

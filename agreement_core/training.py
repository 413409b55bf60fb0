"""Train K networks on the same data and record every prediction, every epoch.

The loop is deliberately short (after airbench): the whole dataset lives on the
device as one uint8 tensor, each epoch is a shuffled sweep of mini-batches, and
the predictions for the record store come from the same forward pass
(``recording="online"``, as the paper's published code does) or from a
separate eval-mode pass over the un-augmented train set (``"eval"``).
Network k uses seed ``seed + k``; after every epoch its records and a
checkpoint are written atomically, so rerunning an interrupted command resumes
from the last finished epoch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import agreement
from ._io import atomic_path
from .data import get_dataset
from .errors import ConfigError
from .models import MODELS, build_model
from .records import RecordStore

RECORDING_MODES = ("online", "eval")
SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a study; stored in the record store's metadata.

    Defaults follow the paper's CIFAR-10 protocol (SGD, momentum 0.9, batch
    128, weight decay 5e-4, cosine annealing from 0.1 to 5e-4, no
    augmentation) with a small network and few epochs, sized for a CPU.
    """

    dataset: str = "cifar10"
    arch: str = "fastnet_small"
    num_networks: int = 5
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.1
    min_lr: float = 5e-4
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    train_subset: int | float | None = 500
    test_subset: int | float | None = 100
    seed: int = 0
    recording: str = "online"

    def __post_init__(self):
        if self.arch not in MODELS:
            known = ", ".join(sorted(MODELS))
            raise ConfigError(f"unknown architecture {self.arch!r}; known: {known}")
        if self.recording not in RECORDING_MODES:
            raise ConfigError(f"recording must be one of {RECORDING_MODES}, got {self.recording!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("num_networks", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_split(config: TrainConfig, split: str, data_root=None, mirror=None):
    """Return ``(images uint8 (N, H, W, 3), targets, example_ids)`` for one split."""
    subset = config.train_subset if split == "train" else config.test_subset
    dataset = get_dataset(config.dataset, split, root=data_root, mirror=mirror, subset=subset)
    return dataset.load_array(), dataset.targets, dataset.example_ids


def to_float(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float (N, 3, H, W)."""
    return (images.permute(0, 3, 1, 2).float() / 255 - mean) / std


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    """Cosine annealing from ``lr`` to ``min_lr`` over all steps (no restarts)."""
    if config.schedule == "constant":
        return config.lr
    progress = step / max(total_steps, 1)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def predict(model, images, mean, std, targets, batch_size=1024):
    """Eval-mode predicted class and true-class probability for every image."""
    model.eval()
    preds, probs = [], []
    for start in range(0, len(images), batch_size):
        logits = model(to_float(images[start:start + batch_size], mean, std))
        preds.append(logits.argmax(1))
        p = logits.float().softmax(1)
        probs.append(p.gather(1, targets[start:start + batch_size, None])[:, 0])
    return torch.cat(preds), torch.cat(probs)


def train_network(config, k, store, train, test, checkpoint_dir, device, progress=True):
    """Train network ``k`` from its last checkpoint to ``config.epochs``, recording each epoch."""
    (x_train, y_train), (x_test, y_test) = train, test
    mean = x_train.float().mean(dim=(0, 1, 2)).view(1, 3, 1, 1) / 255
    std = x_train.float().std(dim=(0, 1, 2)).view(1, 3, 1, 1) / 255
    torch.manual_seed(config.seed + k)
    model = build_model(config.arch, store.num_classes).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    n = len(x_train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = steps_per_epoch * config.epochs

    checkpoint = checkpoint_dir / f"net{k:03d}.pt"
    start_epoch = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = int(state["epoch"])

    epochs = range(start_epoch + 1, config.epochs + 1)
    # disable=None: bars only on a terminal, so logs hold the summary lines alone.
    bar = tqdm(epochs, desc=f"net {k}", leave=False, disable=None if progress else True)
    for epoch in bar:
        model.train()
        # The shuffle depends only on (seed, network, epoch): resuming replays it exactly.
        generator = torch.Generator().manual_seed((config.seed + k) * 1_000_003 + epoch)
        order = torch.randperm(n, generator=generator).to(device)
        online_pred = torch.empty(n, dtype=torch.long, device=device)
        online_prob = torch.empty(n, dtype=torch.float32, device=device)
        loss_sum = 0.0
        for i, start in enumerate(range(0, n, config.batch_size)):
            step = (epoch - 1) * steps_per_epoch + i
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step, total_steps)
            idx = order[start:start + config.batch_size]
            logits = model(to_float(x_train[idx], mean, std))
            loss = F.cross_entropy(logits, y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            with torch.no_grad():
                online_pred[idx] = logits.argmax(1)
                online_prob[idx] = logits.float().softmax(1).gather(1, y_train[idx, None])[:, 0]

        if config.recording == "online":
            train_pred, train_prob = online_pred, online_prob
        else:
            train_pred, train_prob = predict(model, x_train, mean, std, y_train)
        test_pred, test_prob = predict(model, x_test, mean, std, y_test)
        recorded = {"train": (train_pred, train_prob), "test": (test_pred, test_prob)}
        for split, (pred, prob) in recorded.items():
            store.write_epoch(k, split, epoch, pred.cpu().numpy(),
                              true_prob=prob.cpu().numpy().astype(np.float16))
        # Records first, checkpoint second: a crash in between only repeats this epoch.
        with atomic_path(checkpoint) as tmp:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": epoch}, tmp)

        train_acc = (train_pred == y_train).float().mean().item()
        test_acc = (test_pred == y_test).float().mean().item()
        test_targets = store.targets("test")
        tpa = agreement.true_positive_agreement(np.stack(
            [store.read_predictions(j, "test", epoch) == test_targets for j in range(k + 1)]))
        bar.write(f"net {k} epoch {epoch:3d}/{config.epochs}  loss {loss_sum / n:.3f}  "
                  f"train {train_acc:6.1%}  test {test_acc:6.1%}  test TPa(nets 0..{k}) {tpa:6.1%}")


def train_study(config: TrainConfig, out: str | Path, *, data_root=None, mirror=None,
                device: str | None = None, networks=None, progress: bool = True) -> RecordStore:
    """Train the study's networks (all, or the given indices) and return its record store.

    Rerunning the same command resumes: finished networks are skipped and an
    interrupted one continues from its last finished epoch.
    """
    out = Path(out)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    x_train, y_train, ids_train = load_split(config, "train", data_root, mirror)
    x_test, y_test, ids_test = load_split(config, "test", data_root, mirror)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    store = RecordStore.create(
        out, num_networks=config.num_networks, num_epochs=config.epochs,
        splits={"train": (ids_train, y_train), "test": (ids_test, y_test)},
        num_classes=num_classes, with_true_prob=True, config=config.to_dict(),
        seeds=[config.seed + k for k in range(config.num_networks)], exist_ok=True)

    def tensors(x, y):
        return torch.from_numpy(x).to(device), torch.as_tensor(y, dtype=torch.long, device=device)

    train, test = tensors(x_train, y_train), tensors(x_test, y_test)
    checkpoint_dir = out / "checkpoints"
    for k in networks if networks is not None else range(config.num_networks):
        if store.completed_epochs(k) >= config.epochs:
            continue
        train_network(config, k, store, train, test, checkpoint_dir, device, progress)
    return store

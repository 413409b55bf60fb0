"""Train K networks on the same data, reporting every prediction of every epoch.

The loop is deliberately short (after airbench): the whole split lives on the device as one
uint8 tensor, each epoch is a shuffled sweep of mini-batches through
:func:`~agreement_core.training.step.train_step`, and the predictions to record come from the
same forward pass (``recording="online"``, as the paper's published code does: augmentation
and train-mode BatchNorm included) or from a separate eval-mode pass over the un-augmented
train set after each epoch (``"eval"``). Test predictions always come from an eval-mode pass.

The same loop steps one network (:class:`OneNetwork`) or a group of K trained as one wide
network (:class:`~agreement_core.training.grouped.NetworkGroup`); :func:`plan_groups` is the
one place that chooses between them. Network k is initialised from
:func:`~agreement_core.training.config.network_seed` and draws its data order and crops from
:func:`~agreement_core.training.config.data_seed`; after every epoch its predictions go to the
``record`` callback and then a checkpoint is written atomically, so rerunning an interrupted
run resumes from the last finished epoch and ends with the same predictions as an
uninterrupted run (on the CPU).

This module knows nothing of where predictions are stored: the study trainer
(:func:`agreement_core.study.runs.train_study`) passes a callback that writes the record
store.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .._io import atomic_path
from ..locations import Locations
from ..models import build_model
from .config import TrainConfig, data_seed, network_seed
from .grouped import SUPPORTED_ARCHS, NetworkGroup
from .inputs import (
    SplitTensors,
    channel_stats,
    load_dataset,
    random_crop,
    split_tensors,
    to_float,
    training_targets,
)
from .schedules import make_optimizer
from .step import decide, precision_autocast, predict, train_step

#: ``record(k, epoch, predictions, loss)``: ``predictions`` maps split -> (pred, prob) tensors
#: of network k after ``epoch`` (1-based) epochs; ``loss`` is its mean training loss.
RecordCallback = Callable[[int, int, dict, float], None]


def build_network(config: TrainConfig, k: int, num_classes: int, image_size: int) -> nn.Module:
    """Network ``k``'s initial state: the registry's model, seeded by ``network_seed``."""
    torch.manual_seed(network_seed(config, k))
    return build_model(config.arch, num_classes, image_size=image_size)


@dataclass
class TrainingData:
    """Both splits of a study on the training device, as the trainers hold them."""

    train: SplitTensors
    test: SplitTensors
    num_classes: int

    @classmethod
    def load(cls, config: TrainConfig, locations: Locations | None = None, device="cpu"):
        """The configured subsets, resized, with the random-label ablation applied to train."""
        train_set = load_dataset(config, "train", locations)
        test_set = load_dataset(config, "test", locations)
        return cls(split_tensors(config, train_set, device, training_targets(config, train_set)),
                   split_tensors(config, test_set, device), train_set.num_classes)

    @property
    def input_size(self) -> int:
        return self.train.images.shape[1]


class _AsGroup(nn.Module):
    """One network's (B, C) logits as a group of one's (1, B, C)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x).unsqueeze(0)


class OneNetwork:
    """One network with its optimizer; the trainer's view of a group of one."""

    def __init__(self, config: TrainConfig, model: nn.Module, mean, std, device):
        self.config, self.mean, self.std = config, mean, std
        self.device = torch.device(device)
        self.net = model.to(device)
        self.model = _AsGroup(self.net)
        self.optimizer = make_optimizer(config, self.net.parameters())

    def __len__(self) -> int:
        return 1

    def autocast(self):
        return precision_autocast(self.config, self.device)

    def crops(self, images: torch.Tensor, generators) -> torch.Tensor:
        return random_crop(images[0], self.config.crop, generators[0])[None]

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        return to_float(images[0], self.mean, self.std)

    def predict(self, images, targets, batch_size=1024):
        with self.autocast() or contextlib.nullcontext():
            pred, prob = predict(self.net, images, self.mean, self.std, targets, batch_size,
                                 crop=self.config.crop)
        return pred[None], prob[None]

    def states(self) -> list[dict]:
        return [{"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}]

    def load_states(self, states: Sequence[dict]) -> None:
        self.net.load_state_dict(states[0]["model"])
        self.optimizer.load_state_dict(states[0]["optimizer"])


def checkpoint_path(checkpoint_dir, k: int) -> Path:
    return Path(checkpoint_dir) / f"net{k:03d}.pt"


def checkpoint_epoch(checkpoint_dir, k: int) -> int:
    """The epoch network ``k``'s checkpoint was written after (0 without one)."""
    path = checkpoint_path(checkpoint_dir, k)
    if not path.exists():
        return 0
    return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])


#: Device types on which a grouped network trains faster than K networks one at a time,
#: for ``concurrent="auto"``. On the CPU it does not: ``benchmarks/bench_training.py``
#: measured grouped at 0.66-0.75x of sequential (2 cores, fastnet_small, K=5), since one
#: network already keeps the cores busy. On a GPU, K small networks leave it mostly idle and
#: grouping batches them into one kernel launch per layer (airbench's reason); not measured
#: here (no GPU).
GROUPING_WINS_ON = ("cuda",)


def plan_groups(config: TrainConfig, networks: Sequence[int], checkpoint_dir,
                device=None) -> list[list[int]]:
    """How ``networks`` are trained: one group of all of them, or one network at a time.

    Grouped when ``config.concurrent`` asks for it (``True``; or ``"auto"`` on a device of
    :data:`GROUPING_WINS_ON`), there are at least two networks, the architecture can be
    grouped (:data:`~agreement_core.training.grouped.SUPPORTED_ARCHS`) and all their
    checkpoints are at the same epoch (a group resumes together).
    """
    networks = list(networks)
    concurrent = config.concurrent
    if concurrent == "auto":
        concurrent = device is not None and torch.device(device).type in GROUPING_WINS_ON
    if concurrent and len(networks) > 1:
        if config.arch not in SUPPORTED_ARCHS:
            print(f"concurrent training unavailable for {config.arch!r} (supported: "
                  f"{', '.join(SUPPORTED_ARCHS)}); training one after another")
        elif len({checkpoint_epoch(checkpoint_dir, k) for k in networks}) == 1:
            return [networks]
    return [[k] for k in networks]


class GroupTrainer:
    """Networks ``networks`` (one, or a group) from their checkpoints to ``config.epochs``.

    :meth:`run` is the normal entry point; the phases of an epoch are public so that the
    benchmark can time them (training pass with or without online bookkeeping, eval pass,
    checkpoints).
    """

    def __init__(self, config: TrainConfig, networks: Sequence[int], data: TrainingData,
                 checkpoint_dir, device, amp: bool | None = None):
        self.config, self.data = config, data
        self.networks = [int(k) for k in networks]
        self.device = torch.device(device)
        self.checkpoint_dir = Path(checkpoint_dir)
        self.n = len(data.train)
        self.steps_per_epoch = math.ceil(self.n / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        mean, std = channel_stats(data.train.images)
        input_size = config.crop or data.input_size
        models = [build_network(config, k, data.num_classes, input_size) for k in self.networks]
        if len(models) == 1:
            self.group = OneNetwork(config, models[0], mean, std, self.device)
        else:
            self.group = NetworkGroup(config, models, mean, std, self.device, amp=amp)
        self.epoch = 0

    # ---------------------------------------------------------------- checkpoints
    def resume(self) -> int:
        """Load the networks' checkpoints, if any (all at one epoch); return that epoch."""
        paths = [checkpoint_path(self.checkpoint_dir, k) for k in self.networks]
        if not all(p.exists() for p in paths):
            return 0
        states = [torch.load(p, map_location=self.device, weights_only=True) for p in paths]
        epochs = {int(s["epoch"]) for s in states}
        if len(epochs) != 1:
            raise ValueError(f"networks {self.networks} are at different epochs {epochs}")
        self.group.load_states(states)
        self.epoch = epochs.pop()
        return self.epoch

    def save_checkpoints(self, epoch: int) -> None:
        """One checkpoint per network (model, optimizer, epoch), written atomically."""
        for k, state in zip(self.networks, self.group.states(), strict=True):
            with atomic_path(checkpoint_path(self.checkpoint_dir, k)) as tmp:
                torch.save({**state, "epoch": epoch}, tmp)

    # ---------------------------------------------------------------- passes
    def train_epoch(self, epoch: int, bookkeeping: bool = True):
        """One training sweep; returns (losses (K,), online_pred, online_prob).

        Each network's data order and crops come from its own generator, seeded by
        ``data_seed(config, k, epoch)``. With ``bookkeeping`` the (K, N) predictions and
        true-answer probabilities of the training pass are kept (online recording);
        otherwise those are None.
        """
        config, y = self.config, self.data.train.targets
        generators = [torch.Generator().manual_seed(data_seed(config, k, epoch))
                      for k in self.networks]
        order = torch.stack([torch.randperm(self.n, generator=g) for g in generators])
        order = order.to(self.device)
        num = len(self.networks)
        rows = torch.arange(num, device=self.device)[:, None]
        online_pred = online_prob = None
        if bookkeeping:
            online_pred = torch.empty((num, self.n, *y.shape[1:]), dtype=y.dtype,
                                      device=self.device)
            online_prob = torch.empty(num, self.n, dtype=torch.float32, device=self.device)
        loss_sum = torch.zeros(num, dtype=torch.float64, device=self.device)
        self.group.model.train()
        for i, start in enumerate(range(0, self.n, config.batch_size)):
            idx = order[:, start:start + config.batch_size]  # (K, B)
            targets = y[idx]  # (K, B) or (K, B, C)
            images = self.group.crops(self.data.train.images[idx], generators)
            logits, losses = train_step(
                self.group.model, self.group.optimizer, self.group.inputs(images), targets,
                config=config, step=(epoch - 1) * self.steps_per_epoch + i,
                total_steps=self.total_steps, autocast=self.group.autocast())
            b = idx.shape[1]
            loss_sum += losses * b
            if bookkeeping:
                # decide() works row by row: all K networks' rows in one call.
                pred, prob = decide(logits.reshape(num * b, -1),
                                    targets.reshape(num * b, *targets.shape[2:]))
                online_pred[rows, idx] = pred.view(num, b, *pred.shape[1:])
                online_prob[rows, idx] = prob.view(num, b)
        self.epoch = epoch
        return loss_sum / self.n, online_pred, online_prob

    def predict(self, split: str):
        """Eval-mode (K, N) predictions and true-answer probabilities on ``split``."""
        data = getattr(self.data, split)
        return self.group.predict(data.images, data.targets)

    def run_epoch(self, epoch: int, record: RecordCallback) -> None:
        """Train, record and checkpoint one epoch."""
        online = self.config.recording == "online"
        losses, online_pred, online_prob = self.train_epoch(epoch, bookkeeping=online)
        recorded = {"train": (online_pred, online_prob) if online else self.predict("train"),
                    "test": self.predict("test")}
        for j, k in enumerate(self.networks):
            record(k, epoch, {split: (pred[j], prob[j]) for split, (pred, prob)
                              in recorded.items()}, losses[j].item())
        # Records first, checkpoints second: a crash in between only repeats this epoch.
        self.save_checkpoints(epoch)

    def run(self, record: RecordCallback, progress: bool = True) -> None:
        """Train from the checkpoints (if any) to ``config.epochs``, recording every epoch."""
        epochs = range(self.resume() + 1, self.config.epochs + 1)
        first, last = self.networks[0], self.networks[-1]
        label = f"nets {first}..{last}" if len(self.networks) > 1 else f"net {first}"
        # disable=None: bars only on a terminal, so logs hold the summary lines alone.
        for epoch in tqdm(epochs, desc=label, leave=False, disable=None if progress else True):
            self.run_epoch(epoch, record)


def train_networks(config: TrainConfig, networks: Sequence[int], data: TrainingData,
                   record: RecordCallback, checkpoint_dir, device="cpu",
                   progress: bool = True) -> None:
    """Train ``networks`` from their checkpoints to ``config.epochs``, recording each epoch.

    Grouped or one at a time as :func:`plan_groups` decides; ``record`` receives every
    network's predictions after every epoch, before its checkpoint is written.
    """
    groups = plan_groups(config, networks, checkpoint_dir, device)
    for group in tqdm(groups, desc="networks", disable=None if progress and len(groups) > 1
                      else True):
        GroupTrainer(config, group, data, checkpoint_dir, device).run(record, progress)

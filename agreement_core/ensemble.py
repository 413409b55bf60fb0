"""Train a group of the study's networks concurrently: one forward/backward call per step.

:func:`train_concurrently` has the arguments and the effects of calling
:func:`agreement_core.training.train_network` for every ``k`` in ``networks`` (same record
files, same per-network checkpoints, same initial weights, per-network data order and
learning-rate schedule), but steps all K networks together, which keeps a GPU busy where
one small network leaves it mostly idle.

Design: grouped execution
-------------------------
The K networks become one *wide* network (:class:`GroupedFastNet`): every convolution has
``groups=K`` (K times the channels), every BatchNorm runs over ``K*C`` channels, the pooling
and GELU layers are per channel anyway, and the linear head is a per-network ``einsum``.
Network k's minibatch occupies input channels ``3k..3k+2``, so the K networks see different
examples in the same call and never mix: channel block k of every layer depends only on
network k's weights and images. BatchNorm statistics are per channel, hence per network and
exact (batch statistics in training, running statistics in eval mode).

The alternative, ``torch.func.stack_module_state`` + ``functional_call`` + ``vmap``, also
works (checked: with the stacked buffers passed with ``in_dims=0`` the BatchNorm running
statistics are updated per network) and its conv batching rule lowers to the same grouped
convolution. Grouped execution was chosen because it uses plain ``nn`` modules only: the
standard kernels, ``channels_last`` and bf16 autocast (CUDA only) need no functorch batching
rules, the wide network's state dict has the per-network keys (packing a checkpoint is a
concatenation, unpacking a slice), and the eval pass feeds one image batch to all K networks
(the input repeated along the channels) without a batching transform. The cost is that only
architectures built from Conv2d/BatchNorm2d/GELU/ReLU/MaxPool2d plus FastNet's max-pool and
linear head are supported: :data:`SUPPORTED_ARCHS`; anything else raises
:class:`~agreement_core.errors.ConfigError` and the caller trains one network after another.

Equivalence with the sequential path: the initial weights are bitwise identical (each network
is built exactly as ``train_network`` builds it, then packed); SGD with momentum and weight
decay is elementwise, so one optimizer over the packed parameters updates every network as
its own optimizer would; the summed per-network mean losses give each network exactly its own
gradient. Results are not bitwise identical because grouped kernels sum in another order
(and on CUDA bf16 autocast is used by default, ``amp=False`` turns it off).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from . import training
from ._io import atomic_path
from .errors import ConfigError
from .models import FastNet, build_model
from .training import (
    TrainConfig,
    apply_schedule,
    center_crop,
    channel_stats,
    decide,
    epoch_summary_line,
    loss_fn,
    make_optimizer,
    random_crop,
    record_epoch,
    to_float,
)

__all__ = ["SUPPORTED_ARCHS", "ConcurrentTrainer", "GroupedFastNet", "GroupedLinear",
           "build_networks", "train_concurrently"]

SUPPORTED_ARCHS = ("fastnet", "fastnet_small")

# How each state-dict entry of the wide network relates to the K per-network entries.
_CAT, _STACK, _SHARED = "cat", "stack", "shared"


def check_arch(arch: str) -> None:
    """Raise ConfigError unless ``arch`` can be trained concurrently."""
    if arch not in SUPPORTED_ARCHS:
        raise ConfigError(f"concurrent training supports the architectures "
                          f"{', '.join(SUPPORTED_ARCHS)}, not {arch!r}; "
                          f"train it one network after another (training.train_network)")


class GroupedLinear(nn.Module):
    """K bias-free linear layers applied to (B, K, C_in) -> (B, K, C_out); weight (K, out, in)."""

    def __init__(self, num_groups: int, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_groups, out_features, in_features))

    def forward(self, x):
        return torch.einsum("bki,koi->bko", x, self.weight)


def _grouped_layer(module: nn.Module, k: int) -> tuple[nn.Module, dict[str, str]]:
    """The K-wide counterpart of one feature layer and how its state entries pack."""
    if isinstance(module, nn.Conv2d):
        if module.groups != 1 or module.padding_mode != "zeros":
            raise ConfigError(f"concurrent training cannot group {module}")
        wide = nn.Conv2d(k * module.in_channels, k * module.out_channels, module.kernel_size,
                         stride=module.stride, padding=module.padding,
                         dilation=module.dilation, groups=k, bias=module.bias is not None)
        return wide, {name: _CAT for name, _ in wide.state_dict().items()}
    if isinstance(module, nn.BatchNorm2d):
        if not (module.affine and module.track_running_stats):
            raise ConfigError(f"concurrent training cannot group {module}")
        wide = nn.BatchNorm2d(k * module.num_features, eps=module.eps, momentum=module.momentum)
        kinds = {name: _CAT for name in wide.state_dict()}
        kinds["num_batches_tracked"] = _SHARED
        return wide, kinds
    if isinstance(module, nn.GELU | nn.ReLU | nn.MaxPool2d | nn.Identity):
        return copy.deepcopy(module), {}
    raise ConfigError(f"concurrent training cannot group a {type(module).__name__} layer")


class GroupedFastNet(nn.Module):
    """K FastNets as one network: (B, 3K, H, W) -> (B, K, classes).

    Channels ``3k..3k+2`` of the input are network k's images. The module and state-dict
    names match :class:`~agreement_core.models.FastNet`'s (``features.<i>.*``,
    ``head.weight``), so :meth:`pack` and :meth:`unpack` map one key to one key.
    """

    def __init__(self, template: FastNet, num_networks: int):
        super().__init__()
        if not isinstance(template, FastNet):
            raise ConfigError(f"GroupedFastNet needs a FastNet template, got "
                              f"{type(template).__name__}")
        self.num_networks = k = int(num_networks)
        layers, self._kinds = [], {}
        for i, module in enumerate(template.features):
            wide, kinds = _grouped_layer(module, k)
            layers.append(wide)
            self._kinds.update({f"features.{i}.{name}": kind for name, kind in kinds.items()})
        self.features = nn.Sequential(*layers)
        head = template.head
        if head.bias is not None:
            raise ConfigError("concurrent training expects FastNet's bias-free head")
        self.head = GroupedLinear(k, head.in_features, head.out_features)
        self._kinds["head.weight"] = _STACK
        self.head_scale = template.head_scale
        if set(self._kinds) != set(self.state_dict()):
            raise ConfigError("GroupedFastNet: state-dict layout does not match the template")

    @classmethod
    def from_models(cls, models: Sequence[FastNet]) -> GroupedFastNet:
        """A wide network holding copies of ``models``' weights and buffers (on their device)."""
        wide = cls(models[0], len(models))
        wide.load_state_dict(wide.pack([m.state_dict() for m in models]))
        return wide.to(next(models[0].parameters()).device)

    def forward(self, x):
        x = self.features(x).amax(dim=(2, 3))
        x = x.view(x.shape[0], self.num_networks, -1)
        return self.head(x) * self.head_scale

    # ---------------------------------------------------------------- packing / unpacking
    def pack_tensor(self, name: str, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """Combine the K per-network values of state entry ``name`` into the wide value."""
        kind = self._kinds[name]
        if kind == _STACK:
            return torch.stack(list(tensors))
        if kind == _SHARED:
            return tensors[0].clone()
        return torch.cat(list(tensors))

    def unpack_tensor(self, name: str, tensor: torch.Tensor, k: int) -> torch.Tensor:
        """Network ``k``'s value of state entry ``name`` (a copy, not a view)."""
        kind = self._kinds[name]
        if kind == _STACK:
            return tensor[k].clone()
        if kind == _SHARED:
            return tensor.clone()
        return tensor.chunk(self.num_networks)[k].clone()

    def pack(self, states: Sequence[dict]) -> dict:
        """Wide state dict from K per-network (FastNet) state dicts."""
        if len(states) != self.num_networks:
            raise ValueError(f"expected {self.num_networks} state dicts, got {len(states)}")
        return {name: self.pack_tensor(name, [s[name] for s in states]) for name in self._kinds}

    def unpack(self, k: int) -> dict:
        """Network ``k``'s FastNet state dict (fresh tensors on the wide network's device)."""
        return {name: self.unpack_tensor(name, tensor, k)
                for name, tensor in self.state_dict().items()}

    def param_names(self) -> list[str]:
        """Parameter names in ``parameters()`` order (the same order as FastNet's)."""
        return [name for name, _ in self.named_parameters()]


def build_networks(config: TrainConfig, networks: Sequence[int], num_classes: int,
                   image_size: int = 32) -> list:
    """The networks' initial states, seeded exactly as ``training.train_network`` seeds them."""
    models = []
    for k in networks:
        torch.manual_seed(config.seed + k)
        models.append(build_model(config.arch, num_classes, image_size=image_size))
    return models


def _unpack_optimizer(wide: GroupedFastNet, state: dict, k: int) -> dict:
    names = wide.param_names()
    per_param = {
        i: {key: wide.unpack_tensor(names[i], value, k)
            if isinstance(value, torch.Tensor) and value.dim() > 0 else copy.deepcopy(value)
            for key, value in entry.items()}
        for i, entry in state["state"].items()}
    return {"state": per_param, "param_groups": copy.deepcopy(state["param_groups"])}


def _pack_optimizer(wide: GroupedFastNet, states: Sequence[dict]) -> dict:
    names = wide.param_names()
    packed = {}
    for i in states[0]["state"]:
        entries = [s["state"][i] for s in states]
        packed[i] = {
            key: wide.pack_tensor(names[i], [e[key] for e in entries])
            if isinstance(value, torch.Tensor) and value.dim() > 0 else value
            for key, value in entries[0].items()}
    return {"state": packed, "param_groups": copy.deepcopy(states[0]["param_groups"])}


class ConcurrentTrainer:
    """The state of a group of networks trained together, one method per phase of an epoch.

    :func:`train_concurrently` is the normal entry point; the phases are public so that the
    benchmark can time them (bare training pass, online bookkeeping, eval pass, writes).

    Parameters
    ----------
    config, store, train, test, checkpoint_dir, device, networks
        As for :func:`train_concurrently`.
    amp : bool or None
        bf16 autocast; default: on CUDA only.

    The wide network and its inputs are channels_last on every device: oneDNN's grouped
    convolutions are much faster in that layout on CPU too (fastnet_small, K=5, batch 128,
    forward + backward on 2 cores: 0.70 s contiguous, 0.42 s channels_last, 0.43 s for the
    five separate networks), and cuDNN's bf16 convolutions want it on CUDA.
    """

    def __init__(self, config, store, train, test, checkpoint_dir, device, networks,
                 amp: bool | None = None):
        check_arch(config.arch)
        self.config, self.store = config, store
        self.device = torch.device(device)
        self.networks = [int(k) for k in networks]
        if not self.networks or len(set(self.networks)) != len(self.networks):
            raise ValueError(f"networks must be distinct indices, got {networks!r}")
        self.amp = self.device.type == "cuda" if amp is None else bool(amp)
        (self.x_train, self.y_train), (self.x_test, self.y_test) = train, test
        self.mean, self.std = channel_stats(self.x_train)
        self.n = len(self.x_train)
        self.steps_per_epoch = math.ceil(self.n / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.checkpoint_dir = checkpoint_dir
        input_size = config.crop or self.x_train.shape[1]
        models = build_networks(config, self.networks, store.num_classes, input_size)
        self.model = GroupedFastNet.from_models(models).to(self.device)
        self.model = self.model.to(memory_format=torch.channels_last)
        # SGD (momentum, weight decay) and Adam (L2 weight decay) are elementwise with one
        # step counter: one optimizer over the packed parameters is K independent ones.
        self.optimizer = make_optimizer(config, self.model.parameters())
        self.epoch = 0

    # ---------------------------------------------------------------- checkpoints
    def checkpoint_path(self, k: int):
        return self.checkpoint_dir / f"net{k:03d}.pt"

    def checkpoint_epochs(self) -> list[int]:
        """Each network's checkpoint epoch (0 where it has none), without loading weights."""
        epochs = []
        for k in self.networks:
            path = self.checkpoint_path(k)
            if path.exists():
                state = torch.load(path, map_location="cpu", weights_only=True)
                epochs.append(int(state["epoch"]))
            else:
                epochs.append(0)
        return epochs

    def load_checkpoints(self) -> None:
        """Resume from the networks' checkpoints (all must exist, at the same epoch)."""
        states = [torch.load(self.checkpoint_path(k), map_location=self.device,
                             weights_only=True) for k in self.networks]
        epochs = {int(s["epoch"]) for s in states}
        if len(epochs) != 1:
            raise ValueError(f"networks {self.networks} are at different epochs {epochs}")
        self.model.load_state_dict(self.model.pack([s["model"] for s in states]))
        self.optimizer.load_state_dict(_pack_optimizer(self.model,
                                                       [s["optimizer"] for s in states]))
        self.epoch = epochs.pop()

    def save_checkpoints(self, epoch: int) -> None:
        """One checkpoint per network, in ``train_network``'s format (atomically)."""
        optimizer_state = self.optimizer.state_dict()
        for j, k in enumerate(self.networks):
            state = {"model": self.model.unpack(j),
                     "optimizer": _unpack_optimizer(self.model, optimizer_state, j),
                     "epoch": epoch}
            with atomic_path(self.checkpoint_path(k)) as tmp:
                torch.save(state, tmp)

    # ---------------------------------------------------------------- passes
    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def _stack_inputs(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (K, B, H, W, 3) -> normalised float (B, 3K, H, W), network k in channels 3k.."""
        k, b, h, w, _ = images.shape
        mean, std = self.mean.view(1, 1, 3, 1, 1), self.std.view(1, 1, 3, 1, 1)
        # The same elementwise operations as training.to_float: bitwise the same inputs.
        x = (images.permute(1, 0, 4, 2, 3).float() / 255 - mean) / std  # (B, K, 3, H, W)
        return x.reshape(b, 3 * k, h, w).contiguous(memory_format=torch.channels_last)

    def orders(self, epoch: int) -> tuple[torch.Tensor, list[torch.Generator]]:
        """(K, N) data order of every network in ``epoch``, drawn as ``train_network`` draws
        it, and each network's generator, which goes on to draw its random crops."""
        generators = [torch.Generator().manual_seed((self.config.seed + k) * 1_000_003 + epoch)
                      for k in self.networks]
        orders = [torch.randperm(self.n, generator=g) for g in generators]
        return torch.stack(orders).to(self.device), generators

    def _batch(self, idx: torch.Tensor, generators) -> torch.Tensor:
        """uint8 (K, B, h, w, 3) training images, network k's randomly cropped with its
        generator (as ``train_network`` crops them)."""
        crop = self.config.crop
        images = self.x_train[idx]
        if crop is None or crop == images.shape[2] == images.shape[3]:
            return images
        return torch.stack([random_crop(images[j], crop, g) for j, g in enumerate(generators)])

    def train_epoch(self, epoch: int, bookkeeping: bool = True):
        """One training sweep of all networks; returns (losses (K,), online_pred, online_prob).

        With ``bookkeeping`` the (K, N) predicted classes and true-class probabilities of the
        training pass are recorded (online recording); otherwise those are None.
        """
        config, model, optimizer, y = self.config, self.model, self.optimizer, self.y_train
        model.train()
        order, generators = self.orders(epoch)
        num = len(self.networks)
        rows = torch.arange(num, device=self.device)[:, None]
        online_pred = online_prob = None
        if bookkeeping:
            online_pred = torch.empty((num, self.n, *y.shape[1:]), dtype=y.dtype,
                                      device=self.device)
            online_prob = torch.empty(num, self.n, dtype=torch.float32, device=self.device)
        loss_sum = torch.zeros(num, dtype=torch.float64, device=self.device)
        for i, start in enumerate(range(0, self.n, config.batch_size)):
            apply_schedule(optimizer, config, (epoch - 1) * self.steps_per_epoch + i,
                           self.total_steps)
            idx = order[:, start:start + config.batch_size]  # (K, B)
            targets = y[idx]  # (K, B) or (K, B, C)
            with self._autocast():
                logits = model(self._stack_inputs(self._batch(idx, generators)))
            logits = logits.transpose(0, 1)  # (K, B, C)
            # The plain path's loss per network; network k's parameters reach only loss k, so
            # the sum gives every network exactly its own gradient.
            losses = torch.stack([loss_fn(logits[j], targets[j]) for j in range(num)])
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            b = idx.shape[1]
            loss_sum += losses.detach() * b
            if bookkeeping:
                # decide() works row by row: all K networks' rows in one call.
                pred, prob = decide(logits.reshape(num * b, -1),
                                    targets.reshape(num * b, *targets.shape[2:]))
                online_pred[rows, idx] = pred.view(num, b, *pred.shape[1:])
                online_prob[rows, idx] = prob.view(num, b)
        self.epoch = epoch
        return loss_sum / self.n, online_pred, online_prob

    @torch.no_grad()
    def predict(self, images, targets, batch_size=1024):
        """Eval-mode (K, N) predicted classes and true-class probabilities of all networks."""
        self.model.eval()
        num = len(self.networks)
        preds, probs = [], []
        for start in range(0, len(images), batch_size):
            batch = center_crop(images[start:start + batch_size], self.config.crop)
            x = to_float(batch, self.mean, self.std)
            x = x.repeat(1, num, 1, 1).contiguous(memory_format=torch.channels_last)
            with self._autocast():
                logits = self.model(x).transpose(0, 1)  # (K, B, C)
            t = targets[start:start + batch_size]
            b = len(t)
            pred, prob = decide(logits.reshape(num * b, -1),
                                t.expand(num, *t.shape).reshape(num * b, *t.shape[1:]))
            preds.append(pred.view(num, b, *pred.shape[1:]))
            probs.append(prob.view(num, b))
        return torch.cat(preds, 1), torch.cat(probs, 1)

    def write_records(self, epoch: int, recorded: dict) -> None:
        """Write every network's records; ``recorded``: split -> ((K, N) pred, (K, N) prob)."""
        recorded = {split: (pred.cpu(), prob.cpu()) for split, (pred, prob) in recorded.items()}
        for j, k in enumerate(self.networks):
            record_epoch(self.store, k, epoch,
                         {split: (pred[j], prob[j]) for split, (pred, prob) in recorded.items()})

    def run_epoch(self, epoch: int):
        """Train, record and checkpoint one epoch; returns (losses, recorded)."""
        online = self.config.recording == "online"
        losses, online_pred, online_prob = self.train_epoch(epoch, bookkeeping=online)
        if online:
            train_rec = online_pred, online_prob
        else:
            train_rec = self.predict(self.x_train, self.y_train)
        recorded = {"train": train_rec, "test": self.predict(self.x_test, self.y_test)}
        self.write_records(epoch, recorded)
        # Records first, checkpoints second: a crash in between only repeats this epoch.
        self.save_checkpoints(epoch)
        return losses, recorded


def train_concurrently(config, store, train, test, checkpoint_dir, device, networks,
                       progress=True, amp: bool | None = None) -> None:
    """Train ``networks`` together from their checkpoints to ``config.epochs``, recording each
    epoch, with the effects of ``training.train_network`` for each of them.

    Networks whose checkpoints are at different epochs are trained one after another with
    ``training.train_network`` instead (each resumes from its own checkpoint).

    Raises
    ------
    ConfigError
        ``config.arch`` is not in :data:`SUPPORTED_ARCHS` (train sequentially instead).
    """
    check_arch(config.arch)
    networks = [int(k) for k in networks]
    if not networks:
        return
    trainer = ConcurrentTrainer(config, store, train, test, checkpoint_dir, device, networks,
                                amp=amp)
    start_epochs = trainer.checkpoint_epochs()
    if len(set(start_epochs)) > 1:
        for k in networks:
            training.train_network(config, k, store, train, test, checkpoint_dir, device,
                                   progress)
        return
    if start_epochs[0] > 0:
        trainer.load_checkpoints()

    epochs = range(trainer.epoch + 1, config.epochs + 1)
    label = f"nets {networks[0]}..{networks[-1]}" if len(networks) > 1 else f"net {networks[0]}"
    bar = tqdm(epochs, desc=label, leave=False, disable=None if progress else True)
    for epoch in bar:
        losses, _ = trainer.run_epoch(epoch)
        for j, k in enumerate(networks):
            bar.write(epoch_summary_line(store, k, epoch, losses[j].item()))

"""K networks as one grouped network: one forward/backward call per step for the whole group.

:class:`NetworkGroup` is what the study trainer (:mod:`agreement_core.training.trainer`)
steps when ``TrainConfig.concurrent`` is set and the architecture allows it: the same
record files, per-network checkpoints, initial weights, data order and learning-rate
schedule as training the networks one after another, but all K updated together, which keeps
a GPU busy where one small network leaves it mostly idle.

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
linear head are supported: :data:`SUPPORTED_ARCHS`; the trainer trains any other one network
after another.

Equivalence with one network at a time: the initial weights are bitwise identical (each
network is built exactly as alone, then packed); SGD with momentum and weight decay is
elementwise, so one optimizer over the packed parameters updates every network as its own
optimizer would; the summed per-network mean losses give each network exactly its own
gradient. Results are not bitwise identical because grouped kernels sum in another order
(and with ``precision="bfloat16"`` the forward passes run under bf16 autocast).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ConfigError
from ..models import FastNet
from .config import TrainConfig
from .inputs import center_crop, random_crop, to_float
from .schedules import make_optimizer
from .step import decide

__all__ = ["SUPPORTED_ARCHS", "GroupedFastNet", "GroupedLinear", "NetworkGroup", "check_arch"]

SUPPORTED_ARCHS = ("fastnet", "fastnet_small")

def check_arch(arch: str) -> None:
    """Raise ConfigError unless ``arch`` can be trained concurrently."""
    if arch not in SUPPORTED_ARCHS:
        raise ConfigError(f"concurrent training supports the architectures "
                          f"{', '.join(SUPPORTED_ARCHS)}, not {arch!r}; "
                          f"train it one network after another")


# How each state-dict entry of the wide network relates to the K per-network entries.
_CAT, _STACK, _SHARED = "cat", "stack", "shared"


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
    """K FastNets as one network: (B, 3K, H, W) -> (K, B, classes).

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
        return (self.head(x) * self.head_scale).transpose(0, 1)  # (K, B, classes)

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


class NetworkGroup:
    """K networks trained as one :class:`GroupedFastNet`; the trainer's view of a group.

    The wide network and its inputs are channels_last on every device: oneDNN's grouped
    convolutions are much faster in that layout on CPU too (fastnet_small, K=5, batch 128,
    forward + backward on 2 cores: 0.70 s contiguous, 0.42 s channels_last, 0.43 s for the
    five separate networks), and cuDNN's bf16 convolutions want it on CUDA.

    Parameters
    ----------
    config : TrainConfig
    models : list of FastNet
        The networks' initial states (built as for one network at a time).
    mean, std : tensor
        The training split's channel statistics, (1, 3, 1, 1).
    device : torch.device
    amp : bool or None
        bf16 autocast; default: as ``config.precision`` says.
    """

    def __init__(self, config: TrainConfig, models: Sequence[nn.Module], mean, std, device,
                 amp: bool | None = None):
        check_arch(config.arch)
        self.config, self.mean, self.std = config, mean, std
        self.device = torch.device(device)
        self.amp = config.precision == "bfloat16" if amp is None else bool(amp)
        self.model = GroupedFastNet.from_models(models).to(self.device)
        self.model = self.model.to(memory_format=torch.channels_last)
        # SGD (momentum, weight decay) and Adam (L2 weight decay) are elementwise with one
        # step counter: one optimizer over the packed parameters is K independent ones.
        self.optimizer = make_optimizer(config, self.model.parameters())

    def __len__(self) -> int:
        return self.model.num_networks

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def crops(self, images: torch.Tensor, generators) -> torch.Tensor:
        """uint8 (K, B, H, W, 3) -> network k's random crops drawn with its generator."""
        crop = self.config.crop
        if crop is None or crop == images.shape[2] == images.shape[3]:
            return images
        return torch.stack([random_crop(images[j], crop, g) for j, g in enumerate(generators)])

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (K, B, H, W, 3) -> normalised float (B, 3K, H, W), network k in channels 3k.."""
        k, b, h, w, _ = images.shape
        mean, std = self.mean.view(1, 1, 3, 1, 1), self.std.view(1, 1, 3, 1, 1)
        # The same elementwise operations as inputs.to_float: bitwise the same inputs.
        x = (images.permute(1, 0, 4, 2, 3).float() / 255 - mean) / std  # (B, K, 3, H, W)
        return x.reshape(b, 3 * k, h, w).contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def predict(self, images, targets, batch_size=1024):
        """Eval-mode (K, N) predictions and true-answer probabilities of all networks."""
        self.model.eval()
        num = len(self)
        preds, probs = [], []
        for start in range(0, len(images), batch_size):
            batch = center_crop(images[start:start + batch_size], self.config.crop)
            x = to_float(batch, self.mean, self.std)
            x = x.repeat(1, num, 1, 1).contiguous(memory_format=torch.channels_last)
            with self.autocast():
                logits = self.model(x)  # (K, B, C)
            t = targets[start:start + batch_size]
            b = len(t)
            pred, prob = decide(logits.reshape(num * b, -1),
                                t.expand(num, *t.shape).reshape(num * b, *t.shape[1:]))
            preds.append(pred.view(num, b, *pred.shape[1:]))
            probs.append(prob.view(num, b))
        return torch.cat(preds, 1), torch.cat(probs, 1)

    def states(self) -> list[dict]:
        """Every network's checkpoint state, in the one-network format."""
        optimizer_state = self.optimizer.state_dict()
        return [{"model": self.model.unpack(j),
                 "optimizer": _unpack_optimizer(self.model, optimizer_state, j)}
                for j in range(len(self))]

    def load_states(self, states: Sequence[dict]) -> None:
        """Resume from the networks' checkpoint states (one-network format)."""
        self.model.load_state_dict(self.model.pack([s["model"] for s in states]))
        self.optimizer.load_state_dict(_pack_optimizer(self.model,
                                                       [s["optimizer"] for s in states]))

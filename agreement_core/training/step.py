"""One optimization step, the loss, and the decision a network makes on an example.

:func:`train_step` is the only place a network is updated: the study trainer (one network
or a group of K, :mod:`agreement_core.training.trainer`) and the curriculum trainer
(:mod:`agreement_core.training.curriculum`) all call it. Whether a decision is right is
:func:`agreement_core.data.labels.is_correct`, the one rule the whole package uses.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from .config import TrainConfig
from .inputs import center_crop, to_float
from .schedules import apply_schedule


def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy, or binary cross-entropy per class for multi-label targets."""
    if targets.dtype == torch.bool:
        return F.binary_cross_entropy_with_logits(logits, targets.float())
    return F.cross_entropy(logits, targets)


def network_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Each network's mean loss: 0-d for one network's (B, C) logits, (K,) for a group's
    (K, B, C). Network k's parameters reach only loss k, so the sum of the losses gives every
    network of a group exactly its own gradient."""
    if logits.dim() == 3:
        return torch.stack([loss_fn(logits[j], targets[j]) for j in range(len(logits))])
    return loss_fn(logits, targets)


@functools.cache
def native_bfloat16_cpu() -> bool | None:
    """Whether this CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX, Arm BF16);
    None when it cannot be told (no ``/proc/cpuinfo``)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return None
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def precision_autocast(config: TrainConfig, device):
    """``torch.autocast`` to bfloat16 on ``device`` when ``config.precision`` asks for it,
    else None (float32 throughout).

    On a CPU without native bfloat16 the autocast still runs, emulated, and a warning says
    so: on an AVX2-only AMD EPYC a 3x3 convolution (128 x 64 x 32 x 32) took 33.6 s in
    bfloat16 against 0.37 s in float32, one thread.
    """
    if config.precision != "bfloat16":
        return None
    kind = torch.device(device).type
    if kind == "cpu" and native_bfloat16_cpu() is False:
        warnings.warn("this CPU has no native bfloat16 (no AVX512-BF16, AMX or BF16 flag): "
                      "precision='bfloat16' is emulated here, about 90x slower than float32 "
                      "for convolutions; train on a CPU or GPU with bfloat16, or use "
                      "precision='float32' (a different study)", RuntimeWarning, stacklevel=2)
    return torch.autocast(kind, dtype=torch.bfloat16)


def train_step(model, optimizer, inputs: torch.Tensor, targets: torch.Tensor, *,
               config: TrainConfig, step: int, total_steps: int, autocast=None):
    """One optimization step of one network, or of a group of K trained as one.

    Sets the learning rate and momentum of ``step`` (0-based, of ``total_steps``), runs the
    forward pass (inside ``autocast`` when given), the loss, the backward pass and the
    update. ``model`` maps ``inputs`` to (B, C) logits, or a group to (K, B, C) with
    ``targets`` (K, B[, C]).

    Returns
    -------
    logits : tensor
        The forward pass's logits (for online recording).
    loss : tensor
        The detached mean loss: 0-d for one network, (K,) for a group.
    """
    apply_schedule(optimizer, config, step, total_steps)
    with autocast or contextlib.nullcontext():
        logits = model(inputs)
    loss = network_losses(logits, targets)
    optimizer.zero_grad(set_to_none=True)
    loss.sum().backward()
    optimizer.step()
    return logits, loss.detach()


@torch.no_grad()
def decide(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and the probability of the true answer, row by row.

    Single-label: the arg-max class and the softmax probability of the true
    class. Multi-label: the set of classes with sigmoid > 0.5 and the
    probability of exactly the true label set under independent sigmoids.
    """
    logits = logits.float()
    if targets.dtype == torch.bool:
        nll = F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none")
        return logits > 0, torch.exp(-nll.sum(dim=1))
    return logits.argmax(1), logits.softmax(1).gather(1, targets[:, None])[:, 0]


@torch.no_grad()
def predict(model, images, mean, std, targets, batch_size=1024, crop=None):
    """Eval-mode predictions and true-answer probabilities for every image (center crop)."""
    model.eval()
    preds, probs = [], []
    for start in range(0, len(images), batch_size):
        batch = center_crop(images[start:start + batch_size], crop)
        pred, prob = decide(model(to_float(batch, mean, std)), targets[start:start + batch_size])
        preds.append(pred)
        probs.append(prob)
    return torch.cat(preds), torch.cat(probs)

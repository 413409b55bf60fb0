"""Learning-rate and momentum schedules, as pure functions of the optimization step.

Cosine annealing (from ``lr`` to ``min_lr``, no restarts), step decay (``gamma`` every
``step_size`` epochs), PyTorch's one-cycle (``OneCycleLR`` defaults, with momentum or Adam's
beta1 cycled 0.95 -> 0.85 -> 0.95) and constant. Being pure functions of the step, they need
no scheduler state in checkpoints: a resumed run sets the same values.
"""

from __future__ import annotations

import math

import torch

from .config import TrainConfig


def _cos_anneal(start: float, end: float, fraction: float) -> float:
    return end + (start - end) / 2 * (math.cos(math.pi * fraction) + 1)


def _one_cycle(step: int, total_steps: int, start: float, peak: float, end: float) -> float:
    # PyTorch OneCycleLR (pct_start 0.3, cosine, two phases), evaluated at ``step``.
    peak_step = 0.3 * total_steps - 1
    if step <= peak_step:
        return _cos_anneal(start, peak, step / peak_step if peak_step > 0 else 1.0)
    return _cos_anneal(peak, end, (step - peak_step) / (total_steps - 1 - peak_step))


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    """Learning rate at optimization ``step`` (0-based) of ``total_steps``."""
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "cosine":  # annealing from lr to min_lr, no restarts
        return _cos_anneal(config.lr, config.min_lr, step / max(total_steps, 1))
    if config.schedule == "step":
        epoch = step // max(total_steps // config.epochs, 1)
        return config.lr * config.gamma ** (epoch // config.step_size)
    initial = config.lr / 25  # OneCycleLR: div_factor 25, final_div_factor 1e4
    return _one_cycle(step, total_steps, initial, config.lr, initial / 1e4)


def momentum_at(config: TrainConfig, step: int, total_steps: int) -> float:
    """SGD momentum (Adam: beta1) at ``step``: cycled 0.95 -> 0.85 -> 0.95 by one-cycle."""
    if config.schedule == "onecycle":
        return _one_cycle(step, total_steps, 0.95, 0.85, 0.95)
    return config.momentum if config.optimizer == "sgd" else config.betas[0]


def make_optimizer(config: TrainConfig, parameters) -> torch.optim.Optimizer:
    """SGD with momentum or Adam, with the configuration's weight decay (L2)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr, betas=config.betas,
                                weight_decay=config.weight_decay)
    return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def apply_schedule(optimizer, config: TrainConfig, step: int, total_steps: int) -> None:
    """Set the learning rate and momentum (Adam: beta1) of ``optimizer`` for ``step``."""
    lr, momentum = learning_rate(config, step, total_steps), momentum_at(config, step, total_steps)
    for group in optimizer.param_groups:
        group["lr"] = lr
        if "betas" in group:
            group["betas"] = (momentum, group["betas"][1])
        else:
            group["momentum"] = momentum

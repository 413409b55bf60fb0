"""Model builders, in a registry: ``build_model(name, num_classes)``.

Every builder returns a plain ``nn.Module`` that maps a float image batch
(N, 3, H, W) to logits (N, C), initialised as in the paper (Kaiming-normal
convolutions and linear layers, BatchNorm epsilon 1e-5).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .errors import ConfigError

MODELS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Add a builder to :data:`MODELS` under ``name``."""

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS[name] = builder
        return builder

    return decorator


def build_model(name: str, num_classes: int, **kwargs) -> nn.Module:
    """Build the registered model ``name`` with a ``num_classes``-way head.

    Raises
    ------
    ConfigError
        If ``name`` is not registered; the message lists the registry.
    """
    if name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise ConfigError(f"unknown architecture {name!r}; known architectures: {known}")
    if num_classes < 1:
        raise ConfigError(f"num_classes must be positive, got {num_classes}")
    model = MODELS[name](num_classes=num_classes, **kwargs)
    kaiming_init(model)
    return model


def kaiming_init(model: nn.Module) -> None:
    """Kaiming-normal weights for convolutions and linear layers, as in the paper."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    """3x3 convolution (no bias: BatchNorm follows), BatchNorm, GELU."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out, eps=1e-5),
            nn.GELU()]


class FastNet(nn.Module):
    """Small airbench-style network for quick studies on 32x32 inputs.

    A 2x2 stem convolution, then three groups of (conv, max-pool, BN, GELU,
    conv, BN, GELU) halving the resolution each time, a global max-pool and a
    linear head scaled down by ``head_scale`` (after Keller Jordan's airbench,
    without its data whitening, label smoothing and look-ahead tricks).
    """

    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (64, 256, 256),
                 stem_width: int = 24, head_scale: float = 1 / 9):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, stem_width, 2, padding=0, bias=True), nn.GELU()]
        c_in = stem_width
        for width in widths:
            group = conv_bn(c_in, width)
            group.insert(1, nn.MaxPool2d(2))
            layers += group + conv_bn(width, width)
            c_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, num_classes, bias=False)
        self.head_scale = head_scale

    def forward(self, x):
        x = self.features(x).amax(dim=(2, 3))
        return self.head(x) * self.head_scale


@register("fastnet")
def fastnet(num_classes: int = 10) -> nn.Module:
    """airbench-sized FastNet (widths 64/256/256) for GPU studies."""
    return FastNet(num_classes, widths=(64, 256, 256))


@register("fastnet_small")
def fastnet_small(num_classes: int = 10) -> nn.Module:
    """A FastNet narrow enough (widths 32/64/64) for CPU studies in minutes."""
    return FastNet(num_classes, widths=(32, 64, 64), stem_width=16)


@register("lenet5_bn")
def lenet5_bn(num_classes: int = 10) -> nn.Module:
    """LeNet5 with BatchNorm after each layer, for 32x32 inputs (the paper's variant)."""
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.BatchNorm2d(6, eps=1e-5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16, eps=1e-5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.BatchNorm1d(120, eps=1e-5), nn.ReLU(),
        nn.Linear(120, 84), nn.BatchNorm1d(84, eps=1e-5), nn.ReLU(),
        nn.Linear(84, num_classes),
    )

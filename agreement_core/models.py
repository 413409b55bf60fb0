"""Model builders, in a registry: ``build_model(name, num_classes, image_size=32)``.

Every builder returns a plain ``nn.Module`` that maps a float image batch
(N, 3, H, W) to logits (N, C), initialised as in the paper: Kaiming-normal
convolutions and linear layers (fan-in, ReLU gain), BatchNorm weight 1 and
bias 0, BatchNorm epsilon 1e-5 (torchvision's default), and never any
pretrained weights.

``image_size`` picks the variant of the standard architectures: inputs of at
most :data:`CIFAR_MAX_IMAGE_SIZE` (64) pixels get the CIFAR variant (a 3x3
stride-1 stem without the stem max-pool, so that a 32x32 image is not reduced
to 1x1 before the last stage), larger inputs (224 for ImageNet, 190 for KTH)
get the unchanged torchvision ImageNet architecture. Of the small study
networks, ``fastnet`` and ``fastnet_small`` are size-agnostic (one network for
every size, global max-pool before the head) and ``lenet5_bn`` exists only for
CIFAR-sized inputs (16 to 64 pixels). ``docs/models.md`` tabulates the registry.

The same builders serve single-label and multi-label data: the head is always
``num_classes`` raw logits, to be trained with cross-entropy (single label) or
BCE-with-logits (multi-label, one independent sigmoid per class).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
import torchvision
from torch import nn

from .errors import ConfigError

MODELS: dict[str, Callable[..., nn.Module]] = {}

#: Largest ``image_size`` (pixels per side) that selects a CIFAR variant.
CIFAR_MAX_IMAGE_SIZE = 64


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Add a builder to :data:`MODELS` under ``name``.

    A builder is called as ``builder(num_classes=..., image_size=..., **kwargs)``.
    """

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS[name] = builder
        return builder

    return decorator


def build_model(name: str, num_classes: int, image_size: int = 32, **kwargs) -> nn.Module:
    """Build the registered model ``name`` with a ``num_classes``-way head.

    Parameters
    ----------
    name
        A key of :data:`MODELS`.
    num_classes
        Number of output logits (classes, or labels for multi-label data).
    image_size
        Side of the (square) input images. At most ``CIFAR_MAX_IMAGE_SIZE``
        selects the CIFAR variant, larger the ImageNet variant.
    **kwargs
        Passed on to the builder.

    Raises
    ------
    ConfigError
        If ``name`` is not registered (the message lists the registry), if
        ``num_classes`` or ``image_size`` is not positive, or if the model has
        no variant for ``image_size``.
    """
    if name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise ConfigError(f"unknown architecture {name!r}; known architectures: {known}")
    if num_classes < 1:
        raise ConfigError(f"num_classes must be positive, got {num_classes}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ConfigError(f"image_size must be a positive integer, got {image_size!r}")
    model = MODELS[name](num_classes=num_classes, image_size=image_size, **kwargs)
    kaiming_init(model)
    return model


def is_cifar_size(image_size: int) -> bool:
    """Whether ``image_size`` selects the CIFAR variant of an architecture."""
    return image_size <= CIFAR_MAX_IMAGE_SIZE


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


# --------------------------------------------------------------------------- study networks


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


#: Smallest input FastNet accepts: the 2x2 stem takes one pixel, three max-pools divide by 8.
FASTNET_MIN_IMAGE_SIZE = 9


def _check_fastnet_size(name: str, image_size: int) -> None:
    if image_size < FASTNET_MIN_IMAGE_SIZE:
        raise ConfigError(
            f"{name} needs image_size >= {FASTNET_MIN_IMAGE_SIZE}, got {image_size}")


@register("fastnet")
def fastnet(num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """airbench-sized FastNet (widths 64/256/256) for GPU studies.

    Designed for 32x32 inputs but size-agnostic (global max-pool before the
    head): the same network serves any ``image_size >= 9``.
    """
    _check_fastnet_size("fastnet", image_size)
    return FastNet(num_classes, widths=(64, 256, 256))


@register("fastnet_small")
def fastnet_small(num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """A FastNet narrow enough (widths 32/64/64) for CPU studies in minutes (size-agnostic)."""
    _check_fastnet_size("fastnet_small", image_size)
    return FastNet(num_classes, widths=(32, 64, 64), stem_width=16)


#: Smallest input LeNet5 accepts (two 5x5 valid convolutions and two 2x2 pools).
LENET_MIN_IMAGE_SIZE = 16


@register("lenet5_bn")
def lenet5_bn(num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """LeNet5 with BatchNorm after each layer, for 32x32 inputs (the paper's variant).

    The flattened feature size follows ``image_size`` (16 * 5 * 5 for 32x32),
    so any CIFAR-sized input from 16 to 64 pixels works.
    """
    if not LENET_MIN_IMAGE_SIZE <= image_size <= CIFAR_MAX_IMAGE_SIZE:
        raise ConfigError(
            f"lenet5_bn exists only for CIFAR-sized inputs ({LENET_MIN_IMAGE_SIZE} <= image_size "
            f"<= {CIFAR_MAX_IMAGE_SIZE}), got image_size={image_size}; use fastnet, resnet18, "
            "resnet50, vgg16 or densenet121 for larger images")
    side = ((image_size - 4) // 2 - 4) // 2
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.BatchNorm2d(6, eps=1e-5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16, eps=1e-5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * side * side, 120), nn.BatchNorm1d(120, eps=1e-5), nn.ReLU(),
        nn.Linear(120, 84), nn.BatchNorm1d(84, eps=1e-5), nn.ReLU(),
        nn.Linear(84, num_classes),
    )


# --------------------------------------------------------------------- standard architectures

#: VGG16 ('D' configuration): output channels of each 3x3 conv, "M" for a 2x2 max-pool.
VGG16_CONFIG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                                       512, 512, 512, "M", 512, 512, 512, "M")


class CifarVGG(nn.Module):
    """VGG with BatchNorm for CIFAR: the conv stack of ``config`` and one linear layer.

    As in the common CIFAR reimplementations (e.g. kuangliu/pytorch-cifar), the
    three-layer 4096-wide ImageNet classifier is replaced by a single
    ``Linear(512, num_classes)``: five max-pools take a 32x32 input to 1x1x512.
    A global average pool before the head is the identity at 32x32 and lets
    inputs up to 64x64 through.
    """

    def __init__(self, num_classes: int = 10, config: tuple[int | str, ...] = VGG16_CONFIG):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, int(item), 3, padding=1),
                           nn.BatchNorm2d(int(item), eps=1e-5), nn.ReLU(inplace=True)]
                c_in = int(item)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


#: Smallest CIFAR-variant input: VGG's five max-pools need 32 pixels, the ResNets' and
#: DenseNet's three stride-2 stages 8.
CIFAR_MIN_IMAGE_SIZE = {"vgg16": 32, "resnet18": 8, "resnet50": 8, "densenet121": 8}


def _cifar_stem() -> nn.Conv2d:
    """3x3 stride-1 convolution to 64 channels, replacing the 7x7 stride-2 ImageNet stem."""
    return nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)


def _check_cifar_minimum(name: str, image_size: int) -> None:
    minimum = CIFAR_MIN_IMAGE_SIZE[name]
    if image_size < minimum:
        raise ConfigError(f"{name} needs image_size >= {minimum}, got {image_size}")


@register("vgg16")
def vgg16(num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """VGG16 with BatchNorm: :class:`CifarVGG` for CIFAR sizes, else torchvision's vgg16_bn."""
    if is_cifar_size(image_size):
        _check_cifar_minimum("vgg16", image_size)
        return CifarVGG(num_classes, VGG16_CONFIG)
    return torchvision.models.vgg16_bn(weights=None, num_classes=num_classes)


def _resnet(name: str, num_classes: int, image_size: int) -> nn.Module:
    model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    if is_cifar_size(image_size):
        _check_cifar_minimum(name, image_size)
        model.conv1 = _cifar_stem()
        model.maxpool = nn.Identity()
    return model


@register("resnet18")
def resnet18(num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """torchvision ResNet18; CIFAR variant: 3x3 stride-1 stem, no stem max-pool."""
    return _resnet("resnet18", num_classes, image_size)


@register("resnet50")
def resnet50(num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """torchvision ResNet50; CIFAR variant: 3x3 stride-1 stem, no stem max-pool."""
    return _resnet("resnet50", num_classes, image_size)


@register("densenet121")
def densenet121(num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """torchvision DenseNet121; CIFAR variant: 3x3 stride-1 stem (``conv0``), no ``pool0``.

    The stem's BatchNorm and ReLU (``norm0``, ``relu0``) are kept, so the CIFAR
    variant is torchvision's network with only the first convolution and pool
    changed (growth rate 32, blocks 6/12/24/16, 64 stem channels).
    """
    model = torchvision.models.densenet121(weights=None, num_classes=num_classes)
    if is_cifar_size(image_size):
        _check_cifar_minimum("densenet121", image_size)
        model.features.conv0 = _cifar_stem()
        model.features.pool0 = nn.Identity()
    return model


# --------------------------------------------------------------------- CPU-sized CIFAR families
# One network per family of the paper's comparison (VGG, ResNet, DenseNet), at the sizes the
# CIFAR literature uses for small budgets; all size-agnostic (global pooling before the head).

#: VGG11 ('A' configuration) at a quarter of the width: 16/32/64/64/128/128/128/128.
VGG11_NARROW_CONFIG: tuple[int | str, ...] = (16, "M", 32, "M", 64, 64, "M", 128, 128, "M",
                                              128, 128, "M")


@register("vgg11_narrow")
def vgg11_narrow(num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """VGG11-BN (configuration A) at a quarter of the width, one linear head.

    :class:`CifarVGG` with :data:`VGG11_NARROW_CONFIG`: eight 3x3 convolutions with
    BatchNorm and ReLU, five max-pools, global average pool, ``Linear(128, C)``.
    """
    if image_size < 32:
        raise ConfigError(f"vgg11_narrow needs image_size >= 32 (five max-pools), "
                          f"got {image_size}")
    return CifarVGG(num_classes, VGG11_NARROW_CONFIG)


class _BasicBlock(nn.Module):
    """He et al.'s CIFAR basic block with the parameter-free shortcut (option A).

    Two 3x3 conv-BN layers; when the block halves the resolution and doubles the
    channels, the shortcut subsamples by 2 and zero-pads the new channels.
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out, eps=1e-5)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out, eps=1e-5)
        self.stride, self.pad = stride, c_out - c_in

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + shortcut)


class CifarResNet(nn.Module):
    """He et al. (2016, section 4.2) ResNet for CIFAR: depth ``6n + 2``.

    A 3x3 convolution to 16 channels, three stages of ``n`` basic blocks at 16, 32 and
    64 channels (the second and third start with stride 2), global average pool and a
    linear head. ``n = 3`` is ResNet-20.
    """

    def __init__(self, num_classes: int = 10, blocks_per_stage: int = 3,
                 widths: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0], eps=1e-5), nn.ReLU())
        blocks, c_in = [], widths[0]
        for stage, width in enumerate(widths):
            for i in range(blocks_per_stage):
                blocks.append(_BasicBlock(c_in, width, 2 if stage and not i else 1))
                c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean(dim=(2, 3)))


@register("resnet20")
def resnet20(num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """ResNet-20 for CIFAR (He et al. 2016): 3 x 3 basic blocks at 16/32/64 channels."""
    if image_size < 8:
        raise ConfigError(f"resnet20 needs image_size >= 8, got {image_size}")
    return CifarResNet(num_classes, blocks_per_stage=3)


@register("densenet_bc_40")
def densenet_bc_40(num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """DenseNet-BC with depth 40 and growth rate 12 for CIFAR (Huang et al. 2017).

    torchvision's DenseNet with three dense blocks of 6 bottleneck layers (``bn_size``
    4), compression 0.5 in the transitions, ``2k = 24`` stem channels from a 3x3
    stride-1 convolution and no stem pool; torchvision keeps a BatchNorm and ReLU after
    the stem convolution, which the original CIFAR DenseNet does not have.
    """
    if image_size < 8:
        raise ConfigError(f"densenet_bc_40 needs image_size >= 8, got {image_size}")
    model = torchvision.models.DenseNet(growth_rate=12, block_config=(6, 6, 6),
                                        num_init_features=24, bn_size=4,
                                        num_classes=num_classes)
    model.features.conv0 = nn.Conv2d(3, 24, kernel_size=3, stride=1, padding=1, bias=False)
    model.features.pool0 = nn.Identity()
    return model

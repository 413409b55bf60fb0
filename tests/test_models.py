import math

import pytest
import torch
import torchvision
from torch import nn

from agreement_core.errors import ConfigError
from agreement_core.models import CIFAR_MAX_IMAGE_SIZE, MODELS, CifarVGG, build_model

STANDARD = ("densenet121", "resnet18", "resnet50", "vgg16")
IMAGENET_TYPES = {
    "densenet121": torchvision.models.DenseNet,
    "resnet18": torchvision.models.ResNet,
    "resnet50": torchvision.models.ResNet,
    "vgg16": torchvision.models.VGG,
}


@pytest.fixture(scope="module")
def cifar_models():
    """Every registered model, built once for 32x32 inputs and 10 classes."""
    return {name: build_model(name, num_classes=10) for name in sorted(MODELS)}


@pytest.fixture(scope="module")
def imagenet_models():
    """The standard architectures' ImageNet variants, built once for 224x224 inputs."""
    return {name: build_model(name, num_classes=10, image_size=224) for name in STANDARD}


def first_conv(model: nn.Module) -> nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


def test_registry_holds_the_study_and_standard_architectures():
    assert set(MODELS) >= {"fastnet", "fastnet_small", "lenet5_bn", *STANDARD}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_builders_map_cifar_batches_to_logits(name):
    model = build_model(name, num_classes=7)  # train mode: BatchNorm uses batch statistics
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


@pytest.mark.parametrize("name", ["fastnet_small", "lenet5_bn", "resnet18", "vgg16"])
def test_cifar_variants_take_64x64_inputs(name):
    model = build_model(name, num_classes=5, image_size=CIFAR_MAX_IMAGE_SIZE).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 5)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "densenet121"])
def test_cifar_variants_have_a_3x3_stride_1_stem_and_no_stem_pool(name, cifar_models):
    model = cifar_models[name]
    stem = first_conv(model)
    assert (stem.in_channels, stem.out_channels) == (3, 64)
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1) and stem.padding == (1, 1)
    pool = model.maxpool if name.startswith("resnet") else model.features.pool0
    assert isinstance(pool, nn.Identity)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())


def test_cifar_vgg16_is_configuration_d_with_batchnorm_and_one_linear_head(cifar_models):
    model = cifar_models["vgg16"]
    assert isinstance(model, CifarVGG)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 256] + [512] * 6
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 13
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 5
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(512, 10)]


@pytest.mark.parametrize("name", STANDARD)
def test_large_images_get_the_torchvision_imagenet_variant(name, imagenet_models):
    model = imagenet_models[name]
    assert type(model) is IMAGENET_TYPES[name]
    stem = first_conv(model)
    if name == "vgg16":
        assert stem.kernel_size == (3, 3)
        assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 13
        assert model.classifier[0].in_features == 512 * 7 * 7
        assert model.classifier[-1].out_features == 10
    else:
        assert stem.kernel_size == (7, 7) and stem.stride == (2, 2)
        assert any(isinstance(m, nn.MaxPool2d) for m in model.modules())


@pytest.mark.parametrize("name", STANDARD)
def test_imagenet_variants_map_images_to_logits(name, imagenet_models):
    # 64x64 keeps the suite fast; every ImageNet variant ends in an adaptive pool.
    with torch.no_grad():
        assert imagenet_models[name].eval()(torch.randn(1, 3, 64, 64)).shape == (1, 10)


def test_resnet18_imagenet_variant_takes_224x224_images(imagenet_models):
    with torch.no_grad():
        assert imagenet_models["resnet18"].eval()(torch.randn(1, 3, 224, 224)).shape == (1, 10)


def test_kth_sized_images_select_the_imagenet_variant():
    model = build_model("resnet18", num_classes=6, image_size=190)
    assert first_conv(model).kernel_size == (7, 7)
    assert first_conv(build_model("resnet18", 6, image_size=64)).kernel_size == (3, 3)


def test_fastnet_is_size_agnostic():
    model = build_model("fastnet_small", num_classes=3, image_size=96).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 96, 96)).shape == (1, 3)


@pytest.mark.parametrize(("name", "image_size", "match"), [
    ("lenet5_bn", 224, "lenet5_bn exists only for CIFAR-sized inputs"),
    ("lenet5_bn", 8, "lenet5_bn exists only for CIFAR-sized inputs"),
    ("fastnet", 4, "fastnet needs image_size >= 9"),
    ("vgg16", 16, "vgg16 needs image_size >= 32"),
    ("resnet18", 0, "image_size must be a positive integer"),
    ("resnet18", 32.0, "image_size must be a positive integer"),
])
def test_unsupported_image_sizes_are_config_errors(name, image_size, match):
    with pytest.raises(ConfigError, match=match):
        build_model(name, num_classes=10, image_size=image_size)


def test_unknown_architecture_lists_the_registry():
    with pytest.raises(ConfigError, match="unknown architecture 'vgg99'.*fastnet_small"):
        build_model("vgg99", num_classes=10)
    with pytest.raises(ConfigError) as info:
        build_model("vgg99", num_classes=10)
    for name in MODELS:
        assert name in str(info.value)


def test_batchnorm_epsilon_is_the_papers():
    eps = {m.eps for m in build_model("lenet5_bn", 10).modules() if "BatchNorm" in type(m).__name__}
    assert eps == {1e-5}


def test_batchnorm_epsilon_is_1e_5_in_every_model(cifar_models, imagenet_models):
    models = list(cifar_models.items()) + [(f"{n}@224", m) for n, m in imagenet_models.items()]
    for name, model in models:
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        assert norms, name
        assert {m.eps for m in norms} == {1e-5}, name


def test_multi_label_head_is_plain_logits():
    model = build_model("fastnet_small", num_classes=20)
    logits = model(torch.randn(2, 3, 32, 32))
    targets = torch.zeros(2, 20)
    targets[0, [1, 5]] = 1
    loss = nn.functional.binary_cross_entropy_with_logits(logits, targets)
    assert logits.shape == (2, 20) and torch.isfinite(loss)


def assert_kaiming(name: str, model: nn.Module) -> None:
    """Large layers: std sqrt(2 / fan_in) (not torchvision's fan-out/0.01 init), zero bias.

    Large: at least 10,000 weights, or the largest layers of a model that has none that
    large (DenseNet-BC-40), so that the sample std is within a few percent."""
    checked = 0
    largest = max(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    threshold = min(10_000, largest)
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            if module.bias is not None:
                assert torch.count_nonzero(module.bias) == 0, name
            weight = module.weight.detach()
            if weight.numel() < threshold:
                continue
            fan_in = weight[0].numel()
            expected = math.sqrt(2 / fan_in)
            weight = weight.flatten()[:1_000_000]  # plenty for 5%; keeps VGG's 100M head fast
            assert weight.std().item() == pytest.approx(expected, rel=0.05), (name, module)
            assert abs(weight.mean().item()) < 0.05 * expected, (name, module)
            checked += 1
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0), name
    assert checked, name


def test_kaiming_init_is_applied_to_every_model(cifar_models, imagenet_models):
    for name, model in cifar_models.items():
        assert_kaiming(name, model)
    for name, model in imagenet_models.items():
        assert_kaiming(f"{name}@224", model)


def test_kaiming_init_overrides_torchvisions_fan_out_init(cifar_models):
    # A bottleneck expansion conv (64 -> 256, 1x1): fan-in and fan-out differ by 4x.
    conv = cifar_models["resnet50"].layer1[0].conv3
    assert (conv.in_channels, conv.out_channels) == (64, 256)
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 64), rel=0.03)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_same_seed_builds_identical_weights(name):
    torch.manual_seed(123)
    first = build_model(name, num_classes=10).state_dict()
    torch.manual_seed(123)
    second = build_model(name, num_classes=10).state_dict()
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    torch.manual_seed(124)
    third = build_model(name, num_classes=10).state_dict()
    assert any(not torch.equal(first[k], third[k]) for k in first if k.endswith("weight"))


# --------------------------------------------------------------------- CPU-sized CIFAR families
@pytest.mark.parametrize("name, parameters", [("vgg11_narrow", 579_786), ("resnet20", 269_722),
                                              ("densenet_bc_40", 176_170)])
def test_cifar_family_networks_have_their_published_size(name, parameters, cifar_models):
    # ResNet-20: 0.27M parameters (He et al. 2016, table 6); DenseNet-BC L=40, k=12.
    assert sum(p.numel() for p in cifar_models[name].parameters()) == parameters


def test_resnet20_is_depth_20_with_parameter_free_shortcuts(cifar_models):
    model = cifar_models["resnet20"]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(linears) == 20  # 1 + 3 stages x 3 blocks x 2 + the head
    assert all(c.kernel_size == (3, 3) for c in convs)  # option A: no 1x1 projections
    assert [c.out_channels for c in convs][-1] == 64


def test_densenet_bc_40_has_three_blocks_of_six_bottleneck_layers(cifar_models):
    features = cifar_models["densenet_bc_40"].features
    blocks = [m for name, m in features.named_children() if name.startswith("denseblock")]
    assert [len(b) for b in blocks] == [6, 6, 6]
    assert features.conv0.stride == (1, 1) and isinstance(features.pool0, nn.Identity)


@pytest.mark.parametrize("name", ["vgg11_narrow", "resnet20", "densenet_bc_40"])
def test_one_training_step_lowers_the_loss_on_its_batch(name):
    torch.manual_seed(0)
    model = build_model(name, num_classes=10)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(3):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name, too_small", [("vgg11_narrow", 16), ("resnet20", 4),
                                             ("densenet_bc_40", 4)])
def test_cifar_family_minimum_sizes(name, too_small):
    with pytest.raises(ConfigError, match=f"{name} needs image_size"):
        build_model(name, num_classes=10, image_size=too_small)

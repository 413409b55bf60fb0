import pytest
import torch

from agreement_core.errors import ConfigError
from agreement_core.models import MODELS, build_model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_builders_map_cifar_batches_to_logits(name):
    model = build_model(name, num_classes=7)
    assert model(torch.randn(4, 3, 32, 32)).shape == (4, 7)


def test_unknown_architecture_lists_the_registry():
    with pytest.raises(ConfigError, match="unknown architecture 'vgg99'.*fastnet_small"):
        build_model("vgg99", num_classes=10)


def test_batchnorm_epsilon_is_the_papers():
    eps = {m.eps for m in build_model("lenet5_bn", 10).modules() if "BatchNorm" in type(m).__name__}
    assert eps == {1e-5}

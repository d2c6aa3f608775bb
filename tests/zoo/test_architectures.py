"""The paper's architectures: output shapes and parameter counts (ResNet20 0.27 M, WRN-22-4
4.3 M), pixel-space inputs, what filter pruning may touch in a residual network, FLOPs before
and after pruning, and the torchvision ImageNet models built without weights."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ipguard.app.config import typed
from ipguard.models.cifar import lenet5, resnet20, vgg16, wrn
from ipguard.models.imagenet import torchvision_classifier
from ipguard.models.layers import count_parameters
from ipguard.utils.errors import ConfigError
from ipguard.zoo import build_from_spec
from train.flops import count_flops
from train.module import apply_masks
from train.plan import model_specs, stored_spec
from train.postprocess import filter_pruning_masks, prunable_convs, weight_pruning_masks
from train.schema import TrainConfig

from conftest import compose_cfg

CIFAR10 = ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])


def _convs(model: nn.Module) -> dict[str, nn.Conv2d]:
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


@pytest.mark.parametrize("build, classes, params", [
    (resnet20, 10, 269_722),      # He et al.: 0.27 M
    (wrn, 100, 4_322_100),        # Zagoruyko & Komodakis: WRN-22-4, 4.3 M
    (vgg16, 10, 14_724_042),      # the CIFAR VGG16 with batch norm: 14.7 M
    (lenet5, 10, 62_006),         # LeNet-5 on 32x32x3
    (lenet5, 100, 69_656),
])
def test_cifar_architectures_have_the_papers_sizes_and_output_shapes(build, classes, params):
    torch.manual_seed(0)
    model = build(classes, *CIFAR10).eval()
    assert count_parameters(model)[0] == params
    with torch.no_grad():
        out = model(torch.rand(3, 3, 32, 32))
    assert out.shape == (3, classes) and torch.isfinite(out).all()


def test_resnet20_has_20_weighted_layers_and_option_a_shortcuts():
    model = resnet20(10, *CIFAR10)
    convs = _convs(model)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(linears) == 20             # 19 convolutions + the classifier
    assert all(c.kernel_size == (3, 3) for c in convs.values())   # no 1x1 projections
    assert sorted({c.out_channels for c in convs.values()}) == [16, 32, 64]


def test_wrn_22_4_widths_and_blocks():
    model = wrn(100, *CIFAR10)
    widths = sorted({c.out_channels for c in _convs(model).values()})
    assert widths == [16, 64, 128, 256]                 # stem 16, then 16k, 32k, 64k with k = 4
    assert sum(1 for n in _convs(model) if n.endswith("conv2")) == 9   # (22 - 4) / 6 = 3 a group
    with pytest.raises(ConfigError, match="6n\\+4"):
        wrn(100, *CIFAR10, depth=21)


def test_models_take_pixels_and_normalise_inside():
    torch.manual_seed(0)
    model = resnet20(10, *CIFAR10).eval()
    x = torch.rand(2, 3, 32, 32)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in CIFAR10)
    with torch.no_grad():
        assert torch.allclose(model(x), model.net((x - mean) / std), atol=1e-6)


@pytest.mark.parametrize("build", [resnet20, wrn])
def test_filter_pruning_leaves_residual_outputs_alone(build):
    """Section 5.1.2: FP prunes c of the filters in the other layers of each residual block,
    not the last one (its channels must match the shortcut), as Li et al. (2017)."""
    torch.manual_seed(0)
    model = build(10, *CIFAR10)
    prunable = prunable_convs(model)
    # the first convolution of each of the 9 blocks; not the stem, second convs or shortcuts
    assert set(prunable) == {n for n in _convs(model) if n.endswith(".conv1") and n != "net.conv1"}
    assert len(prunable) == 9
    for c in (1 / 16, 7 / 16):
        pruned = copy.deepcopy(model)
        apply_masks(pruned, filter_pruning_masks(pruned, c))
        for name, conv in _convs(pruned).items():
            zero = int((conv.weight.flatten(1).abs().sum(1) == 0).sum())
            assert zero == (round(c * conv.out_channels) if name in prunable else 0)


def test_flops_of_a_hand_counted_network():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(),
                        nn.Linear(2 * 4 * 4, 3))
    assert count_flops(net, (1, 4, 4)).dense == 2 * 9 * 16 + 32 * 3      # 288 + 96 MACs
    with torch.no_grad():
        net[0].weight[1] = 0                          # prune the second filter
    flops = count_flops(net, (1, 4, 4))
    # its 144 MACs go, and the linear layer's 3 x 16 reads of that channel's features
    assert flops.effective == 144 + 96 - 48
    assert flops.reduction == pytest.approx(1 - 192 / 384)


def test_resnet20_flops_before_and_after_filter_pruning():
    torch.manual_seed(0)
    model = resnet20(10, *CIFAR10)
    full = count_flops(model, (3, 32, 32))
    assert full.dense == full.effective == 40_551_040   # 41 M multiply-adds, as usually quoted
    previous = 0.0
    for c in (1 / 16, 4 / 16, 7 / 16):
        pruned = copy.deepcopy(model)
        apply_masks(pruned, filter_pruning_masks(pruned, c))
        reduction = count_flops(pruned, (3, 32, 32)).reduction
        # half of the block convolutions lose c of their filters, the other half c of their
        # inputs: about c of the work in the blocks goes
        assert previous < reduction < c
        assert reduction == pytest.approx(c, abs=0.03)
        previous = reduction
    sparse = copy.deepcopy(model)
    apply_masks(sparse, weight_pruning_masks(sparse, 0.5))
    assert 0.3 < count_flops(sparse, (3, 32, 32)).reduction < 0.6


def test_every_model_config_builds_for_its_dataset(tmp_path):
    for dataset in ("cifar10", "cifar100", "fashion_mnist"):
        cfg = typed(compose_cfg("train", [f"dataset={dataset}"], tmp_path), TrainConfig)
        shape = tuple(cfg.dataset.input_shape)
        for _, spec in model_specs(cfg.zoo):
            with torch.no_grad():
                out = build_from_spec(spec).eval()(torch.rand(2, *shape))
            assert out.shape == (2, cfg.dataset.num_classes)


# ----------------------------------------------------------------------------- ImageNet
@pytest.mark.parametrize("arch, preset, size", [
    ("resnet50", "IMAGENET1K_V1", 224),
    ("inception_v3", "IMAGENET1K_V1", 299),
    ("mobilenet_v2", "IMAGENET1K_V2", 224),
    ("googlenet", "IMAGENET1K_V1", 224),
])
def test_imagenet_models_build_without_weights_and_take_small_inputs(arch, preset, size):
    import torchvision.models as tvm

    model = torchvision_classifier(arch, weights=None, preset=preset).eval()
    assert model.input_size == size                  # fingerprints are resized to fit
    meta = tvm.get_model_weights(arch)[preset].meta["num_params"]
    assert count_parameters(model.net)[0] == meta    # the pretrained weights' architecture
    with torch.no_grad():
        out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 1000)
    if arch in ("inception_v3", "googlenet"):        # as torchvision builds it for the weights
        assert model.net.transform_input


def test_resnet50_filter_pruning_skips_each_bottlenecks_last_conv():
    model = torchvision_classifier("resnet50", weights=None, preset="IMAGENET1K_V1")
    prunable = set(prunable_convs(model))
    assert len(prunable) == 2 * 16                   # conv1 and conv2 of each of 16 bottlenecks
    assert all(n.endswith((".conv1", ".conv2")) and ".layer" in n for n in prunable)


def test_imagenet_model_errors_name_the_choices():
    with pytest.raises(ConfigError, match="model.arch"):
        torchvision_classifier("resnet51")
    with pytest.raises(ConfigError, match="IMAGENET1K_V2"):
        torchvision_classifier("resnet50", weights=None, preset="IMAGENET9K")
    with pytest.raises(ConfigError, match="1000 classes"):
        torchvision_classifier("resnet50", weights="IMAGENET1K_V1", num_classes=10)


@pytest.mark.slow
def test_every_imagenet_zoo_model_builds_without_weights(tmp_path):
    import torchvision.models as tvm

    cfg = typed(compose_cfg("train", ["dataset=imagenet"], tmp_path), TrainConfig)
    for _, spec in model_specs(cfg.zoo):
        model = build_from_spec(stored_spec(spec)).eval()
        meta = tvm.get_model_weights(spec["arch"])[spec["preset"]].meta["num_params"]
        assert count_parameters(model.net)[0] == meta, spec["arch"]
        with torch.no_grad():
            assert model(torch.rand(1, 3, 32, 32)).shape == (1, 1000)

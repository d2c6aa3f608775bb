"""ImageNet classifiers from torchvision, with their pretrained weights (Section 5.1: the paper
takes its ImageNet target and negatives pretrained from Keras; these are torchvision's
counterparts).

Each model is wrapped in a :class:`PixelClassifier` with its own input size and normalisation,
read from the preset (the weights' preprocessing), so a fingerprint made at 224x224 in [0, 1]
is resized to fit a 299x299 Inception-v3 or a 480x480 EfficientNetV2-L (Section 5.1.2).

``weights`` names the weights torchvision loads (downloaded once into ``$TORCH_HOME``); ``None``
builds the same network untrained, as it is rebuilt before its weights are read from a zoo's
safetensors file. ``preset`` names the weights whose architecture variant (e.g. ViT's image size,
Inception's input transform) and preprocessing the network takes; it defaults to ``weights``."""

from __future__ import annotations

from typing import Any

from torch import nn

from ipguard.models.layers import PixelClassifier
from ipguard.utils.errors import ConfigError, IPGuardError

IMAGENET_CLASSES = 1000


def torchvision_classifier(
    arch: str,
    weights: str | None = None,
    preset: str | None = None,
    num_classes: int = IMAGENET_CLASSES,
    input_size: int | None = None,
) -> PixelClassifier:
    """torchvision's ``arch`` in pixel space; ``input_size`` overrides the preset's crop size
    (for quick checks on small inputs; leave it unset for ImageNet)."""
    import torchvision.models as tvm

    try:
        enum = tvm.get_model_weights(arch)
    except ValueError as exc:
        raise ConfigError("model.arch", arch, "a torchvision classification model, e.g. "
                          "resnet50, vgg16, inception_v3 (torchvision.models.list_models())"
                          ) from exc
    chosen = _weights(enum, arch, "weights", weights) if weights is not None else None
    shape = _weights(enum, arch, "preset", preset) if preset is not None else chosen
    shape = shape or enum.DEFAULT
    if chosen is not None and shape != chosen:
        raise ConfigError("model.preset", preset, f"must equal weights={weights} when weights "
                          "are loaded (the preset describes them)")
    if chosen is not None and num_classes != IMAGENET_CLASSES:
        raise ConfigError("model.num_classes", num_classes,
                          f"pretrained ImageNet weights have {IMAGENET_CLASSES} classes")
    kwargs = {} if chosen is not None else _variant_kwargs(arch, shape)
    try:
        net = tvm.get_model(arch, weights=chosen, num_classes=num_classes, **kwargs)
    except (OSError, RuntimeError) as exc:  # no network, corrupt cache
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IPGuardError(f"could not load torchvision weights {arch}.{chosen.name} ({msg}): "
                           "run once where a network is available (they are cached in "
                           "$TORCH_HOME), or copy the cache here") from exc
    preprocess = shape.transforms()
    size = int(input_size or preprocess.crop_size[0])
    model = PixelClassifier(net, preprocess.mean, preprocess.std, input_size=size)
    model.filter_prune_exclude = tuple(f"net.{n}" for n in residual_outputs(net))
    return model


def _weights(enum: Any, arch: str, field: str, name: str) -> Any:
    try:
        return enum[name] if name != "DEFAULT" else enum.DEFAULT
    except KeyError as exc:
        raise ConfigError(f"model.{field}", name,
                          f"{arch} offers {[w.name for w in enum]} or DEFAULT") from exc


def _variant_kwargs(arch: str, preset: Any) -> dict[str, Any]:
    """Constructor arguments torchvision sets when it loads ``preset``: without them an
    untrained network would not fit the saved weights or would preprocess differently."""
    kwargs: dict[str, Any] = {}
    if arch in ("inception_v3", "googlenet"):
        kwargs.update(transform_input=True, init_weights=False,
                      aux_logits=arch == "inception_v3")
    if arch.startswith("vit_"):
        kwargs["image_size"] = preset.meta["min_size"][0]
    return kwargs


def residual_outputs(net: nn.Module) -> list[str]:
    """In a torchvision ResNet/ResNeXt: the stem, the last convolution of each residual block
    and the projection shortcuts (what filter pruning leaves alone, as in the paper)."""
    from torchvision.models.resnet import BasicBlock, Bottleneck

    names = ["conv1"] if hasattr(net, "layer1") else []
    for name, m in net.named_modules():
        if isinstance(m, Bottleneck):
            names.append(f"{name}.conv3")
        elif isinstance(m, BasicBlock):
            names.append(f"{name}.conv2")
        if isinstance(m, BasicBlock | Bottleneck) and m.downsample is not None:
            names.append(f"{name}.downsample.0")
    return names if len(names) > 1 else []

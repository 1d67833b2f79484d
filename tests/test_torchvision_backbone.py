"""torchvision backbones: taps of GoogLeNet, SqueezeNet 1.0 and AlexNet (channels, strides, shapes), the dropped
classifier, name errors, torchvision weights names and local files, and a classification task on top.

Expected taps are written out from the papers' / torchvision's layer tables, independently of the adapter.
"""
from __future__ import annotations

import copy
import re
import time

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F

import backbone.torchvision_backbone as tvb
from backbone import Backbone, PretrainedWeightsError, TorchvisionBackbone
from backbone.torchvision_backbone import DEFAULT_TAPS, TracedGraph, downsampling_taps

# (tap, channels, stride): the last output before each downsampling. SqueezeNet has no stride-32 stage: conv1
# and three max pools (fire9, its last block, gives 13 x 13 at 224 px).
EXPECTED = {
    "googlenet": [("conv1", 64, 2), ("conv3", 192, 4), ("inception3b", 480, 8), ("inception4e", 832, 16),
                  ("inception5b", 1024, 32)],
    "squeezenet1_0": [("features.1", 96, 2), ("features.5", 256, 4), ("features.10", 512, 8),
                      ("features.12", 512, 16)],
    "alexnet": [("features.1", 64, 4), ("features.4", 192, 8), ("features.11", 256, 16), ("features.12", 256, 32)],
}
HEAD = {"googlenet": "fc", "squeezenet1_0": "classifier", "alexnet": "classifier"}


def torchvision_model(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    extra = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    return getattr(torchvision.models, name)(**extra)


@pytest.fixture(scope="module")
def backbones() -> dict[str, TorchvisionBackbone]:
    return {name: TorchvisionBackbone(name) for name in EXPECTED}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_feature_info_and_forward(backbones, name):
    model = backbones[name]
    assert isinstance(model, Backbone) and model.training  # the dry run leaves the training mode as it was
    assert [(f.name, f.channels, f.stride) for f in model.feature_info] == EXPECTED[name]
    assert model.num_features == EXPECTED[name][-1][1]
    model.eval()
    with torch.no_grad():  # 32 more pixels add 32 / stride to every map, whatever the padding
        small, big = model(torch.randn(2, 3, 128, 128)), model(torch.randn(2, 3, 160, 160))
    model.train()
    assert list(small) == list(big) == [t for t, _, _ in EXPECTED[name]]
    for tap, channels, stride in EXPECTED[name]:
        a, b = small[tap], big[tap]
        assert a.shape[:2] == (2, channels) and a.shape[-1] == a.shape[-2] > 1, tap
        assert b.shape[-1] - a.shape[-1] == 32 // stride, tap
    if name == "googlenet":  # "same" padding: size = input / stride
        assert [t.shape[-1] for t in small.values()] == [64, 32, 16, 8, 4]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_classifier_dropped(backbones, name):
    full = torchvision_model(name)
    total = sum(p.numel() for p in full.parameters())
    head = sum(p.numel() for p in getattr(full, HEAD[name]).parameters())
    body = sum(p.numel() for p in backbones[name].parameters())
    assert body == total - head
    assert not any(k.startswith(f"model.{HEAD[name]}.") for k in backbones[name].state_dict())


@pytest.mark.parametrize("name", list(EXPECTED))
def test_generic_rule_finds_the_default_taps(name):
    assert downsampling_taps(TracedGraph(torchvision_model(name)), name) == DEFAULT_TAPS[name]


def test_any_model_and_chosen_taps():
    """A model without written-out taps (resnet18): its stages; and taps named by node or module, any order."""
    model = TorchvisionBackbone("resnet18")
    assert [(f.name, f.channels, f.stride) for f in model.feature_info] == [
        ("relu", 64, 2), ("layer1", 64, 4), ("layer2", 128, 8), ("layer3", 256, 16), ("layer4", 512, 32)]
    chosen = TorchvisionBackbone("squeezenet1_0", taps=["features.12", "features.7.cat", "features.1"])
    assert [(f.name, f.channels, f.stride) for f in chosen.feature_info] == [
        ("features.1", 96, 2), ("features.7.cat", 256, 8), ("features.12", 512, 16)]
    single = TorchvisionBackbone("squeezenet1_0", taps="features.5")  # from the command line
    assert [f.name for f in single.feature_info] == ["features.5"]
    assert sum(p.numel() for p in single.parameters()) < sum(p.numel() for p in chosen.parameters())


def test_unknown_names():
    with pytest.raises(ValueError, match=r"backbone.model_name: unknown torchvision model 'googlenett'.*'googlenet'"):
        TorchvisionBackbone("googlenett")
    with pytest.raises(ValueError, match=r"backbone.taps: unknown tap\(s\) \['inception5z'\].*'inception5b'"):
        TorchvisionBackbone("googlenet", taps=["inception4e", "inception5z"])
    with pytest.raises(ValueError, match=r"backbone.taps: 'flatten'.*\(1, 1024\), not an \(N, C, H, W\)"):
        TorchvisionBackbone("googlenet", taps=["flatten"])
    with pytest.raises(ValueError, match=r"backbone.pretrained: 'IMAGENET9K'.*\['IMAGENET1K_V1', 'DEFAULT'\]"):
        TorchvisionBackbone("alexnet", pretrained="IMAGENET9K")


def test_offline_weights_name_fails_fast_with_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(tvb, "_host_reachable", lambda *a, **k: False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty cache
    start = time.perf_counter()
    with pytest.raises(PretrainedWeightsError) as err:
        TorchvisionBackbone("googlenet", pretrained="IMAGENET1K_V1")
    assert time.perf_counter() - start < 10
    message = str(err.value)
    assert "'IMAGENET1K_V1'" in message and "offline" in message and "transform_input=true" in message
    assert "backbone.pretrained=/path/to/weights.pth" in message and "get_model('googlenet'" in message


def randomised_googlenet(seed: int) -> nn.Module:
    """torchvision's googlenet as its ImageNet weights come (aux classifiers included), with random BN statistics."""
    torch.manual_seed(seed)
    model = torchvision.models.googlenet(aux_logits=True, init_weights=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_local_state_dict_round_trip(tmp_path, suffix):
    source = randomised_googlenet(seed=3)
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    path = tmp_path / f"googlenet{suffix}"
    torch.save(state, path) if suffix == ".pth" else save_file(state, str(path))
    loaded = TorchvisionBackbone("googlenet", pretrained=str(path))
    body = loaded.state_dict()
    assert len(body) > 100
    for key, value in body.items():
        torch.testing.assert_close(value, state[key.removeprefix("model.")], rtol=0, atol=0)
    # the same features as torchvision's own model
    seen = {}
    source.inception5b.register_forward_hook(lambda _m, _i, out: seen.update(out=out))
    image = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        source(image)
        torch.testing.assert_close(loaded.eval()(image)["inception5b"], seen["out"], rtol=1e-5, atol=1e-5)
        other = TorchvisionBackbone("googlenet").eval()(image)["inception5b"]  # random weights: the check has teeth
    assert not torch.allclose(other, seen["out"], atol=1e-3)


def test_file_missing_tensors_or_of_another_model(tmp_path):
    state = randomised_googlenet(seed=4).state_dict()
    truncated = tmp_path / "truncated.pth"
    torch.save({k: v for k, v in state.items() if not k.startswith("inception5b.")}, truncated)
    with pytest.raises(PretrainedWeightsError, match=rf"{re.escape(str(truncated))} lacks \d+ of the backbone's "
                                                     r"tensors.*inception5b.*torchvision 'googlenet' is expected"):
        TorchvisionBackbone("googlenet", pretrained=str(truncated))
    other = tmp_path / "squeezenet.pth"
    torch.save(torchvision_model("squeezenet1_0").state_dict(), other)
    with pytest.raises(PretrainedWeightsError, match=re.escape(str(other))):
        TorchvisionBackbone("alexnet", pretrained=str(other))
    with pytest.raises(PretrainedWeightsError, match="file not found"):
        TorchvisionBackbone("alexnet", pretrained=str(tmp_path / "nope.pth"))


def test_classification_task_on_googlenet():
    from tasks.classification import ClassificationTask
    torch.manual_seed(0)
    task = ClassificationTask(backbone=TorchvisionBackbone("googlenet"), num_classes=5)
    assert task.head[-1].in_features == 1024
    images, labels = torch.randn(2, 3, 64, 64), torch.tensor([1, 4])
    logits = task(images)
    assert logits.shape == (2, 5)
    F.cross_entropy(logits, labels).backward()
    first = task.backbone.model.conv1.conv.weight
    assert first.grad is not None and first.grad.abs().sum() > 0
    copied = copy.deepcopy(task).eval()  # the runner copies the model to time it
    with torch.no_grad():
        torch.testing.assert_close(copied(images), task.eval()(images))

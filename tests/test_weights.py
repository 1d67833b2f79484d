"""Pretrained weights: timm's mobilenetv1_100 into MobileNetV1 (same outputs), local files, suite checkpoints, errors.

No weights can be downloaded here, so timm models get random weights and random BatchNorm statistics: a wrong
mapping of any tensor then changes the output.
"""
from __future__ import annotations

import time

import pytest
import timm
import torch
from safetensors.torch import save_file
from torch import nn

import backbone.weights as weights
from backbone import MobileNetV1, PretrainedWeightsError, TimmBackbone, load_pretrained
from backbone.weights import load_state_dict_into

TAG = "mobilenetv1_100.ra4_e3600_r224_in1k"


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BN affine and running statistics (timm initialises them to the identity), eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
    return model.eval()


@pytest.fixture(scope="module")
def timm_v1() -> nn.Module:
    torch.manual_seed(0)
    return randomise(timm.create_model("mobilenetv1_100", pretrained=False))


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    """Large enough that ReLU6 clips somewhere, so the activation is part of what is compared."""
    return 20 * torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))


def assert_same_as_timm(ours: MobileNetV1, timm_v1: nn.Module, image: torch.Tensor) -> None:
    with torch.no_grad():
        expected = timm_v1.forward_features(image)
        got = ours.eval()(image)["layer13"]
    assert expected.abs().max() > 0.1  # a real signal, not all zeros
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_timm_state_dict_gives_timm_outputs(timm_v1, image):
    ours = MobileNetV1(act="relu6")
    load_state_dict_into(ours, timm_v1.state_dict(), "timm mobilenetv1_100")
    assert_same_as_timm(ours, timm_v1, image)
    relu = MobileNetV1(act="relu")  # same weights, other activation: must differ (the check has teeth)
    load_state_dict_into(relu, timm_v1.state_dict(), "timm mobilenetv1_100")
    with torch.no_grad():
        assert not torch.allclose(relu.eval()(image)["layer13"], timm_v1.forward_features(image), atol=1e-3)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_timm_weights_file(tmp_path, timm_v1, image, suffix):
    path = tmp_path / f"mobilenetv1_100{suffix}"
    state = {k: v.contiguous() for k, v in timm_v1.state_dict().items()}
    torch.save(state, path) if suffix == ".pth" else save_file(state, str(path))
    assert_same_as_timm(MobileNetV1(act="relu6", pretrained=str(path)), timm_v1, image)
    # the same through load_pretrained, and with the file's classifier ignored
    ours = MobileNetV1(act="relu6", taps=["layer11", "layer13"])
    load_pretrained(ours, str(path))
    assert_same_as_timm(ours, timm_v1, image)


def test_pth_is_loaded_weights_only(tmp_path):
    path = tmp_path / "pickled_module.pth"
    torch.save({"model": nn.Linear(2, 2)}, path)  # a pickled module: loading it would run arbitrary code
    with pytest.raises(PretrainedWeightsError, match=f"cannot read weights from {path}"):
        MobileNetV1(pretrained=str(path))


def test_suite_lightning_style_checkpoint(tmp_path, image):
    source = randomise(MobileNetV1(width_mult=0.5), seed=3)
    state = {f"backbone.{k}": v for k, v in source.state_dict().items()}
    state["head.3.weight"] = torch.zeros(10, 512)  # the task's head: not the backbone's
    path = tmp_path / "epoch=3-step=40.ckpt"
    torch.save({"state_dict": state, "epoch": 3, "global_step": 40, "pytorch-lightning_version": "2.6.6",
                "hyper_parameters": {"num_classes": 10}, "optimizer_states": []}, path)
    loaded = MobileNetV1(width_mult=0.5, pretrained=str(path)).eval()
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    with torch.no_grad():
        torch.testing.assert_close(loaded(image)["layer13"], source(image)["layer13"])


def test_real_lightning_checkpoint(tmp_path):
    """A checkpoint as the trainer writes it (optimizer, loops, callbacks, hyper-parameters) loads weights-only."""
    import pytorch_lightning as pl

    from tasks.classification import ClassificationTask
    task = ClassificationTask(randomise(MobileNetV1(width_mult=0.25), seed=4), num_classes=3,
                              optimizer={"name": "rmsprop", "lr": 0.1}, scheduler={"name": "cosine"})
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path)
    trainer.strategy.connect(task)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    loaded = MobileNetV1(width_mult=0.25, pretrained=str(tmp_path / "last.ckpt"))
    for key, value in task.backbone.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_wrong_width_names_file_and_key(tmp_path):
    path = tmp_path / "alpha050.pth"
    torch.save(MobileNetV1(width_mult=0.5).state_dict(), path)
    with pytest.raises(PretrainedWeightsError) as err:
        MobileNetV1(width_mult=1.0, pretrained=str(path))
    message = str(err.value)
    assert str(path) in message and "'stem.conv.weight'" in message and "(16, 3, 3, 3)" in message
    assert "this backbone has width_mult 1 but the weights look like width_mult 0.5" in message
    assert "backbone.width_mult=0.5" in message  # the fix


def test_wrong_architecture_and_timm_weights_into_other_width(tmp_path, timm_v1):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(10, 512)}, path)
    with pytest.raises(PretrainedWeightsError, match=rf"{path} lacks \d+ of the backbone's tensors.*stem"):
        MobileNetV1(pretrained=str(path))
    with pytest.raises(PretrainedWeightsError, match=r"shape of 'stem.conv.weight' is \(32, 3, 3, 3\)"):
        load_state_dict_into(MobileNetV1(width_mult=0.75), timm_v1.state_dict(), "timm mobilenetv1_100")


def test_missing_file_and_bad_spec(tmp_path):
    missing = tmp_path / "nowhere" / "weights.pth"
    with pytest.raises(PretrainedWeightsError, match=f"file not found: {missing}"):
        MobileNetV1(pretrained=str(missing))
    with pytest.raises(PretrainedWeightsError, match="file not found"):
        TimmBackbone("resnet18", pretrained=str(missing))
    with pytest.raises(PretrainedWeightsError, match="must be null, a timm pretrained tag"):
        MobileNetV1(pretrained=True)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and an empty hub cache, whatever the machine (so the test does not depend on either)."""
    import huggingface_hub.constants
    monkeypatch.setattr(weights, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))


@pytest.mark.parametrize("make", [lambda: MobileNetV1(pretrained=TAG),
                                  lambda: TimmBackbone("mobilenetv1_100", pretrained=TAG),
                                  lambda: TimmBackbone("mobilenetv1_100", pretrained=True)],
                         ids=["MobileNetV1", "TimmBackbone", "TimmBackbone-default-tag"])
def test_offline_tag_fails_fast_with_fix(offline, make):
    start = time.perf_counter()
    with pytest.raises(PretrainedWeightsError) as err:
        make()
    assert time.perf_counter() - start < 10
    message = str(err.value)
    tag = TAG if TAG in message else "mobilenetv1_100"  # `true` asks for timm's default tag of the model
    assert f"'{tag}'" in message and "offline" in message
    assert "backbone.pretrained=/path/to/weights.pth" in message and f"create_model('{tag}'" in message


def test_timm_tag_for_other_model():
    with pytest.raises(ValueError, match="tag 'resnet50.a1_in1k' is not for backbone.model_name 'resnet18'"):
        TimmBackbone("resnet18", pretrained="resnet50.a1_in1k")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_timm_backbone_local_file(tmp_path, suffix):
    full = randomise(timm.create_model("resnet18"), seed=5)
    path = tmp_path / f"resnet18{suffix}"
    state = {k: v.contiguous() for k, v in full.state_dict().items()}
    torch.save(state, path) if suffix == ".pth" else save_file(state, str(path))
    model = TimmBackbone("resnet18", pretrained=str(path)).eval()
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(next(reversed(model(image).values())), full.forward_features(image))


def test_timm_backbone_suite_checkpoint_and_wrong_file(tmp_path):
    source = randomise(TimmBackbone("resnet18"), seed=6)
    path = tmp_path / "run.ckpt"
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in source.state_dict().items()}}, path)
    loaded = TimmBackbone("resnet18", pretrained=str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    # timm loads features_only models non-strictly: a file that leaves layers at random init must be refused
    truncated = tmp_path / "no_layer4.pth"
    torch.save({k: v for k, v in timm.create_model("resnet18").state_dict().items()
                if not k.startswith("layer4.")}, truncated)
    with pytest.raises(PretrainedWeightsError, match=rf"{truncated} lacks 25 tensors of timm 'resnet18'.*layer4"):
        TimmBackbone("resnet18", pretrained=str(truncated))
    other = tmp_path / "mobilenetv2.pth"
    torch.save(timm.create_model("mobilenetv2_050").state_dict(), other)
    with pytest.raises(PretrainedWeightsError, match=f"(?s)cannot load {other} into timm 'resnet18'.*size mismatch"):
        TimmBackbone("resnet18", pretrained=str(other))

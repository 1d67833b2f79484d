"""int8 by quantization-aware training (export.py qat_steps=N): a short fine-tune of the fake-quantized network
towards the float network's outputs, with each pt2e format's own quantizer (ExecuTorch's XNNPACK, LiteRT's),
exported and evaluated in that format's runtime; the fine-tune lowers its loss; formats without QAT and QAT without
int8 are refused in one line."""
from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import TINY_TASKS
from tasks.engine.config import ConfigError
from tasks.engine.evaluate import evaluate
from tasks.engine.export import export_model, sample_images
from tasks.engine.formats import QuantizeJob, pt2e
from tasks.engine.load import load_model

pytest.importorskip("executorch")
pytest.importorskip("litert_torch")

ROOT = Path(__file__).resolve().parents[1]


# dogs in the default run (the fine-tune is the same code for every network); every task with -m slow
QAT_TASKS = [task if task == "dogs" else pytest.param(task, marks=pytest.mark.slow) for task in TINY_TASKS]


@pytest.mark.parametrize("task", QAT_TASKS)
def test_qat_exports_to_executorch(task, tiny_run, tmp_path):
    run = tiny_run(task)
    report = export_model(run["run_dir"], tmp_path / "model.pte", format="executorch", check_images=4, int8=True,
                          calibration_images=8, qat_steps=3)
    assert report["int8_method"] == "qat" and report["int8_max_abs_diff"] < 1.0
    saved = json.loads(json.loads((tmp_path / "model.int8.pte.json").read_text())["int8"])
    assert saved["method"] == "qat" and saved["qat_steps"] == 3 and saved["training_images"] == 8
    results = evaluate(tmp_path / "model.int8.pte", output_dir=tmp_path / "eval", latency_repeats=1)
    assert set(results["metrics"]) == set(run["metrics"]) and all(map(math.isfinite, results["metrics"].values()))


def test_qat_exports_to_litert(tiny_run, tmp_path):
    run = tiny_run("dogs")
    report = export_model(run["run_dir"], tmp_path / "model.tflite", format="litert", check_images=4, int8=True,
                          calibration_images=8, qat_steps=3)
    assert report["int8_method"] == "qat" and report["int8_max_abs_diff"] < 1.0
    results = evaluate(tmp_path / "model.int8.tflite", output_dir=tmp_path / "eval", latency_repeats=1)
    assert results["runtime"] == "litert" and set(results["metrics"]) == set(run["metrics"])


def _qat_prepared(tiny_run, steps: int, lr: float = 1e-5):
    """The dogs tiny run's network, QAT-prepared with ExecuTorch's quantizer and fine-tuned `steps` steps; with the
    float network and training inputs."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)

    loaded = load_model(tiny_run("dogs")["run_dir"])
    network = loaded.model.cpu().float().eval().to(memory_format=torch.contiguous_format).export_networks()[0]
    inputs = network.inputs(sample_images(loaded, "train", 32))
    quantizer = XNNPACKQuantizer().set_global(pt2e.qat_config(get_symmetric_quantization_config(is_per_channel=True)))
    job = QuantizeJob(network, Path(), Path(), inputs, qat_steps=steps, qat_lr=lr)
    graph = pt2e.export(network.module, inputs, None, qat=True)
    return pt2e.prepare(graph, quantizer, job, network.module, lambda rows: rows), network.module, inputs


def test_the_written_model_is_the_fine_tuned_one(tiny_run):
    """What convert_pt2e writes computes what the fine-tune trained (the quantizers' fused fake-quantizers did not:
    tasks.engine.formats.pt2e.qat_config)."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    prepared, _, inputs = _qat_prepared(tiny_run, steps=5, lr=1e-3)
    with torch.no_grad():
        trained = prepared(inputs)
        written = convert_pt2e(copy.deepcopy(prepared))(inputs)
    assert (written - trained).abs().max() <= 1e-4 * trained.abs().max()


def test_the_fine_tune_learns(tiny_run):
    """Gradients reach the weights through the fake quantizers: from perturbed weights, the distillation loss falls
    to under half its first value."""
    prepared, float_module, inputs = _qat_prepared(tiny_run, steps=1)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in prepared.named_parameters():
            if parameter.dim() == 4:  # convolution weights
                parameter.mul_(1 + 0.3 * torch.randn(parameter.shape, generator=generator))
    losses = pt2e.fine_tune(prepared, float_module, inputs, steps=40, lr=1e-3)
    assert sum(losses[-5:]) < 0.5 * sum(losses[:5]), losses


def test_qat_needs_int8_and_a_format_with_qat(tiny_run):
    run_dir = tiny_run("dogs")["run_dir"]
    with pytest.raises(ConfigError, match="qat_steps=5: .*add int8=true"):
        export_model(run_dir, format="executorch", qat_steps=5)
    with pytest.raises(ConfigError, match="format=onnx quantizes after training only; QAT exports to "
                                          "format=executorch or format=litert"):
        export_model(run_dir, format="onnx", int8=True, qat_steps=5)
    done = subprocess.run([sys.executable, "export.py", f"ckpt={run_dir}", "int8=true", "qat_steps=-1"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].endswith("qat_steps=-1: must be an "
                                                                                   "integer >= 0"), done.stderr

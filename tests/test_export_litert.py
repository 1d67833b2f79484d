"""format=litert: every task's networks as .tflite files (litert_torch), run by ai-edge-litert's interpreter: fp32
reproduces the checkpoint's metrics, full int8 (PT2E, calibrated) loads and evaluates, predict reads the file
alone, a file without the suite's metadata and an operator LiteRT cannot express give one-line errors."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from conftest import EXPORT_TASKS
from tasks.core.checkpoint import CheckpointError
from tasks.core.module import ExportedNetwork
from tasks.engine.evaluate import evaluate
from tasks.engine.export import export_model
from tasks.engine.load import load_model
from tasks.engine.predict import predict

pytest.importorskip("litert_torch")
pytest.importorskip("ai_edge_litert")

DETECTORS = ("ssd", "faster_rcnn")
# Faster R-CNN's two networks go through a mobile format by default in test_export_executorch.py; through LiteRT
# with -m slow (its conversion takes ~50 s here)
TASKS = [pytest.param(t, marks=pytest.mark.slow) if t == "faster_rcnn" else t for t in EXPORT_TASKS]


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """exported(task) -> (its tiny run, the folder holding model.tflite and model.int8.tflite, export's report):
    exported once per module (fp32 checked on 4 test images, int8 calibrated on 8 training images)."""
    done: dict[str, tuple[dict, Path, dict]] = {}

    def get(task: str):
        if task not in done:
            run = tiny_run(task)
            folder = tmp_path_factory.mktemp(f"litert_{task}")
            report = export_model(run["run_dir"], folder / "model.tflite", format="litert", check_images=4,
                                  int8=True, calibration_images=8)
            done[task] = run, folder, report
        return done[task]
    return get


@pytest.mark.parametrize("task", TASKS)
def test_fp32_tflite_reproduces_the_checkpoint(task, exported, tmp_path):
    """The fp32 file matches PyTorch (export's own check, 1e-3 of the outputs' scale) and evaluates to the
    checkpoint's metrics: within 1e-3 (detectors: COCO AP within 0.005 as for ONNX, tests/test_deploy.py: a score
    moving by float round-off can reorder near-tied boxes at the per-image cap or across an IoU threshold)."""
    run, folder, report = exported(task)
    assert report["litert"] == str(folder / "model.tflite") and report["litert_max_abs_diff"] < 1e-3
    ours = evaluate(run["run_dir"], output_dir=tmp_path / "ckpt", latency_repeats=1)
    theirs = evaluate(folder / "model.tflite", output_dir=tmp_path / "tflite", latency_repeats=1)
    assert theirs["format"] == "litert" and theirs["runtime"] == "litert"
    assert set(theirs["metrics"]) == set(ours["metrics"])
    if task == "face_embedding":
        # two epochs leave the tiny embedder's embeddings nearly equal, so its pair metrics hang on rounding (as for
        # ONNX in tests/test_face_embedding.py): compare the embeddings every metric is computed from
        from tasks.engine.export import sample_images
        loaded = load_model(run["run_dir"])
        images = loaded.model.collate(sample_images(loaded, "test", 8))
        with torch.inference_mode():
            difference = (loaded.model(images) - load_model(folder / "model.tflite").model(images)).abs().max()
        assert difference < 1e-4
        return
    tolerance = 0.005 if task in DETECTORS else 1e-3
    for name, value in ours["metrics"].items():
        assert theirs["metrics"][name] == pytest.approx(value, abs=tolerance), name
    if task in DETECTORS:  # a tiny run's AP is ~0, so compare the detections too: decoding and NMS around the file
        from test_deploy import same_detections
        from tasks.engine.export import sample_images
        loaded = load_model(run["run_dir"])
        images = sample_images(loaded, "test", 3)
        with torch.inference_mode():
            pairs = zip(loaded.model(images), load_model(folder / "model.tflite").model(images))
            assert all(same_detections(a, b) for a, b in pairs)


@pytest.mark.parametrize("task", TASKS)
def test_int8_tflite_loads_and_evaluates(task, exported, tmp_path):
    run, folder, report = exported(task)
    assert report["litert_int8"] == str(folder / "model.int8.tflite") and report["int8_float_nodes"] == []
    assert math.isfinite(report["int8_max_abs_diff"])
    int8 = evaluate(folder / "model.int8.tflite", output_dir=tmp_path / "int8", latency_repeats=1)
    assert int8["format"] == "litert" and set(int8["metrics"]) == set(run["metrics"])
    assert all(math.isfinite(v) for v in int8["metrics"].values())


def test_int8_file_is_smaller_and_session_sees_float(exported):
    from tasks.core.runtime import open_session
    _, folder, _ = exported("dogs")
    fp32, int8 = folder / "model.tflite", folder / "model.int8.tflite"
    assert int8.stat().st_size < fp32.stat().st_size / 2
    session = open_session(int8, "litert")
    assert session.batch == 1
    outputs = session(torch.rand(3, 3, 32, 32))  # 3 images through a batch-1 file: chunked, dequantized
    assert outputs[0].shape == (3, 4) and outputs[0].dtype == torch.float32


@pytest.mark.parametrize("task", ["dogs", "ssd"])
def test_predict_reads_the_tflite_alone(task, exported, tmp_path):
    from PIL import Image
    _, folder, _ = exported(task)
    Image.new("RGB", (60, 50), (30, 120, 200)).save(tmp_path / "a.png")
    lines = predict(folder / "model.tflite", tmp_path / "a.png", tmp_path / "out", top_k=2, threshold=0.0)
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert len(records) == 1
    assert ("top_k" in records[0]) if task == "dogs" else ("detections" in records[0])


def test_tflite_without_metadata_is_refused(exported, tmp_path):
    _, folder, _ = exported("dogs")
    shutil.copy(folder / "model.tflite", tmp_path / "bare.tflite")  # no bare.tflite.json beside it
    with pytest.raises(CheckpointError, match="metadata"):
        load_model(tmp_path / "bare.tflite")


def test_operator_litert_cannot_express_is_one_line(tmp_path):
    from tasks.engine.formats.litert import LiteRtConversionError, write

    class Svd(torch.nn.Module):
        def forward(self, x):
            return torch.linalg.svdvals(x.flatten(2))

    with pytest.raises(LiteRtConversionError, match=r"format=litert.*svd") as caught:
        write(ExportedNetwork("", Svd(), list), torch.rand(1, 3, 4, 4), tmp_path / "svd.tflite")
    assert "\n" not in str(caught.value)


def test_int8_keeps_heads_in_float(exported, tmp_path):
    """keep_float=[heads]: the convolutions nearest the outputs (SSD's class and box convs, one each per feature
    map) stay float, so the file's outputs are float32; unknown names are refused in one line."""
    from ai_edge_litert.interpreter import Interpreter
    run, _, _ = exported("ssd")
    report = export_model(run["run_dir"], tmp_path / "ssd.tflite", format="litert", check_images=2, int8=True,
                          calibration_images=4, keep_float=["heads"])
    kept = report["int8_float_nodes"]
    assert len(kept) >= 4 and all(name.startswith("head.") for name in kept)
    outputs = Interpreter(str(tmp_path / "ssd.int8.tflite")).get_output_details()
    assert all(o["dtype"].__name__ == "float32" for o in outputs)
    with pytest.raises(ValueError, match="keep_float: no module named"):
        export_model(run["run_dir"], tmp_path / "bad.tflite", format="litert", check_images=1, int8=True,
                     calibration_images=1, keep_float=["no_such_layer"])


def test_missing_runtime_package_is_one_line(monkeypatch, tmp_path):
    import sys
    from tasks.core.runtime import RuntimeChoiceError, open_session
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # as if ai-edge-litert were not installed
    with pytest.raises(RuntimeChoiceError, match=r"ai-edge-litert.*\[mobile\]"):
        open_session(tmp_path / "model.tflite", "litert")

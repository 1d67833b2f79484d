"""format=executorch: every task's networks as .pte programs (XNNPACK-delegated), run by ExecuTorch's own Python
runtime: fp32 reproduces the checkpoint's metrics, int8 (torchao pt2e) loads and evaluates, predict.py reads
them, and a file without the suite's metadata or a network ExecuTorch cannot express gives a one-line error."""
from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from conftest import EXPORT_TASKS
from tasks.core.checkpoint import CheckpointError
from tasks.core.module import ExportedNetwork
from tasks.core.runtime import open_session
from tasks.engine.evaluate import evaluate
from tasks.engine.export import export_model, sample_images
from tasks.engine.formats import executorch
from tasks.engine.load import load_model
from tasks.engine.predict import predict

pytest.importorskip("executorch")

KEEP_FLOAT = {"dogs": ["first_conv", "classifier"], "ssd": ["heads"]}  # the others quantize everything


# Faster R-CNN's int8 programs (~30 s to export here) are checked with -m slow; its fp32 programs by default
INT8_TASKS = [pytest.param(t, marks=pytest.mark.slow) if t == "faster_rcnn" else t for t in EXPORT_TASKS]


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """exported(task, int8=True) -> (its tiny run, export_model's report, the export's folder): the fp32 .pte
    (and the int8 one) written once per module; an fp32 request takes an export with int8 when there is one."""
    done: dict[tuple[str, bool], tuple] = {}

    def get(task: str, int8: bool = True):
        key = (task, int8 or (task, True) in done)
        if key not in done:
            run = tiny_run(task)
            folder = tmp_path_factory.mktemp(f"pte_{task}")
            report = export_model(run["run_dir"], folder / "model.pte", format="executorch", check_images=4,
                                  int8=key[1], calibration_images=8, keep_float=KEEP_FLOAT.get(task, ()))
            done[key] = run, report, folder
        return done[key]
    return get


@pytest.mark.parametrize("task", EXPORT_TASKS)
def test_fp32_reproduces_the_checkpoint(task, exported):
    run, report, folder = exported(task, int8=task != "faster_rcnn")
    assert report["executorch"] == str(folder / "model.pte") and report["executorch_max_abs_diff"] < 1e-3
    assert json.loads((folder / "model.pte.json").read_text())["task"] == load_model(run["run_dir"]).config["task_name"]
    results = evaluate(folder / "model.pte", output_dir=folder / "eval", latency_repeats=1)
    assert results["format"] == "executorch" and set(results["metrics"]) == set(run["metrics"])
    if task == "face_embedding":
        # the tiny run's embeddings are collapsed (cosine similarity 1.0 between any two test faces; ROC AUC 0.50),
        # so float rounding alone orders its pair distances (ONNX moves its AUC by 2e-3 too): compare embeddings
        ours = load_model(run["run_dir"])
        images = ours.model.collate(sample_images(ours, "test", 6))
        with torch.inference_mode():
            theirs = load_model(folder / "model.pte").model(images)
            assert torch.allclose(theirs, ours.model(images), atol=1e-5)
        return
    tolerance = 0.005 if task in ("ssd", "faster_rcnn") else 1e-3  # test_deploy's ONNX bounds
    for name, value in run["metrics"].items():
        assert results["metrics"][name] == pytest.approx(value, abs=tolerance), name


@pytest.mark.parametrize("task", INT8_TASKS)
def test_int8_loads_and_evaluates(task, exported, tmp_path):
    run, report, folder = exported(task)
    assert report["executorch_int8"] == str(folder / "model.int8.pte")
    assert report["int8_max_abs_diff"] is not None and report["int8_max_abs_diff"] < 1.0
    if task == "dogs":  # keep_float: the first convolution and the classifier stay in float
        assert report["int8_float_nodes"] == ["backbone.stem.conv", "head.3"]
    elif task == "ssd":  # keep_float=[heads]: the class and box convolutions of every feature map stay in float
        kept = report["int8_float_nodes"]
        assert len(kept) >= 4 and all(name.startswith("head.") for name in kept)
    else:
        assert report["int8_float_nodes"] == []
    # int8 is smaller than fp32, network by network
    for fp32 in folder.glob("model.*pte"):
        if ".int8" not in fp32.name:
            assert (folder / fp32.name.replace("model.", "model.int8.", 1)).stat().st_size < fp32.stat().st_size
    results = evaluate(folder / "model.int8.pte", output_dir=folder / "int8_eval", latency_repeats=1)
    assert results["format"] == "executorch" and set(results["metrics"]) == set(run["metrics"])
    assert all(math.isfinite(v) for v in results["metrics"].values())  # accuracy: measured in the benchmark


@pytest.mark.slow  # a second int8 export of SSD (~30 s); the kept nodes are checked by default above
def test_layers_kept_in_float_make_the_int8_file_larger(exported, tmp_path):
    """keep_float=[heads]: SSD's class and box convolutions stay in float, so their weights make the file larger
    than the all-int8 one."""
    run, _, folder = exported("ssd")
    export_model(run["run_dir"], tmp_path / "all.pte", format="executorch", check_images=1, int8=True,
                 calibration_images=8)
    assert (folder / "model.int8.pte").stat().st_size > (tmp_path / "all.int8.pte").stat().st_size


@pytest.mark.parametrize("task", ["ssd", "faster_rcnn"])
def test_detectors_match_on_other_image_sizes(task, exported):
    """Decoding and NMS in torch around the programs: the same detections as the checkpoint on an image the
    export never saw; Faster R-CNN's features program takes other (padded) sizes (free height and width)."""
    from test_deploy import same_detections
    run, _, folder = exported(task, int8=False)
    ours, theirs = load_model(run["run_dir"]).model, load_model(folder / "model.pte").model
    with torch.inference_mode():
        for shape in ((3, 100, 120), (3, 120, 90)):
            image = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
            assert same_detections(ours(image[None])[0], theirs(image[None])[0])
        if task == "faster_rcnn":
            network = load_model(run["run_dir"]).model.cpu().float().eval().export_networks()[0]
            session = open_session(folder / "model.pte", "executorch")
            for size in ((96, 128), (128, 96), (64, 64)):
                batch = torch.rand(2, 3, *size)
                for got, want in zip(session(batch), network.module(batch)):
                    assert got.shape == want.shape and (got - want).abs().max() < 1e-3
            with pytest.raises(ValueError, match="cannot run an input of shape"):  # above the bound written
                session(torch.rand(1, 3, 32 * 20, 32 * 20))


def test_predict_reads_a_pte(exported, tmp_path):
    _, _, folder = exported("dogs")
    from PIL import Image
    for i, size in enumerate([(32, 32), (50, 40), (40, 64)]):
        Image.effect_noise(size, 40 + 20 * i).convert("RGB").save(tmp_path / f"image{i}.png")
    lines = predict(folder / "model.pte", tmp_path, tmp_path / "out", batch_size=2).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 3 and all(len(r["top_k"]) >= 1 for r in records)
    classes = set(json.loads(json.loads((folder / "model.pte.json").read_text())["class_names"]))
    assert all(r["top_k"][0]["class"] in classes for r in records)


def test_a_pte_without_metadata(exported, tmp_path):
    _, _, folder = exported("dogs")
    shutil.copy(folder / "model.pte", tmp_path / "foreign.pte")
    with pytest.raises(CheckpointError, match="lacks this suite's metadata"):
        load_model(tmp_path / "foreign.pte")


class _Unsupported(torch.nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.linalg.svd(images.flatten(1)).S  # no XNNPACK kernel, not core ATen: the edge dialect refuses


def test_unsupported_network_and_keep_float_give_one_line_errors(tmp_path):
    network = ExportedNetwork("", _Unsupported().eval(), torch.stack)
    with pytest.raises(executorch.ExecuTorchExportError, match="executorch.*svd") as info:
        executorch.write(network, torch.rand(2, 3, 8, 8), tmp_path / "bad.pte")
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=r"keep_float: no module named \['no_such_layer'\] for format=executorch"):
        executorch.quantize([], ["no_such_layer"])


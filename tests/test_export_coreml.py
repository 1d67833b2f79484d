"""Core ML export (tasks.engine.formats.coreml): every task's tiny run to an fp32 and an int8 .mlpackage, with the
suite's metadata, validated for its structure (nothing runs Core ML on Linux), refused for evaluation here."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

pytest.importorskip("coremltools")

from conftest import TINY_TASKS  # noqa: E402
from tasks.core.module import ExportedNetwork  # noqa: E402
from tasks.core.runtime import RuntimeChoiceError  # noqa: E402
from tasks.engine.export import export_model  # noqa: E402
from tasks.engine.formats import FORMATS, QuantizeJob, coreml  # noqa: E402
from tasks.engine.load import exported_files, load_model  # noqa: E402


@pytest.mark.parametrize("task", TINY_TASKS)
def test_export_coreml(tiny_run, tmp_path: Path, task: str):
    run = tiny_run(task)
    output = tmp_path / "model.mlpackage"
    int8 = task in ("dogs", "ssd", "faster_rcnn")  # int8 of the other tasks is the same classifier-style network
    report = export_model(run["run_dir"], output, format="coreml", check_images=2, int8=int8, calibration_images=2)
    assert report["coreml"] == str(output) and report["coreml_max_abs_diff"] is None
    packages = [output] + ([output.with_name("model.int8.mlpackage")] if int8 else [])
    loaded = load_model(run["run_dir"])
    networks = {net.name: net for net in loaded.model.cpu().float().eval().export_networks()}
    for package in packages:
        meta = coreml.read_metadata(package)
        assert json.loads(meta["suite_config"])["task_name"] == loaded.config["task_name"]
        assert json.loads(meta["hyper_parameters"]) == json.loads(json.dumps(dict(loaded.model.hparams)))
        files = exported_files(package, meta)
        assert set(files) == set(networks)  # Faster R-CNN: the box head's package too
        for name, path in files.items():
            assert path.is_dir() and (path / "Manifest.json").is_file()
            coreml.validate(path, networks[name], _example(networks[name], path))
        with pytest.raises(RuntimeChoiceError, match="Apple devices only"):
            load_model(package)
    if int8:  # int8 weights: dequantized on the fly (constexpr ops), a smaller package
        assert _ops(packages[1]).count("constexpr_affine_dequantize") > 0
        assert "constexpr_affine_dequantize" not in _ops(packages[0])
        assert _size(packages[1]) < _size(packages[0])


def _example(network: ExportedNetwork, path: Path) -> torch.Tensor:
    """An input of the package's shape (validate compares the image dimensions)."""
    spec = coreml._load(path).get_spec()
    return torch.zeros(*coreml._shape(spec.description.input[0]))


def _ops(path: Path) -> list[str]:
    program = coreml._load(path).get_spec().mlProgram
    return [op.type for function in program.functions.values() for block in function.block_specializations.values()
            for op in block.operations]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class _Tiny(torch.nn.Module):
    def __init__(self, op=None):
        super().__init__()
        self.conv, self.op = torch.nn.Conv2d(3, 4, 3), op

    def forward(self, x):
        y = self.conv(x)
        return self.op(y) if self.op else y.mean((2, 3))


def test_static_batch_metadata_and_validate(tmp_path: Path):
    net = ExportedNetwork("", _Tiny().eval(), None)
    example, path = torch.randn(3, 3, 16, 16), tmp_path / "m.mlpackage"
    coreml.write(net, example, path, batch=4)  # fewer images than the batch: padded
    spec = coreml._load(path).get_spec()
    assert coreml._shape(spec.description.input[0]) == (4, 3, 16, 16)
    coreml.write_metadata(path, {"a": "1", "b": "2"})
    coreml.write_metadata(path, {"a": "3"})  # replaces the suite's entries, keeps coremltools' own
    assert coreml.read_metadata(path) == {"a": "3"}
    assert any(k.startswith(coreml.COREMLTOOLS_KEYS) for k in coreml._load(path).user_defined_metadata)
    coreml.validate(path, net, example)
    with pytest.raises(coreml.CoreMLExportError, match=r"inputs \['images'\], expected \['crops'\]"):
        coreml.validate(path, replace(net, input_name="crops"), example)
    with pytest.raises(coreml.CoreMLExportError, match="has shape"):
        coreml.validate(path, net, torch.randn(1, 3, 20, 20))
    with pytest.raises(coreml.CoreMLExportError, match="1 outputs, the network has 2"):
        coreml.validate(path, replace(net, module=_Tiny(lambda y: (y, y)), output_names=()), example)


def test_unsupported_operator_and_options(tmp_path: Path):
    net = ExportedNetwork("", _Tiny(torch.special.i0).eval(), None)
    with pytest.raises(coreml.CoreMLExportError) as caught:
        coreml.write(net, torch.randn(1, 3, 8, 8), tmp_path / "m.mlpackage")
    message = str(caught.value)
    assert "\n" not in message and "format=coreml" in message and "'special_i0'" in message
    assert isinstance(caught.value, ValueError)
    job = QuantizeJob(net, tmp_path / "m.mlpackage", tmp_path / "m.int8.mlpackage", torch.zeros(1))
    with pytest.raises(coreml.CoreMLExportError, match="keep_float"):
        coreml.quantize([job], ["first_conv"])
    assert FORMATS["coreml"] is coreml and coreml.SUFFIX == ".mlpackage" and coreml.RUNTIME is None

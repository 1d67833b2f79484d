"""Evaluate a trained model on its task's test split: `python eval.py ckpt=<run dir | .ckpt | .onnx> [data.*=...]`.

Writes results.json (train.py's keys) into output_dir (default: <run dir>/eval/<date_time>). `data.*` and
`trainer.*` keys override the run's config, e.g. data.root=/my/coco_export to test on other data.
"""
import sys

from tasks.engine.cli import parse_args
from tasks.engine.evaluate import evaluate

USAGE = ("python eval.py ckpt=<run dir | .ckpt | .onnx> [output_dir=<dir>] [latency_repeats=20] "
         "[runtime=onnxruntime|openvino] [data.<key>=<value> ...]")

if __name__ == "__main__":
    options, overrides = parse_args(sys.argv[1:], {"ckpt": "???", "output_dir": None, "latency_repeats": 20,
                                                      "runtime": "onnxruntime"}, USAGE,
                                    passthrough=("data", "trainer", "seed"))
    evaluate(options["ckpt"], overrides, options["output_dir"], options["latency_repeats"], options["runtime"])

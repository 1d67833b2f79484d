"""Predict on new images: `python predict.py ckpt=<run dir | .ckpt | .onnx> source=<image | folder | glob>`.

Writes predictions.jsonl (one record per readable image; unreadable files are reported and skipped) and, for
detectors, annotated images into output_dir (default: predictions/<date_time>); prints ms per image.
"""
import sys

from tasks.engine.cli import parse_args
from tasks.engine.predict import predict

USAGE = ("python predict.py ckpt=<run dir | .ckpt | .onnx> source=<image | folder | glob> [output_dir=<dir>] "
         "[top_k=5] [threshold=0.5] [batch_size=16] [runtime=onnxruntime|openvino]")

if __name__ == "__main__":
    options, _ = parse_args(sys.argv[1:], {"ckpt": "???", "source": "???", "output_dir": None, "top_k": 5,
                                           "threshold": 0.5, "batch_size": 16, "runtime": "onnxruntime"}, USAGE)
    predict(**options)

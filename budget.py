"""Pick a model for a latency budget: `python budget.py task=<name> budget_ms=<ms> [runtime=onnxruntime] ...`."""
import sys

from tasks.engine.budget import run_budget
from tasks.engine.cli import parse_args
from tasks.engine.errors import guard

USAGE = ("python budget.py task=<name> budget_ms=<ms> [runtime=onnxruntime|openvino|executorch|litert] [int8=false] "
         "[widths=[0.25,0.5,0.75,1.0]] [sizes=[96,128,160,192,224]] [batch=1] [threads=2] [repeats=20] [out=<dir>] "
         "[num_classes=<n>] [backbone.*=...] [model.*=...] [data.*=...]")
HELP = f"""Pick a model for a latency budget, the paper's way: its width multiplier alpha and resolution rho trade
accuracy for speed. Every (alpha, image size) of a grid is built untrained from the task's config, its networks are
exported in the runtime's format (onnxruntime, openvino: onnx; executorch; litert) and timed in that runtime on
this machine's CPU. Prints a table (alpha, size, mult-adds, params, latency, fits) and the `python train.py -m`
sweep that trains exactly the configurations within the budget; writes budget.json and budget.md. No training,
no data (a task whose model needs its data, geolocation's cells, reads its data module).

usage: {USAGE}

keys:
  task         the task to size (dogs, ssd, faster_rcnn, face_attributes, face_embedding, geolocation) (required)
  budget_ms    the latency a call may take, in milliseconds (required)
  runtime      what the model will run in: onnxruntime (default), openvino, executorch, litert
  int8         time int8 files (the format's quantization, calibrated on random images: speed only)
  widths       width multipliers alpha to try (default [0.25,0.5,0.75,1.0])
  sizes        image sizes (rho x 224) to try (default [96,128,160,192,224])
  batch        images per call (default 1: one request's latency)
  threads      CPU threads of the runtime and of PyTorch (default 2; null: the runtime's default)
  repeats      timed calls per configuration, after 3 untimed ones; the median counts (default 20)
  out          folder of budget.json and budget.md (default outputs/budget/<task>/<date_time>)
  num_classes  classes of the model's classifier (default: the task's real dataset: dogs 120, COCO 80, ...)
  backbone.*, model.*, data.*
               config overrides applied to every configuration, and repeated in the sweep command (not
               backbone.width_mult and data.image_size: widths and sizes set them)

Latency is of the exported networks alone (detectors: without the anchor decoding and NMS that stay in PyTorch),
on this CPU: compare it with a budget measured the same way, or run budget.py on the target machine.

examples:
  python budget.py task=dogs budget_ms=2.0
  python budget.py task=dogs runtime=onnxruntime int8=true budget_ms=5 widths=[0.5,1.0] sizes=[128,224] threads=1
  python budget.py task=ssd runtime=openvino budget_ms=20 widths=[0.25,0.5] sizes=[160,224] batch=4"""

KNOWN = {"task": "???", "budget_ms": "???", "runtime": "onnxruntime", "int8": False,
         "widths": [0.25, 0.5, 0.75, 1.0], "sizes": [96, 128, 160, 192, 224], "batch": 1, "threads": 2,
         "repeats": 20, "out": None, "num_classes": None}


def main(argv: list[str]) -> None:
    options, overrides = parse_args(argv, KNOWN, USAGE, ("backbone", "model", "data"), HELP)
    run_budget(**options, overrides=overrides)


if __name__ == "__main__":
    guard("budget", lambda: main(sys.argv[1:]))

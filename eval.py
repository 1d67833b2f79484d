"""Evaluate a trained model on its task's test split: `python eval.py ckpt=<run dir | .ckpt | .onnx> [data.*=...]`."""
import sys

from tasks.engine.cli import parse_args
from tasks.engine.errors import guard
from tasks.engine.evaluate import evaluate

USAGE = ("python eval.py ckpt=<run dir | .ckpt | exported file> [output_dir=<dir>] [latency_repeats=20] "
         "[runtime=<the file's: onnxruntime|openvino|executorch|litert>] [data.<key>=<value> ...]")
HELP = f"""Evaluate a trained model with its task's own metrics, on its run's test split or on other data.

usage: {USAGE}

keys:
  ckpt             a run folder (its tested checkpoint), a .ckpt, or a file written by export.py (required)
  output_dir       where results.json goes (default: <run dir>/eval/<date_time>)
  latency_repeats  batch-1 forward passes timed for the latency figure (default 20)
  runtime          what runs an exported file (default: its format's own): .onnx in onnxruntime or openvino
                   (pip install -e '.[openvino]'), .pte in executorch, .tflite in litert ('.[mobile]')
  data.*, trainer.*, seed
                   override the run's own config, e.g. data.root=/my/coco_export to test on other data with the
                   same classes

results.json has train.py's keys (kind: evaluation), and says which split the metrics come from.

examples:
  python eval.py ckpt=outputs/dogs/2026-12-01_10-00-00
  python eval.py ckpt=outputs/ssd/2026-12-01_10-00-00/export/model.int8.pte   # int8 in ExecuTorch
  python eval.py ckpt=outputs/dogs/2026-12-01_10-00-00 data.root=/data/my_dogs data.batch_size=64"""


def main(argv: list[str]) -> None:
    options, overrides = parse_args(argv, {"ckpt": "???", "output_dir": None, "latency_repeats": 20,
                                           "runtime": None}, USAGE, ("data", "trainer", "seed"), HELP)
    evaluate(options["ckpt"], overrides, options["output_dir"], options["latency_repeats"], options["runtime"])


if __name__ == "__main__":
    guard("eval", lambda: main(sys.argv[1:]))

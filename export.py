"""Export a trained model: `python export.py ckpt=<run dir | .ckpt> format=onnx [int8=true]`."""
import json
import sys

from tasks.engine.cli import parse_args
from tasks.engine.config import ConfigError
from tasks.engine.errors import guard
from tasks.engine.export import export_model
from tasks.engine.formats import FORMATS

USAGE = (f"python export.py ckpt=<run dir | .ckpt> format={'|'.join(FORMATS)} [int8=false] [output=<file>] "
         "[calibration_images=100] [keep_float=[first_conv,classifier]] [tolerance=1e-3]")
HELP = f"""Export a trained model for deployment: <run dir>/export/model.onnx with a dynamic batch axis, checked
against PyTorch on real test images, carrying the run's config, class names and preprocessing in its metadata
(Faster R-CNN adds model.box_head.onnx). eval.py and predict.py take the exported file as ckpt=.

usage: {USAGE}

keys:
  ckpt                a run folder (its tested checkpoint) or a .ckpt (required)
  format              {', '.join(FORMATS)} (default onnx)
  int8                also write model.int8.onnx: static int8 quantization calibrated on training images
  output              the main file's path (default: <run dir>/export/model.onnx)
  calibration_images  training images the int8 calibration sees (default 100)
  keep_float          layers left in float in the int8 model: any of first_conv, classifier, heads
  tolerance           the largest |exported - PyTorch| accepted on the check images (default 1e-3)

examples:
  python export.py ckpt=outputs/dogs/2026-12-01_10-00-00
  python export.py ckpt=outputs/ssd/2026-12-01_10-00-00 int8=true
  python export.py ckpt=outputs/dogs/2026-12-01_10-00-00 int8=true 'keep_float=[first_conv,classifier]'"""


def main(argv: list[str]) -> None:
    options, _ = parse_args(argv, {"ckpt": "???", "format": "onnx", "int8": False, "output": None,
                                   "calibration_images": 100, "keep_float": [], "tolerance": 1e-3}, USAGE,
                            help_text=HELP)
    if options["format"] not in FORMATS:
        raise ConfigError(f"format={options['format']}: not a format; one of {', '.join(FORMATS)}")
    print(json.dumps(export_model(**options), indent=2))


if __name__ == "__main__":
    guard("export", lambda: main(sys.argv[1:]))

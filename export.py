"""Export a trained model: `python export.py ckpt=<run dir | .ckpt> format=onnx [int8=true]`.

Writes <run dir>/export/model.onnx (dynamic batch axis, checked against PyTorch on real test images, the run's
config, class names and preprocessing in its metadata; Faster R-CNN adds model.box_head.onnx) and with int8=true
model.int8.onnx (onnxruntime static quantization calibrated on calibration_images training images; Faster R-CNN
adds model.int8.box_head.onnx; keep_float=[first_conv,classifier,heads] keeps those layers in float; heads: the
layers nearest the outputs, a detector's prediction heads).
"""
import json
import sys

from tasks.engine.cli import parse_args
from tasks.engine.export import export_model
from tasks.engine.formats import FORMATS

USAGE = (f"python export.py ckpt=<run dir | .ckpt> format={'|'.join(FORMATS)} [int8=false] [output=<file>] "
         "[calibration_images=100] [keep_float=[first_conv,classifier]] [tolerance=1e-3]")

if __name__ == "__main__":
    options, _ = parse_args(sys.argv[1:], {"ckpt": "???", "format": "onnx", "int8": False, "output": None,
                                           "calibration_images": 100, "keep_float": [], "tolerance": 1e-3}, USAGE)
    if options["format"] not in FORMATS:
        raise SystemExit(f"format={options['format']}: one of {', '.join(FORMATS)}\nusage: {USAGE}")
    print(json.dumps(export_model(**options), indent=2))

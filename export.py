"""Export a trained model: `python export.py ckpt=<run dir | .ckpt> format=onnx [int8=true]`.

Writes <run dir>/export/model.onnx (dynamic batch axis, checked against PyTorch on real test images, the run's
config, class names and preprocessing in its metadata; Faster R-CNN adds model.box_head.onnx) and with int8=true
model.int8.onnx (onnxruntime static quantization calibrated on calibration_images training images; Faster R-CNN
adds model.int8.box_head.onnx; keep_float=[first_conv,classifier,heads] keeps those layers in float; heads: the
layers nearest the outputs, a detector's prediction heads).
"""
import json
import sys

from tasks.deploy import export_onnx, parse_args

USAGE = ("python export.py ckpt=<run dir | .ckpt> format=onnx [int8=false] [output=<file.onnx>] "
         "[calibration_images=100] [keep_float=[first_conv,classifier]] [tolerance=1e-3]")

if __name__ == "__main__":
    options, _ = parse_args(sys.argv[1:], {"ckpt": "???", "format": "onnx", "int8": False, "output": None,
                                           "calibration_images": 100, "keep_float": [], "tolerance": 1e-3}, USAGE)
    if options.pop("format") != "onnx":
        raise SystemExit("format: only onnx is supported")
    print(json.dumps(export_onnx(**options), indent=2))

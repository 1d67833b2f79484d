"""Export a trained model: `python export.py ckpt=<run dir | .ckpt> format=onnx [int8=true]`."""
import json
import sys

from tasks.engine.cli import parse_args
from tasks.engine.config import ConfigError
from tasks.engine.errors import guard
from tasks.engine.export import export_model
from tasks.engine.formats import FORMATS

USAGE = (f"python export.py ckpt=<run dir | .ckpt> format={'|'.join(FORMATS)} [int8=false] [output=<file>] "
         "[batch=1] [calibration_images=100] [qat_steps=0] [qat_lr=1e-5] [keep_float=[first_conv,classifier]] "
         "[tolerance=1e-3]")
HELP = f"""Export a trained model for deployment, checked against PyTorch on real test images, with the run's config,
class names and preprocessing in (or beside) the file; eval.py and predict.py take the exported file as ckpt=.

  onnx        <run>/export/model.onnx, any batch size; runs in onnxruntime or OpenVINO
  executorch  model.pte for ExecuTorch's XNNPACK backend (Android, iOS, embedded Linux); metadata in model.pte.json
  litert      model.tflite for LiteRT (TensorFlow Lite) on Android, iOS and microcontroller-class boards
  coreml      model.mlpackage for Core ML on Apple devices (converted and checked for structure; nothing runs it here)
Faster R-CNN ships two networks (model.<suffix> and model.box_head.<suffix>). executorch, litert and coreml
need the mobile extra: pip install -e '.[mobile]'.

usage: {USAGE}

keys:
  ckpt                a run folder (its tested checkpoint) or a .ckpt (required)
  format              {', '.join(FORMATS)} (default onnx)
  int8                also write model.int8.<suffix>: int8 calibrated on training images (onnx: onnxruntime static
                      quantization; executorch and litert: pt2e with their quantizers; coreml: int8 weights)
  output              the main file's path (default: <run dir>/export/model.<suffix>)
  batch               the images per call a static-shape format is written for (executorch, litert, coreml;
                      their runtimes here take any number, in chunks); default 1
  calibration_images  training images the int8 calibration (or QAT fine-tune) sees (default 100)
  qat_steps           int8 by quantization-aware training: a fine-tune of this many steps (16 images each) of the
                      fake-quantized network towards the float one's outputs, from the checkpoint (executorch,
                      litert; default 0: post-training calibration only)
  qat_lr              the QAT fine-tune's Adam learning rate (default 1e-5)
  keep_float          layers left in float in the int8 model: any of first_conv, classifier, heads (onnx, litert;
                      executorch: first_conv, classifier); litert also takes module names
  tolerance           the largest |exported - PyTorch| accepted on the check images (default 1e-3)

examples:
  python export.py ckpt=outputs/dogs/2026-12-01_10-00-00
  python export.py ckpt=outputs/dogs/2026-12-01_10-00-00 format=executorch int8=true
  python export.py ckpt=outputs/ssd/2026-12-01_10-00-00 format=litert int8=true
  python export.py ckpt=outputs/ssd/2026-12-01_10-00-00 format=executorch int8=true qat_steps=300 calibration_images=500
  python export.py ckpt=outputs/dogs/2026-12-01_10-00-00 int8=true 'keep_float=[first_conv,classifier]'"""


def main(argv: list[str]) -> None:
    options, _ = parse_args(argv, {"ckpt": "???", "format": "onnx", "int8": False, "output": None,
                                   "calibration_images": 100, "keep_float": [], "tolerance": 1e-3, "batch": 1,
                                   "qat_steps": 0, "qat_lr": 1e-5}, USAGE,
                            help_text=HELP)
    if options["format"] not in FORMATS:
        raise ConfigError(f"format={options['format']}: not a format; one of {', '.join(FORMATS)}")
    print(json.dumps(export_model(**options), indent=2))


if __name__ == "__main__":
    guard("export", lambda: main(sys.argv[1:]))

"""Predict on new images: `python predict.py ckpt=<run dir | .ckpt | .onnx> source=<images>`."""
import sys

from tasks.engine.cli import parse_args
from tasks.engine.errors import guard
from tasks.engine.predict import predict

USAGE = ("python predict.py ckpt=<run dir | .ckpt | exported file> source=<image | folder | glob | list | shards> "
         "[output_dir=<dir>] "
         "[top_k=5] [threshold=0.5] [batch_size=16] [runtime=<the file's: onnxruntime|openvino|executorch|litert>] "
         "[parts=N [part=i]]")
HELP = f"""Predict on new images with a trained model: one JSON record per image in predictions.jsonl, and for
detectors the images with their boxes drawn (annotated/). Unreadable files are reported and skipped.

usage: {USAGE}

keys:
  ckpt        a run folder (its tested checkpoint), a .ckpt, or a file written by export.py (required)
  source      an image, a folder (searched recursively), a glob pattern in quotes, a .txt list of image paths, or
              a shard folder (prepare.py's <out>/train: every record, named by the file it was written from)
              (one per line) (required)
  output_dir  where predictions go (default: predictions/<date_time>)
  top_k       classes (or attributes, cells) listed per image (default 5)
  threshold   detectors: the lowest score kept; attributes: the probability called present (default 0.5)
  batch_size  images per forward pass (default 16)
  runtime     what runs an exported file (default: its format's own): .onnx in onnxruntime or openvino,
              .pte in executorch, .tflite in litert
  parts       cut the sorted images into N parts, each predicted into output_dir/parts/ (renamed when complete,
              skipped when there) and then merged into predictions.jsonl: a rerun does only the missing parts
  part        only that part (0..N-1): one job of an array (local processes, SLURM); a run without it merges

examples:
  python predict.py ckpt=outputs/dogs/2026-12-01_10-00-00 source=photo.jpg
  python predict.py ckpt=outputs/ssd/2026-12-01_10-00-00 source=/data/street_photos threshold=0.3
  python predict.py ckpt=outputs/dogs/2026-12-01_10-00-00/export/model.onnx source='shots/**/*.jpg'
  python predict.py ckpt=outputs/dogs/2026-12-01_10-00-00 source=million.txt output_dir=preds parts=100 part=7"""


def main(argv: list[str]) -> None:
    options, _ = parse_args(argv, {"ckpt": "???", "source": "???", "output_dir": None, "top_k": 5,
                                   "threshold": 0.5, "batch_size": 16, "runtime": None, "parts": 1,
                                   "part": None}, USAGE,
                            help_text=HELP)
    predict(**options)


if __name__ == "__main__":
    guard("predict", lambda: main(sys.argv[1:]))

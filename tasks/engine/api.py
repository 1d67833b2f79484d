"""The suite in three lines of Python:

    from tasks.engine import load
    model = load("outputs/dogs/<run>")          # a run folder, a .ckpt or an exported .onnx
    records = model(["photo.jpg"])              # paths, PIL images or HxWx3 uint8 arrays -> predict.py's records
"""
from __future__ import annotations

from pathlib import Path

from .load import load_model
from .predict import Predictor


def load(path: str | Path, runtime: str = "onnxruntime", top_k: int = 5, threshold: float = 0.5) -> Predictor:
    """A trained model as a function of images (an exported file runs in `runtime`); `top_k` and `threshold` shape
    its records as predict.py's options do."""
    return Predictor(load_model(path, runtime), top_k, threshold)

"""Export formats: one module each, registered here by the name `export.py format=<name>` takes.

A format writes one network to a file (`write`), checks a written file against PyTorch through a runtime session
(tasks.core.runtime), stores the suite's metadata with the main file (`write_metadata`) and, where it can, writes
an int8 copy calibrated on real inputs (`quantize`). Which networks a task ships, and how their inputs are built,
is the task's (tasks.core.module.TaskModule.export_networks).
"""
from . import onnx

FORMATS = {"onnx": onnx}

__all__ = ["FORMATS"]

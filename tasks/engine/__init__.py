"""The engine: runs and uses models. Config composition (config.py), a run with its teacher stage (run.py),
loading trained models (load.py), evaluation, prediction, export and its formats, comparison reports and the
paper's tables, and the command-line parsing of the entry points. `load` is the Python API (api.py)."""
from .api import load

__all__ = ["load"]

"""Face embeddings (paper Table 14): the task module (task.py) and the verification metrics (verification.py)."""
from .task import EmbeddingTask

__all__ = ["EmbeddingTask"]

"""What the static-shape formats (ExecuTorch, LiteRT, Core ML) share: inputs of exactly the batch a file is
written for."""
from __future__ import annotations

import torch


def static_batch(example: torch.Tensor, batch: int) -> torch.Tensor:
    """Exactly `batch` rows of `example`: its first ones, the last repeated where it has fewer (as the runtime
    sessions pad a short batch)."""
    rows = torch.arange(batch).clamp(max=len(example) - 1)
    return example[rows].contiguous()

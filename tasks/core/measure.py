"""What every run reports about its model: params, mult-adds, CPU latency and throughput (backbone.complexity)."""
from __future__ import annotations

import copy

import torch

from backbone.complexity import count_mult_adds, count_params, measure_latency_ms, measure_throughput


def profile(model: torch.nn.Module, image_size: int, latency_repeats: int, throughput_batch: int = 0,
            throughput_repeats: int = 3) -> dict[str, float]:
    """Params, mult-adds at the run's input size, median CPU batch-1 latency of the model's inference and, for
    `throughput_batch` > 0, its CPU throughput (images/s) at that batch size."""
    cpu_model = copy.deepcopy(model).cpu().eval()
    example = torch.zeros(1, 3, image_size, image_size)
    measured = {
        "params": count_params(cpu_model),
        "mult_adds": count_mult_adds(cpu_model, example),
        "latency_ms": measure_latency_ms(cpu_model, example, repeats=latency_repeats),
    }
    if throughput_batch > 0:
        batch = torch.rand(throughput_batch, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
        measured["throughput_ips"] = measure_throughput(cpu_model, batch, repeats=throughput_repeats)
        measured["throughput_batch"] = throughput_batch
    measured["cpu_threads"] = torch.get_num_threads()
    return measured

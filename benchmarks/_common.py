"""Small helpers shared by the benchmarks: synchronized timing, medians, peak memory."""
import statistics
import time

import torch


def pick_device(name=None):
    """torch.device(name), or CUDA when available, else the CPU."""
    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn, device):
    """Seconds one call of fn() takes, device work included."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def median(values):
    return statistics.median(values)


def peak_extra_mb(fn, device):
    """MiB allocated by fn() above what was allocated before it (CUDA only; None elsewhere)."""
    if device.type != "cuda":
        return None
    sync(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    sync(device)
    return (torch.cuda.max_memory_allocated(device) - before) / 2 ** 20

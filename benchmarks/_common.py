"""Small helpers shared by the benchmarks: synchronized timing, medians, peak memory.

Imported before torch by every benchmark (its import sorts first), so it sets what the commands set:
passive OpenMP waiting, as reid_gc.cli does (spinning threads lose whole time slices on busy cores).
"""
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (after the environment above)


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

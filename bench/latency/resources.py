"""Peak memory of a measurement (process RSS, CUDA allocations) and the machine it ran on."""

from __future__ import annotations

import os
import platform
import resource
from pathlib import Path
from typing import Any

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peaks(device: str) -> bool:
    """Restart the peak counters; returns whether the RSS peak could be reset (Linux `clear_refs`),
    else `peak_rss_mb` is the peak over the whole process."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(device)
    try:
        _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident set size of this process since the last reset, in MiB."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return peak / 2**20 if platform.system() == "Darwin" else peak / 1024


def peak_gpu_mb(device: str) -> float:
    """`torch.cuda.max_memory_allocated` since the last reset, in MiB; NaN on the CPU."""
    if not device.startswith("cuda"):
        return float("nan")
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**20


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device: str) -> dict[str, Any]:
    """Device name, core count, load, torch / CUDA / cuDNN versions and torch threads."""
    info: dict[str, Any] = {"device": device, "cpu": cpu_name(), "cpu_count": os.cpu_count(),
                            "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    try:
        import torch
    except ImportError:
        return {**info, "torch": None}
    info.update({"torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cuda": torch.version.cuda})
    if device.startswith("cuda"):
        info.update({"device_name": torch.cuda.get_device_name(device), "cudnn": torch.backends.cudnn.version(),
                     "gpu_memory_mb": torch.cuda.get_device_properties(device).total_memory / 2**20})
    else:
        info["device_name"] = info["cpu"]
    return info

"""What runs in Codec 2's decode processes (see `Codec2Codec`): imported once by multiprocessing's fork server,
never in the run's own processes, so the server's libcodec2 phase generator stays in its initial state.

A child of the fork server re-runs the run's main module by name when the run was started with `python -m
MODULE` (multiprocessing's main-module fix-up); the server has imported that module already, so the re-run is
cheap, and runpy's warning that the module is already imported is silenced here, in the server only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pycodec2

warnings.filterwarnings("ignore", message=".*found in sys.modules after import of package", category=RuntimeWarning,
                        module="runpy")


def decode_frames(mode: int, payload: bytes) -> np.ndarray:
    """Decode whole-byte frames with a new decoder state."""
    state = pycodec2.Codec2(mode)
    step = state.bytes_per_frame()
    return np.concatenate([state.decode(payload[i : i + step]) for i in range(0, len(payload), step)])

"""What runs in Codec 2's decode processes (see `Codec2Codec`): imported once by multiprocessing's fork server,
never in the run's own processes, so the server's libcodec2 phase generator stays in its initial state."""

from __future__ import annotations

import numpy as np
import pycodec2


def decode_frames(mode: int, payload: bytes) -> np.ndarray:
    """Decode whole-byte frames with a new decoder state."""
    state = pycodec2.Codec2(mode)
    step = state.bytes_per_frame()
    return np.concatenate([state.decode(payload[i : i + step]) for i in range(0, len(payload), step)])

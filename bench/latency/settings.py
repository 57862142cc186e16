"""The timing loops of the three settings: whole clips (batch 1 or a batch) and frame-by-frame streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from codecbench.codecs import Codec, FrameStream
from codecbench.latency.clock import Clock

StageKey = tuple[str, str]  # (within, stage): ("", "total"|"encode"|"decode") or ("encode"|"decode", marked)


@dataclass
class Timings:
    """Milliseconds per timed run, per stage, and how often each marked stage ran per run."""

    runs: dict[StageKey, list[float]] = field(default_factory=dict)
    calls: dict[StageKey, int] = field(default_factory=dict)

    def add(self, key: StageKey, ms: float, calls: int = 1) -> None:
        self.runs.setdefault(key, []).append(ms)
        self.calls[key] = calls

    def add_run(self, encode_ms: float, decode_ms: float, encode_stages: dict[str, tuple[float, int]],
                decode_stages: dict[str, tuple[float, int]]) -> None:
        """One timed encode + decode and the stages marked inside each."""
        self.add(("", "total"), encode_ms + decode_ms)
        self.add(("", "encode"), encode_ms)
        self.add(("", "decode"), decode_ms)
        for within, stages in (("encode", encode_stages), ("decode", decode_stages)):
            for name, (ms, calls) in stages.items():
                self.add((within, name), ms, calls)


def time_round_trips(clock: Clock, encode: Callable[[Any], Any], decode: Callable[[Any], Any], signal: Any,
                     runs: int, warmup: int, tick: Callable[[], None]) -> tuple[Timings, Any]:
    """Encode and decode `signal` warmup + runs times, timing each call and the stages inside.

    Returns:
        (timings of the last `runs` runs, the decoded output of the last run).
    """
    timings = Timings()
    decoded = None
    for i in range(warmup + runs):
        encoded, encode_ms, encode_stages = clock.time(encode, signal)
        decoded, decode_ms, decode_stages = clock.time(decode, encoded)
        tick()
        if i >= warmup:
            timings.add_run(encode_ms, decode_ms, encode_stages, decode_stages)
    return timings, decoded


def stream_frames(signal: np.ndarray, frame_samples: int, count: int) -> list[np.ndarray]:
    """`count` consecutive frames of `signal`, starting over at its beginning when it runs out."""
    per_pass = len(signal) // frame_samples
    if per_pass == 0:
        raise ValueError(f"a signal of {len(signal)} samples holds no frame of {frame_samples}")
    return [signal[(i % per_pass) * frame_samples:(i % per_pass + 1) * frame_samples] for i in range(count)]


def time_stream(clock: Clock, stream: FrameStream, frames: list[np.ndarray], warmup: int,
                tick: Callable[[], None]) -> tuple[Timings, list[np.ndarray]]:
    """Send `frames` through a stream one at a time, timing `encode_frame` and `decode_frame` of each (and
    the stages they mark).

    Returns:
        (timings of the frames after the first `warmup`, what the decoder released per frame).
    """
    timings = Timings()
    outputs = []
    for i, frame in enumerate(frames):
        packet, encode_ms, encode_stages = clock.time(stream.encode_frame, frame)
        released, decode_ms, decode_stages = clock.time(stream.decode_frame, packet)
        outputs.append(np.asarray(released, dtype=np.float32).reshape(-1))
        tick()
        if i >= warmup:
            timings.add_run(encode_ms, decode_ms, encode_stages, decode_stages)
    return timings, outputs


def batch_interface(codec: Codec) -> bool:
    """Whether the codec codes a batch in one call (overrides both batch methods)."""
    cls = type(codec)
    return cls.encode_batch is not Codec.encode_batch and cls.decode_batch is not Codec.decode_batch

"""Codec 2 through pycodec2: an 8 kHz vocoder, 700-3200 bit/s; frames bit-packed into one bitstream."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import numpy as np

from codecbench.audio import from_pcm16, to_pcm16
from codecbench.codecs.base import Codec, Dependencies, Encoded, FrameStream, Framing
from codecbench.codecs.bitpack import pack_fields, unpack_fields
from codecbench.processes import WorkerPool, die_with_parent

DECODER_MODULE = "codecbench.codecs.codec2_decoder"  # imported in the fork server only

MODES = {3.2: 3200, 2.4: 2400, 1.6: 1600, 1.4: 1400, 1.3: 1300, 1.2: 1200, 0.7: 700}  # 700 = mode 700C


class Codec2Codec(Codec):
    """Codec 2 (David Rowe). The runner resamples to and from 8 kHz (soxr, band-limited).

    Each frame carries `bits_per_frame` bits; frames are concatenated bit-exactly (as a modem sends
    them), so 1300 and 700C modes are not rounded up to whole bytes per frame.

    libcodec2's decoder draws unvoiced phases from a process-global random generator
    (`codec2_rand`) that cannot be reseeded, so decoding the same bits twice in one process gives
    different audio. Each decode therefore runs in a process forked from multiprocessing's fork server, a
    fresh interpreter that never decodes, so its generator is in the library's initial state whatever this
    process decoded before (e.g. frame by frame through `open_stream` for latency): the output depends on
    the bits alone, and resumed runs, workers and Ray actors all equal fresh ones. The decode process does not
    re-run the main module (`WorkerPool`), so a script or notebook decoding Codec 2 needs no
    `if __name__ == "__main__":` guard.

    Args:
        kbps: one of 0.7 (700C), 1.2, 1.3, 1.4, 1.6, 2.4, 3.2.
    """

    name = "codec2"
    requires = Dependencies(("pycodec2",), install="pycodec2")
    sample_rate = 8000
    operating_points = tuple(sorted(MODES))
    default_point = 2.4
    causal = True
    # The decoded speech trails the input by 150 samples (18.75 ms) in modes 3200-1200 and by 230 (28.75 ms) in
    # 700C: the phase-blind envelope estimate on the embedded LibriSpeech sample (docs/alignment.md). Its
    # waveform does not follow the input's phase, so a waveform cross-correlation cannot find it.
    known_delay_samples = 150

    def __init__(self, kbps: float | None = None) -> None:
        super().__init__(kbps)
        import pycodec2

        probe = pycodec2.Codec2(MODES[self.kbps])
        self.samples_per_frame = probe.samples_per_frame()
        self.bits_per_frame = probe.bits_per_frame()
        self.bytes_per_frame = probe.bytes_per_frame()
        if MODES[self.kbps] == MODES[0.7]:
            self.known_delay_samples = 230

    @property
    def algorithmic_delay_ms(self) -> float:  # type: ignore[override]
        return 1000.0 * self.samples_per_frame / self.sample_rate

    def provenance(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"pycodec2": version("pycodec2"), "mode": MODES[self.kbps]}

    def encode(self, waveform: np.ndarray) -> Encoded:
        import pycodec2

        state = pycodec2.Codec2(MODES[self.kbps])
        pcm = to_pcm16(waveform)
        pcm = np.pad(pcm, (0, -len(pcm) % self.samples_per_frame))
        bits = []
        for start in range(0, len(pcm), self.samples_per_frame):
            frame = state.encode(pcm[start : start + self.samples_per_frame])  # bits_per_frame bits, byte-padded
            bits.append(unpack_fields(frame, [(self.bits_per_frame, 1)])[0])
        return Encoded(packets=[pack_fields([(np.concatenate(bits), 1)])], num_samples=len(waveform))

    def framing(self, encoded: Encoded) -> Framing:
        """A frame's `bits_per_frame` bits per packet; bit errors fall where they fall, a lost frame repeats the
        last received one (the generic concealment: libcodec2 has none)."""
        return Framing(self.samples_per_frame, frame_bits=self.bits_per_frame, concealment="repeat")

    def decode(self, encoded: Encoded) -> np.ndarray:
        n_frames = -(-encoded.num_samples // self.samples_per_frame)
        (bits,) = unpack_fields(b"".join(encoded.packets), [(n_frames * self.bits_per_frame, 1)])
        frames = bits.reshape(n_frames, self.bits_per_frame)
        payload = b"".join(pack_fields([(frame, 1)]) for frame in frames)  # libcodec2 takes whole bytes per frame
        with WorkerPool(1, mp_context=_fresh_process_context(), initializer=die_with_parent,
                        initargs=(os.getpid(),)) as pool:  # the decoder ends with this process, however it ends
            pcm = pool.submit(_decode_in_child, MODES[self.kbps], payload).result()  # a crash: BrokenProcessPool
        return from_pcm16(pcm)

    def open_stream(self) -> "Codec2Stream":
        return Codec2Stream(MODES[self.kbps])


class Codec2Stream(FrameStream):
    """One libcodec2 state per direction, a frame at a time (whole-byte frames, as a packet carries them).

    In-process: the decoder's global phase generator is not reset per stream, which changes the
    unvoiced phases but not the work done per frame.

    Args:
        mode: libcodec2 mode (bit/s, 700 for 700C).
    """

    output_rate = Codec2Codec.sample_rate

    def __init__(self, mode: int) -> None:
        import pycodec2

        self.encoder, self.decoder = pycodec2.Codec2(mode), pycodec2.Codec2(mode)
        self.frame_samples = self.encoder.samples_per_frame()

    def encode_frame(self, frame: np.ndarray) -> bytes:
        if len(frame) != self.frame_samples:
            raise ValueError(f"a codec2 frame has {self.frame_samples} samples, not {len(frame)}")
        return bytes(self.encoder.encode(to_pcm16(frame)))

    def decode_frame(self, packet: bytes) -> np.ndarray:
        return from_pcm16(self.decoder.decode(packet))


def _fresh_process_context() -> multiprocessing.context.BaseContext:
    """multiprocessing's fork server, which imports the decoder module once before it forks, so a decode
    process starts in milliseconds instead of importing it again. Never the main module: it need not be
    guarded, and the server must not run it."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, DECODER_MODULE])
    return context  # (the preload list only counts when the server starts, on the first decode)


def _decode_in_child(mode: int, payload: bytes) -> np.ndarray:
    """`codec2_decoder.decode_frames`, imported in the decode process (that module stays out of this one)."""
    from codecbench.codecs.codec2_decoder import decode_frames

    return decode_frames(mode, payload)

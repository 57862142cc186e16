"""Opus (RFC 6716) through PyAV's bundled libopus: wideband, VoIP application, CBR by default."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from codecbench.audio import from_pcm16, resample, to_pcm16
from codecbench.codecs.base import Availability, Codec, Encoded, FrameStream, option_bool

DECODER_RATE = 48000  # FFmpeg's libopus decoder returns 48 kHz whatever it is asked for
FRAME_MS = (10.0, 20.0, 40.0, 60.0)
APPLICATIONS = ("voip", "audio", "lowdelay")


class OpusCodec(Codec):
    """libopus at 16 kHz.

    Args:
        kbps: target bitrate, 6-32 kbps.
        frame_ms: frame duration, one of 10/20/40/60 ms (default 20).
        vbr: variable bitrate (default off: constant bitrate).
        complexity: encoder complexity 0-10 (default 10).
        application: `voip` (default), `audio` or `lowdelay`.
    """

    name = "opus"
    sample_rate = 16000
    operating_points = (6.0, 8.0, 10.0, 12.0, 16.0, 20.0, 24.0, 32.0)
    kbps_range = (6.0, 32.0)
    default_point = 12.0
    causal = True
    lookahead_ms: ClassVar[float] = 6.5  # 104 samples at 16 kHz
    options = {"frame_ms": float, "vbr": option_bool, "complexity": int, "application": str}

    def __init__(
        self,
        kbps: float | None = None,
        frame_ms: float = 20.0,
        vbr: bool = False,
        complexity: int = 10,
        application: str = "voip",
    ) -> None:
        super().__init__(kbps)
        if frame_ms not in FRAME_MS:
            raise ValueError(f"opus frame_ms must be one of {FRAME_MS}, not {frame_ms}")
        if not 0 <= complexity <= 10:
            raise ValueError(f"opus complexity must be 0-10, not {complexity}")
        if application not in APPLICATIONS:
            raise ValueError(f"opus application must be one of {APPLICATIONS}, not {application!r}")
        self.frame_ms, self.vbr, self.complexity, self.application = frame_ms, vbr, complexity, application

    @property
    def algorithmic_delay_ms(self) -> float:  # type: ignore[override]
        return self.frame_ms + self.lookahead_ms

    @classmethod
    def availability(cls) -> Availability:
        status = Availability.of_modules("av", install="av")
        if not status.available:
            return status
        import av

        if "libopus" not in av.codecs_available:
            return Availability(False, "this PyAV build has no libopus encoder")
        return Availability(True)

    def provenance(self) -> dict[str, Any]:
        import av

        return {"pyav": av.__version__, "libavcodec": ".".join(map(str, av.library_versions["libavcodec"]))}

    @property
    def frame_samples(self) -> int:
        return int(self.sample_rate * self.frame_ms / 1000)

    def open_encoder(self):
        """A libopus encoder context with this codec's settings."""
        import av

        encoder = av.CodecContext.create("libopus", "w")
        encoder.sample_rate = self.sample_rate
        encoder.layout = "mono"
        encoder.format = "s16"
        encoder.bit_rate = int(round(self.kbps * 1000))
        encoder.options = {
            "application": self.application,
            "frame_duration": f"{self.frame_ms:g}",
            "vbr": "on" if self.vbr else "off",
            "compression_level": str(self.complexity),
        }
        encoder.open()
        return encoder

    def encode(self, waveform: np.ndarray) -> Encoded:
        encoder = self.open_encoder()
        frame_len = self.frame_samples
        pcm = to_pcm16(waveform)
        pcm = np.pad(pcm, (0, -len(pcm) % frame_len))
        packets: list[bytes] = []
        for start in range(0, len(pcm), frame_len):
            packets += [bytes(p) for p in encoder.encode(_pcm_frame(pcm[start : start + frame_len], start,
                                                                   self.sample_rate))]
        packets += [bytes(p) for p in encoder.encode(None)]
        return Encoded(packets=packets, num_samples=len(waveform), header=bytes(encoder.extradata or b""))

    def decode(self, encoded: Encoded) -> np.ndarray:
        import av

        decoder = _open_decoder(encoded.header)
        chunks = []
        for packet in encoded.packets:
            for frame in decoder.decode(av.Packet(packet)):
                chunks.append(frame.to_ndarray().reshape(-1))
        chunks += [frame.to_ndarray().reshape(-1) for frame in decoder.decode(None)]
        if not chunks:
            raise ValueError("opus decoder produced no audio (empty or corrupt bitstream)")
        decoded = from_pcm16(np.concatenate(chunks))
        return resample(decoded, DECODER_RATE, self.sample_rate)

    def open_stream(self) -> "OpusStream":
        return OpusStream(self)


class OpusStream(FrameStream):
    """One libopus encoder and decoder kept open: a packet per `frame_ms` frame, decoded at 48 kHz.

    Args:
        codec: the settings (bitrate, frame, application, ...).
    """

    output_rate = DECODER_RATE

    def __init__(self, codec: OpusCodec) -> None:
        self.sample_rate, self.frame_samples = codec.sample_rate, codec.frame_samples
        self.encoder = codec.open_encoder()
        self.decoder = _open_decoder(bytes(self.encoder.extradata or b""))
        self.position = 0

    def encode_frame(self, frame: np.ndarray) -> bytes:
        if len(frame) != self.frame_samples:
            raise ValueError(f"an opus frame has {self.frame_samples} samples, not {len(frame)}")
        packets = self.encoder.encode(_pcm_frame(to_pcm16(frame), self.position, self.sample_rate))
        self.position += self.frame_samples
        if len(packets) != 1:
            raise RuntimeError(f"libopus returned {len(packets)} packets for one frame")
        return bytes(packets[0])

    def decode_frame(self, packet: bytes) -> np.ndarray:
        import av

        chunks = [frame.to_ndarray().reshape(-1) for frame in self.decoder.decode(av.Packet(packet))]
        return from_pcm16(np.concatenate(chunks)) if chunks else np.zeros(0, np.float32)


def _pcm_frame(pcm: np.ndarray, pts: int, sample_rate: int):
    """An int16 mono PyAV frame starting at sample `pts`."""
    import av

    frame = av.AudioFrame.from_ndarray(pcm[None], format="s16", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = pts
    return frame


def _open_decoder(header: bytes):
    """A libopus decoder context (48 kHz mono); `header` is the encoder's OpusHead (its pre-skip removes
    the encoder lookahead)."""
    import av

    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate = DECODER_RATE
    decoder.layout = "mono"
    if header:
        decoder.extradata = header
    return decoder

"""Opus (RFC 6716) through libopus itself (the `opuslib-next-bundled` wheel bundles it): wideband, VoIP
application, CBR by default; a lost packet goes to libopus' own packet-loss concealment, or its in-band FEC."""

from __future__ import annotations

import ctypes
from typing import Any, ClassVar

import numpy as np

from codecbench.audio import from_pcm16, to_pcm16
from codecbench.codecs.base import Codec, Dependencies, Encoded, FrameStream, Framing, option_bool

FRAME_MS = (10.0, 20.0, 40.0, 60.0)
APPLICATIONS = {"voip": "voip", "audio": "audio", "lowdelay": "restricted_lowdelay"}


def _loss_percent(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise ValueError(f"expected a loss percentage 0-100, not {value}")
    return value


class OpusCodec(Codec):
    """libopus at 16 kHz, one packet per frame.

    The encoder is run with the whole signal and then enough silence to push its lookahead out (as FFmpeg's
    libopus wrapper flushes it); the decoder drops the lookahead (Ogg's pre-skip) and returns the input's length.
    A lost packet (an empty one from the channel) is decoded by libopus' packet-loss concealment; with
    `fec=true` the encoder adds in-band FEC (LBRR) tuned for `loss_perc` percent loss, and a lost packet is
    first recovered from the next packet's FEC data. `plc=false` plays a lost packet as silence instead (the
    generic zero-fill, for comparison).

    Args:
        kbps: target bitrate, 6-32 kbps.
        frame_ms: frame duration, one of 10/20/40/60 ms (default 20).
        vbr: variable bitrate (default off: constant bitrate).
        complexity: encoder complexity 0-10 (default 10).
        application: `voip` (default), `audio` or `lowdelay`.
        fec: in-band forward error correction (default off).
        loss_perc: the packet loss percentage the encoder expects (default 10 with `fec`, else 0).
        plc: libopus' packet-loss concealment for lost packets (default on; off: silence).
    """

    name = "opus"
    requires = Dependencies(("opuslib_next",), install="opuslib-next-bundled")
    sample_rate = 16000
    operating_points = (6.0, 8.0, 10.0, 12.0, 16.0, 20.0, 24.0, 32.0)
    kbps_range = (6.0, 32.0)
    default_point = 12.0
    causal = True
    lookahead_ms: ClassVar[float] = 6.5  # 104 samples at 16 kHz
    options = {"frame_ms": float, "vbr": option_bool, "complexity": int, "application": str, "fec": option_bool,
               "loss_perc": _loss_percent, "plc": option_bool}

    def __init__(
        self,
        kbps: float | None = None,
        frame_ms: float = 20.0,
        vbr: bool = False,
        complexity: int = 10,
        application: str = "voip",
        fec: bool = False,
        loss_perc: int | None = None,
        plc: bool = True,
    ) -> None:
        super().__init__(kbps)
        if frame_ms not in FRAME_MS:
            raise ValueError(f"opus frame_ms must be one of {FRAME_MS}, not {frame_ms}")
        if not 0 <= complexity <= 10:
            raise ValueError(f"opus complexity must be 0-10, not {complexity}")
        if application not in APPLICATIONS:
            raise ValueError(f"opus application must be one of {tuple(APPLICATIONS)}, not {application!r}")
        self.frame_ms, self.vbr, self.complexity, self.application = frame_ms, vbr, complexity, application
        self.fec, self.plc = fec, plc
        self.loss_perc = (10 if fec else 0) if loss_perc is None else loss_perc
        self.last_rejected = 0

    @property
    def algorithmic_delay_ms(self) -> float:  # type: ignore[override]
        return self.frame_ms + self.lookahead_ms

    def provenance(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"binding": f"opuslib-next-bundled {version('opuslib-next-bundled')}", "libopus": libopus_version(),
                "dred": dred_available(), "fec": self.fec, "loss_perc": self.loss_perc, "plc": self.plc}

    @property
    def frame_samples(self) -> int:
        return int(self.sample_rate * self.frame_ms / 1000)

    def framing(self, encoded: Encoded) -> Framing:
        """One packet per frame, lost ones handed to libopus (`fec`, `plc`) or played as silence (`generic`)."""
        label = "fec" if self.fec else "plc" if self.plc else "generic"
        return Framing(self.frame_samples, concealment="native", label=label)

    def open_encoder(self):
        """A libopus encoder with this codec's settings."""
        import opuslib_next

        encoder = opuslib_next.Encoder(self.sample_rate, 1, APPLICATIONS[self.application])
        encoder.bitrate = int(round(self.kbps * 1000))
        encoder.vbr = int(self.vbr)
        encoder.complexity = self.complexity
        encoder.inband_fec = int(self.fec)
        encoder.packet_loss_perc = self.loss_perc
        return encoder

    def open_decoder(self):
        import opuslib_next

        return opuslib_next.Decoder(self.sample_rate, 1)

    def encode(self, waveform: np.ndarray) -> Encoded:
        encoder = self.open_encoder()
        frame = self.frame_samples
        pcm = to_pcm16(waveform)
        pcm = np.pad(pcm, (0, -(len(pcm) + encoder.lookahead) % frame + encoder.lookahead))
        packets = [encoder.encode(pcm[start : start + frame].tobytes(), frame) for start in range(0, len(pcm), frame)]
        return Encoded(packets=packets, num_samples=len(waveform), header=int(encoder.lookahead).to_bytes(2, "little"))

    def decode(self, encoded: Encoded) -> np.ndarray:
        """Decode every packet into one frame; an empty one is lost (FEC from the next packet, PLC, or silence),
        and so is one libopus rejects or that decodes to another duration (a receiver knows each packet's time)."""
        decoder, frame = self.open_decoder(), self.frame_samples
        packets = encoded.packets
        chunks, rejected = [], 0
        for k, packet in enumerate(packets):
            pcm = None
            if packet:
                try:
                    pcm = decoder.decode(packet, frame)
                except Exception:  # opuslib_next.exceptions.OpusError: a corrupted packet is treated as lost
                    pass
                if pcm is None or len(pcm) != 2 * frame:  # corrupt, or a bit error changed its duration (TOC)
                    pcm, rejected = None, rejected + 1
            if pcm is None:
                pcm = self._conceal(decoder, packets[k + 1] if k + 1 < len(packets) else b"", frame)
            chunks.append(np.frombuffer(pcm, np.int16))
        self.last_rejected = rejected
        if rejected + sum(not p for p in packets) == len(packets):
            raise ValueError("opus decoder: no packet could be decoded (empty or corrupt bitstream)")
        lookahead = int.from_bytes(encoded.header, "little") if encoded.header else 0
        decoded = from_pcm16(np.concatenate(chunks))[lookahead:]
        return decoded[: encoded.num_samples]

    def _conceal(self, decoder, following: bytes, frame: int) -> bytes:
        """One lost frame: the next packet's FEC data, else libopus' PLC, else (plc off) silence."""
        if not self.plc:
            return bytes(2 * frame)
        if self.fec and following:
            try:
                return decoder.decode(following, frame, decode_fec=True)
            except Exception:  # a corrupted next packet: fall back to PLC
                pass
        return decoder.decode(b"", frame)

    def decode_info(self) -> dict[str, float]:
        """`packets_rejected`: packets libopus refused to decode (bit errors), concealed like lost ones."""
        return {"packets_rejected": float(self.last_rejected)}

    def open_stream(self) -> "OpusStream":
        return OpusStream(self)


class OpusStream(FrameStream):
    """One libopus encoder and decoder kept open: a packet per `frame_ms` frame.

    Args:
        codec: the settings (bitrate, frame, application, ...).
    """

    def __init__(self, codec: OpusCodec) -> None:
        self.frame_samples = codec.frame_samples
        self.output_rate = codec.sample_rate
        self.encoder, self.decoder = codec.open_encoder(), codec.open_decoder()

    def encode_frame(self, frame: np.ndarray) -> bytes:
        if len(frame) != self.frame_samples:
            raise ValueError(f"an opus frame has {self.frame_samples} samples, not {len(frame)}")
        return self.encoder.encode(to_pcm16(frame).tobytes(), self.frame_samples)

    def decode_frame(self, packet: bytes) -> np.ndarray:
        return from_pcm16(np.frombuffer(self.decoder.decode(packet, self.frame_samples), np.int16))


SET_DRED_DURATION = 4050  # OPUS_SET_DRED_DURATION_REQUEST (libopus >= 1.5)


def dred_available() -> bool:
    """Whether the bundled libopus was built with DRED (deep redundancy): its encoder accepts a DRED duration."""
    import opuslib_next
    import opuslib_next.api.encoder

    encoder = opuslib_next.Encoder(16000, 1, "voip")
    return opuslib_next.api.encoder.libopus_ctl(encoder.encoder_state, SET_DRED_DURATION, ctypes.c_int(100)) == 0


def libopus_version() -> str:
    """The bundled libopus' version string (`opus_get_version_string`; `libopus unknown` in builds that do not
    stamp one, as opuslib-next-bundled 0.1.1's)."""
    import opuslib_next.api

    function = opuslib_next.api.libopus.opus_get_version_string
    function.restype = ctypes.c_char_p
    return function().decode()

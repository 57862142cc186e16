"""The codec plugin contract: a codec turns a waveform into transmitted bytes and back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from codecbench.codecs.spec import CodecSpec
from codecbench.resources import Availability, Dependencies  # re-exported: the plugin API (codecbench.codecs)


@dataclass
class Encoded:
    """What a codec transmits for one signal.

    Args:
        packets: the transmitted payload, one bytes object per packet/frame. Only these bytes count
            towards the measured bitrate.
        num_samples: length of the input signal at the codec rate (a container's side information,
            not counted).
        header: decoder configuration sent out of band (like an SDP), not counted.
        columns: extra per-row values the codec measured while encoding (e.g. `index_entropy_kbps`);
            the runner adds them to the row after the contract columns. Not transmitted.
    """

    packets: list[bytes]
    num_samples: int
    header: bytes = b""
    columns: dict[str, float] = field(default_factory=dict)

    @property
    def payload_bytes(self) -> int:
        return sum(len(p) for p in self.packets)


CONCEALMENTS = ("native", "repeat", "zero")
"""What a receiver does with a lost packet: `native` (the codec's own decoder is handed the loss: an empty packet),
`repeat` (generic: the last received frame's bits again, i.e. its codebook indices or parameters) or `zero`
(generic: all-zero bits, i.e. silence for PCM)."""


@dataclass(frozen=True)
class Framing:
    """How a codec's payload splits into the packets a channel carries.

    Args:
        frame_samples: input samples (at the codec's rate) one packet carries.
        frame_bits: bits per frame of a payload sent as one bitstream (`header_bits`, then one `frame_bits`
            field per frame, bit-exactly concatenated); None: every element of `Encoded.packets` is one packet.
        header_bits: bits before the first frame of such a bitstream (e.g. a gain index), sent reliably.
        concealment: one of `CONCEALMENTS`.
        label: the row's `concealment` value where the codec's own receiver conceals (e.g. `plc`, `fec`);
            empty: `generic` (or `native`).
    """

    frame_samples: int
    frame_bits: int | None = None
    header_bits: int = 0
    concealment: str = "repeat"
    label: str = ""

    def __post_init__(self) -> None:
        if self.concealment not in CONCEALMENTS:
            raise ValueError(f"concealment must be one of {CONCEALMENTS}, not {self.concealment!r}")


def pcm_framing(sample_rate: int, frame_ms: int = 20) -> Framing:
    """16-bit PCM sent in `frame_ms` packets, a lost one played as silence (the generic waveform concealment)."""
    frame_samples = sample_rate * frame_ms // 1000
    return Framing(frame_samples, frame_bits=16 * frame_samples, concealment="zero")


FAST_PATH_OPTIONS: dict[str, tuple[str, ...]] = {
    "compile": ("eager", "compile", "graph"),
    "dtype": ("fp32", "bf16", "fp16"),
}
"""Spec options a torch codec may accept for fast decoding (first choice: the default). `codecbench latency
--compile/--dtype` expands the specs of codecs that list them in `options`."""


class FrameStream(ABC):
    """Frame-by-frame coding with the coder state kept between frames (`Codec.open_stream`): what a
    real-time sender and receiver run, and what the streaming latency setting times.

    Attributes:
        frame_samples: input samples per frame at the codec's `sample_rate`.
        output_rate: sample rate of what `decode_frame` returns (the decoder's native rate).
    """

    frame_samples: int
    output_rate: int

    @abstractmethod
    def encode_frame(self, frame: np.ndarray) -> bytes:
        """One frame [frame_samples] float32 -> the packet sent for it."""

    @abstractmethod
    def decode_frame(self, packet: bytes) -> np.ndarray:
        """One packet -> the float32 samples the decoder releases for it, at `output_rate`."""


class CodecUnavailable(RuntimeError):
    """A codec whose library or weights are missing."""


def option_bool(text: str) -> bool:
    """Parse a spec option as a boolean."""
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected a boolean (true/false), got {text!r}")


class Codec(ABC):
    """Base class of all codecs.

    Subclasses set the class attributes below, implement `encode`/`decode`, and are registered under
    the entry-point group `codecbench.codecs`. Constructors take the operating point (`kbps`) and
    keyword options; `from_spec` builds one from a parsed spec.
    """

    name: ClassVar[str]
    sample_rate: ClassVar[int]
    operating_points: ClassVar[tuple[float, ...]] = ()  # declared kbps; empty: no bitrate choice
    kbps_range: ClassVar[tuple[float, float] | None] = None  # any kbps in [lo, hi] is accepted
    default_point: ClassVar[float | None] = None
    causal: ClassVar[bool] = True
    algorithmic_delay_ms: ClassVar[float] = 0.0  # frame + lookahead
    # The decoded signal's delay behind the input (samples at `sample_rate`) when the decoder knows it exactly;
    # None: the runner finds it by cross-correlation. Generative decoders must set it: their waveform phase
    # does not follow the input, so cross-correlation peaks are spurious (off by up to the search range).
    known_delay_samples: ClassVar[int | None] = None
    requires: ClassVar[Dependencies] = Dependencies()  # its packages: availability, pip hint, recorded versions
    options: ClassVar[dict[str, Callable[[str], Any]]] = {}  # spec option name -> parser
    stochastic: ClassVar[bool] = False  # decoding draws random numbers (seeded through `reseed`)
    num_seeds: int = 1  # decodes the runner scores per utterance: option `seeds=K` of stochastic codecs

    def known_delay_at(self, rate: int) -> int | None:
        """`known_delay_samples` converted to `rate` (None when the codec does not declare it); an instance may
        declare its own (e.g. per mode)."""
        declared = self.known_delay_samples
        return None if declared is None else round(declared * rate / self.sample_rate)

    def __init__(self, kbps: float | None = None) -> None:
        if kbps is None:
            kbps = self.default_point
        if self.kbps_range is not None:
            low, high = self.kbps_range
            if kbps is None or not low <= kbps <= high:
                raise ValueError(f"{self.name} supports {low:g}-{high:g} kbps, not {kbps}")
        elif self.operating_points and kbps not in self.operating_points:
            raise ValueError(
                f"{self.name} does not support {kbps} kbps; select one of {list(self.operating_points)}"
            )
        self.kbps = kbps

    @classmethod
    def availability(cls) -> Availability:
        """Whether the codec's libraries (`requires`) and weights are present. Override to check weights too."""
        return cls.requires.check()

    @classmethod
    def availability_for(cls, spec: CodecSpec) -> Availability:
        """Availability of the codec a spec names: its options may point at weights. Default: `availability()`."""
        return cls.availability()

    @classmethod
    def from_spec(cls, spec: CodecSpec) -> "Codec":
        """Build the codec a spec names; the `@` part is kbps."""
        kwargs = cls.parse_options(spec)
        seeds = kwargs.pop("seeds", 1)
        kbps = None if spec.point is None else _parse_kbps(cls.name, spec.point)
        codec = cls(kbps, **kwargs)
        codec.num_seeds = seeds if cls.stochastic_for(spec) else 1  # a deterministic decode is never repeated
        return codec

    @classmethod
    def stochastic_for(cls, spec: CodecSpec) -> bool:
        """Whether the codec a spec names draws random numbers when it decodes: `stochastic`, unless an option
        makes the decode deterministic (e.g. a diffusion codec's `diffusion=off` control)."""
        return cls.stochastic

    @classmethod
    def parse_options(cls, spec: CodecSpec) -> dict[str, Any]:
        """Convert a spec's string options with the parsers in `cls.options` (plus `seeds` for
        stochastic codecs)."""
        parsers = {**cls.options, **({"seeds": _parse_seeds} if cls.stochastic else {})}
        unknown = sorted(set(spec.options) - set(parsers))
        if unknown:
            known = sorted(parsers) or "none"
            raise ValueError(f"{cls.name} has no option {unknown}; options: {known}")
        parsed = {}
        for key, text in spec.options.items():
            try:
                parsed[key] = parsers[key](text)
            except ValueError as exc:
                raise ValueError(f"{cls.name} option {key}={text!r}: {exc}") from exc
        return parsed

    @property
    def target_kbps(self) -> float:
        """The declared operating point (NaN where the codec has none)."""
        return float("nan") if self.kbps is None else float(self.kbps)

    def to(self, device: str) -> "Codec":
        """Move the codec's models to `device` (`cpu`, `cuda`); CPU-only codecs ignore it."""
        return self

    def reseed(self, seed: int) -> None:
        """Set the seed of a stochastic decoder; the runner calls it per (utterance, spec) with a seed
        derived from the run seed. Deterministic codecs ignore it."""

    def provenance(self) -> dict[str, Any]:
        """Library versions, weights paths and checksums that determine this codec's output."""
        return {}

    def decode_info(self) -> dict[str, float]:
        """Facts about the last `decode` that the runner stores as row columns (e.g. `denoiser_calls` of a
        diffusion decoder; averaged over seeds). Most codecs have none."""
        return {}

    def modules(self) -> list[Any]:
        """The torch `nn.Module`s that do the coding (for parameter and FLOP counts); none by default."""
        return []

    def framing(self, encoded: Encoded) -> Framing:
        """The packets of `encoded` as a channel carries them and what the receiver does with a lost one.

        Raises:
            NotImplementedError: the codec does not say how its payload splits into packets (no channel applies).
        """
        raise NotImplementedError(f"{self.name} does not declare how its payload splits into packets")

    def encode_batch(self, waveforms: list[np.ndarray]) -> list[Encoded]:
        """Encode several signals; this default runs them one after another (override to batch)."""
        return [self.encode(w) for w in waveforms]

    def decode_batch(self, encoded: list[Encoded]) -> list[np.ndarray]:
        """Decode several signals; this default runs them one after another (override to batch)."""
        return [self.decode(e) for e in encoded]

    def open_stream(self) -> FrameStream:
        """A frame-by-frame coder for streaming (causal codecs may provide one).

        Raises:
            NotImplementedError: the codec has no frame-by-frame interface.
        """
        raise NotImplementedError(f"{self.name} has no frame-by-frame interface")

    @abstractmethod
    def encode(self, waveform: np.ndarray) -> Encoded:
        """Encode a mono float32 signal [T] at `sample_rate` into transmitted packets."""

    @abstractmethod
    def decode(self, encoded: Encoded) -> np.ndarray:
        """Decode packets into a mono float32 signal [T'] at `sample_rate` (delay included)."""


def _parse_seeds(text: str) -> int:
    seeds = int(text)
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, not {seeds}")
    return seeds


def _parse_kbps(name: str, point: str) -> float:
    try:
        return float(point)
    except ValueError:
        raise ValueError(f"{name}: operating point {point!r} is not a number of kbps") from None

"""`Transmission`: one channel condition applied to one utterance's packets (`pipeline.Channel`).

Losses are drawn from the run seed, the utterance id, the condition and the packet duration, so codecs with
the same packet duration lose the same packets of the same utterance. What a lost packet becomes is the
codec's choice (`Codec.framing`): handed to its own decoder as an empty packet (`native`), or the generic
concealment: the last received frame's bits again (`repeat`: codebook indices, vocoder parameters) or zero
bits (`zero`: silence for PCM). The number of frames never changes, so the decoded length and time
alignment stay those of the clean stream.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from codecbench.channel.conditions import ChannelCondition
from codecbench.channel.loss import bit_errors, loss_pattern
from codecbench.codecs.base import Codec, Encoded, Framing
from codecbench.seeds import derive_seed


class Transmission:
    """A channel condition for one utterance of a run.

    Args:
        condition: the condition.
        run_seed: the run seed.
        utterance: the utterance id.
    """

    def __init__(self, condition: ChannelCondition, run_seed: int, utterance: str) -> None:
        self.condition, self.run_seed, self.utterance = condition, run_seed, utterance
        self.name = condition.name

    def rng(self, framing: Framing, sample_rate: int, purpose: str) -> np.random.Generator:
        """The generator of one purpose (`loss`, `bits`), shared by every codec with this packet duration."""
        packet_ms = f"{1000 * framing.frame_samples / sample_rate:.3f}"
        return np.random.default_rng(derive_seed(self.run_seed, self.utterance, self.name, packet_ms, purpose))

    def losses(self, framing: Framing, sample_rate: int, count: int) -> np.ndarray:
        """Which of `count` packets are lost (bool [count]); none unless the condition is a loss."""
        if self.condition.kind != "loss":
            return np.zeros(count, bool)
        return loss_pattern(self.condition, count, self.rng(framing, sample_rate, "loss"))

    def transmit(self, codec: Codec, encoded: Encoded) -> tuple[Encoded, dict[str, float | str]]:
        """The packets as received, and the row's channel columns: `packets`, `packets_lost`, `bits_flipped`,
        `concealment` (`generic` or the codec's own, e.g. `plc`)."""
        framing = codec.framing(encoded)
        if framing.frame_bits is None:
            frames = [np.unpackbits(np.frombuffer(p, np.uint8)) for p in encoded.packets]
            header, tail = np.zeros(0, np.uint8), np.zeros(0, np.uint8)
        else:
            header, frames, tail = split_bitstream(b"".join(encoded.packets), framing)
        lost = self.losses(framing, codec.sample_rate, len(frames))
        flipped = 0
        if self.condition.kind == "ber":
            rng = self.rng(framing, codec.sample_rate, "bits")
            received = [bit_errors(f, self.condition.rate, rng) for f in frames]
            flipped = int(sum(int((a != b).sum()) for a, b in zip(frames, received)))
            frames = received
        frames = conceal(frames, lost, framing.concealment)
        if framing.frame_bits is None:
            packets = [np.packbits(f).tobytes() if f is not None else b"" for f in frames]
        else:
            packets = [np.packbits(np.concatenate([header, *frames, tail])).tobytes()]
        columns: dict[str, float | str] = {
            "packets": float(len(frames)), "packets_lost": float(lost.sum()), "bits_flipped": float(flipped),
            "concealment": framing.label or ("generic" if framing.concealment != "native" else "native")}
        return replace(encoded, packets=packets), columns


def split_bitstream(payload: bytes, framing: Framing) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """A one-bitstream payload as (header bits, one bit array per frame, padding bits)."""
    assert framing.frame_bits is not None
    bits = np.unpackbits(np.frombuffer(payload, np.uint8))
    count = (bits.size - framing.header_bits) // framing.frame_bits
    end = framing.header_bits + count * framing.frame_bits
    frames = np.split(bits[framing.header_bits:end], count) if count else []
    return bits[: framing.header_bits], list(frames), bits[end:]


def conceal(frames: list[np.ndarray], lost: np.ndarray, concealment: str) -> list[np.ndarray | None]:
    """Lost frames as the receiver fills them: None (`native`: the decoder conceals), the last received
    frame (`repeat`; zeros before the first one) or zeros (`zero`)."""
    received: list[np.ndarray | None] = []
    last: np.ndarray | None = None
    for frame, gone in zip(frames, lost):
        if not gone:
            last = frame
            received.append(frame)
        elif concealment == "native":
            received.append(None)
        elif concealment == "repeat" and last is not None and last.size == frame.size:
            received.append(last)
        else:
            received.append(np.zeros_like(frame))
    return received

"""Lyra v2 (SoundStream): Google's published TFLite encoder, residual vector quantizer and LyraGAN decoder,
run with ai-edge-litert. 16 kHz, 20 ms frames, 3.2 / 6 / 9.2 kbps."""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from codecbench.codecs.base import Availability, Codec, CodecUnavailable, Encoded, FrameStream, Framing
from codecbench.codecs.bitpack import index_entropy_kbps, pack_indices, unpack_indices
from codecbench.codecs.weights import WeightsOption
from codecbench.datasets.download import download
from codecbench.resources import Dependencies, Resource, cache_dir, locate, obtainable
from codecbench.stages import stage

FRAME_SAMPLES = 320  # 20 ms at 16 kHz: one packet
BITS_PER_INDEX = 4  # each quantizer has a 16-entry codebook
QUANTIZERS = {3.2: 16, 6.0: 30, 9.2: 46}  # kbps -> quantizers used: 16 x 4 bits x 50 frames/s = 3.2 kbps
WEIGHTS_ENV = "CODECBENCH_LYRA_DIR"
RELEASE = "google/lyra v1.3.2"
SOURCE_URL = "https://raw.githubusercontent.com/google/lyra/v1.3.2/lyra/model_coeffs/"
SHA256 = {  # as published with the weights (lyra/model_coeffs of the release)
    "soundstream_encoder.tflite": "237da0b16226fb0a68d49551c81bebf614e42142af72764448359f68581e88f1",
    "quantizer.tflite": "841ee05989687d32d1f616a8ad1419fc7eda37599d3c05c7cf5a0d60ccf8ac5c",
    "lyragan.tflite": "50e7839cda4f30599a3a34cfaddcd9c98449b049eee884e1a74295780448ad06",
}
FILES = list(SHA256)


WEIGHTS = Resource("Lyra v2 weights", tuple(FILES), env_var=WEIGHTS_ENV, cache_path="models/lyra-v2",
                   shared_path="models/lyra-v2", embedded=Path(__file__).resolve().parent / "data" / "lyra-v2")


def find_weights(explicit: str | Path | None = None) -> Path | None:
    """The directory holding the three model files, in `codecbench.resources`' order: `explicit`,
    `$CODECBENCH_LYRA_DIR`, the user cache, `../shared/models/lyra-v2` (development machines), then the copy
    embedded in the package; None when none holds them (an installation without package data).

    Raises:
        FileNotFoundError: an explicit directory or `$CODECBENCH_LYRA_DIR` lacks a file (never skipped silently).
    """
    located = locate(WEIGHTS, explicit)
    return None if located is None else located.path


def download_weights() -> Path:
    """Download the three files of the release into the user cache, each verified against its SHA-256."""
    target = cache_dir() / WEIGHTS.cache_path
    for name, digest in SHA256.items():
        download(SOURCE_URL + name, target / name, digest, alternatives=f"set ${WEIGHTS_ENV} or weights=DIR")
    return target


def read_verified(directory: Path) -> dict[str, bytes]:
    """The model files' bytes, each checked against its published SHA-256 (the bytes checked are the
    bytes run).

    Raises:
        ValueError: a file's SHA-256 differs; the message names the file and both hashes.
    """
    models = {}
    for name, expected in SHA256.items():
        content = (directory / name).read_bytes()
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected:
            raise ValueError(f"Lyra weights {directory / name} are corrupt or from another release: sha256 "
                             f"{actual}, expected {expected} ({RELEASE})")
        models[name] = content
    return models


class LyraCodec(WeightsOption, Codec):
    """Lyra v2 at 3.2, 6 or 9.2 kbps.

    Each 320-sample frame is encoded to 64 features, quantized by a 46-stage residual vector quantizer
    of which the first 16 / 30 / 46 stages are used (4 bits each), and transmitted as one packet of
    8 / 15 / 23 bytes (Lyra's bit order: first quantizer in the most significant bits, no header).
    The decoder gets the indices of the unused stages as -1, as Lyra's own decoder passes them (0
    instead would add codebook entries and wreck quality).

    The TFLite models keep streaming state, so every `encode` and `decode` builds fresh interpreters
    (a few milliseconds). Input is clipped to [-1, 1] and output saturated like Lyra's int16 interface.
    The decoder's frame k is time-aligned with input frame k (the runner measures 0-1 samples of delay):
    the algorithmic delay is the 20 ms frame.

    Args:
        kbps: 3.2, 6 or 9.2.
        weights: directory with the three .tflite files (see `find_weights` for the default lookup).
        threads: TFLite interpreter threads.
    """

    name = "lyra"
    sample_rate = 16000
    operating_points = tuple(QUANTIZERS)
    default_point = 3.2
    causal = True
    algorithmic_delay_ms = 1000.0 * FRAME_SAMPLES / 16000
    requires = Dependencies(("ai_edge_litert",), extra="neural")
    options = {"weights": str, "threads": int}

    def __init__(self, kbps: float | None = None, weights: str | None = None, threads: int = 1) -> None:
        super().__init__(kbps)
        if threads < 1:
            raise ValueError(f"lyra threads must be >= 1, not {threads}")
        directory = find_weights(weights)
        if directory is None:
            try:
                directory = download_weights()
            except OSError as exc:
                raise CodecUnavailable(f"no Lyra v2 weights found and the download failed: {exc}") from exc
        self.weights_dir = directory
        self._models = read_verified(directory)
        self.threads = threads
        self.num_quantizers = QUANTIZERS[self.kbps]
        dequantizer = self.signature_runner("quantizer.tflite", "decode")
        self.max_quantizers = int(dequantizer.get_input_details()["encoding_indices"]["shape"][0])

    @classmethod
    def weights_availability(cls, weights: str | None) -> Availability:
        status = obtainable(WEIGHTS, weights, SOURCE_URL)
        if status.error or status.located is not None:
            return Availability(not status.error, status.error)
        if status.unreachable:
            return Availability(False, f"no Lyra v2 weights in {WEIGHTS.looked_in()} (set ${WEIGHTS_ENV} or "
                                       f"weights=DIR) and the download source {status.unreachable}")
        return Availability(True, f"weights download on first use into {cache_dir() / WEIGHTS.cache_path}")

    def provenance(self) -> dict[str, Any]:
        return {"weights": str(self.weights_dir), "release": RELEASE, "sha256": dict(SHA256),
                "ai-edge-litert": version("ai-edge-litert"), "num_quantizers": self.num_quantizers,
                "threads": self.threads}

    def signature_runner(self, model: str, signature: str | None = None):
        """A signature runner of one model file on a fresh interpreter (no streaming state carried over)."""
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        # Lyra runs the quantizer without XNNPACK and the encoder and decoder with it; so do we.
        resolver = OpResolverType.AUTO
        if model == "quantizer.tflite":
            resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        interpreter = Interpreter(model_content=self._models[model], num_threads=self.threads,
                                  experimental_op_resolver_type=resolver)
        return interpreter.get_signature_runner(signature)

    def encode(self, waveform: np.ndarray) -> Encoded:
        n_frames = -(-len(waveform) // FRAME_SAMPLES)
        x = np.pad(np.asarray(waveform, np.float32), (0, n_frames * FRAME_SAMPLES - len(waveform)))
        stream = self.open_stream()
        indices = np.stack([stream.encode_indices(x[t * FRAME_SAMPLES:(t + 1) * FRAME_SAMPLES])
                            for t in range(n_frames)]).astype(np.int64)
        packets = [pack_indices(frame[None], BITS_PER_INDEX) for frame in indices]
        entropy = index_entropy_kbps(indices, len(waveform) / self.sample_rate)
        return Encoded(packets, len(waveform), columns={"index_entropy_kbps": entropy})

    def dequantizer_input(self, packet: bytes) -> np.ndarray:
        """The index tensor [max_quantizers, 1, 1] of one packet: its indices, then -1 for every unused
        quantizer, as Lyra's decoder fills it.

        Raises:
            ValueError: the packet has the wrong size.
        """
        indices = np.full((self.max_quantizers, 1, 1), -1, np.int32)
        indices[: self.num_quantizers, 0, 0] = unpack_indices(packet, BITS_PER_INDEX, 1, self.num_quantizers)[0]
        return indices

    def framing(self, encoded: Encoded) -> Framing:
        """One packet per 20 ms frame; a lost packet repeats the last received one's indices (the generic
        concealment: the published TFLite models carry no PLC of their own)."""
        return Framing(FRAME_SAMPLES, concealment="repeat")

    def decode(self, encoded: Encoded) -> np.ndarray:
        n_frames = -(-encoded.num_samples // FRAME_SAMPLES)
        if len(encoded.packets) != n_frames:
            raise ValueError(f"corrupt Lyra bitstream: {len(encoded.packets)} packets for {n_frames} frames")
        stream = self.open_stream()
        return np.concatenate([stream.decode_frame(p) for p in encoded.packets])[: encoded.num_samples]

    def open_stream(self) -> "LyraStream":
        return LyraStream(self)


class LyraStream(FrameStream):
    """Lyra's encoder, quantizer and decoder interpreters kept for a whole stream (they carry its state):
    a 20 ms frame in, one packet out, and back.

    Args:
        codec: the weights, bitrate and thread count.
    """

    frame_samples = FRAME_SAMPLES
    output_rate = 16000

    def __init__(self, codec: LyraCodec) -> None:
        self.codec = codec
        self.encoder = codec.signature_runner("soundstream_encoder.tflite")
        self.quantizer = codec.signature_runner("quantizer.tflite", "encode")
        self.dequantizer = codec.signature_runner("quantizer.tflite", "decode")
        self.decoder = codec.signature_runner("lyragan.tflite")

    def encode_indices(self, frame: np.ndarray) -> np.ndarray:
        """The codec's `num_quantizers` indices of one frame [320]."""
        x = np.clip(np.asarray(frame, np.float32), -1.0, 1.0)[None]
        with stage("encoder"):
            features = self.encoder(input_audio=x)["output_0"]
        with stage("quantizer"):
            out = self.quantizer(input_frames=features, num_quantizers=np.array(self.codec.num_quantizers, np.int32))
        assert int(out["output_1"]) == BITS_PER_INDEX
        indices = out["output_0"].reshape(-1)
        assert (indices[self.codec.num_quantizers:] == -1).all(), "Lyra marks unused quantizers with -1"
        return indices[: self.codec.num_quantizers]

    def encode_frame(self, frame: np.ndarray) -> bytes:
        if len(frame) != FRAME_SAMPLES:
            raise ValueError(f"a Lyra frame has {FRAME_SAMPLES} samples, not {len(frame)}")
        return pack_indices(self.encode_indices(frame)[None].astype(np.int64), BITS_PER_INDEX)

    def decode_frame(self, packet: bytes) -> np.ndarray:
        with stage("quantizer"):
            features = self.dequantizer(encoding_indices=self.codec.dequantizer_input(packet))["output_0"]
        with stage("decoder"):
            audio = self.decoder(input_audio=features)["output_0"].reshape(-1)
        return np.clip(audio, -1.0, 1.0).astype(np.float32)

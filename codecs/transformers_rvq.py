"""Residual-VQ neural codecs implemented in Hugging Face transformers (EnCodec, DAC): weights lookup,
availability without network requests, packed-index bitstreams, batching across utterances, devices.

The official `encodec` and `descript-audio-codec` packages import torchaudio, which does not load beside
current torch releases; transformers' `EncodecModel` / `DacModel` are ports of the same networks and load
the same published checkpoints (converted by Hugging Face) without it.
"""

from __future__ import annotations

import math
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from codecbench.audio import fit_length
from codecbench.codecs.base import Availability, Codec, CodecUnavailable, Encoded, Framing
from codecbench.codecs.bitpack import index_entropy_kbps, pack_indices, unpack_indices
from codecbench.codecs.weights import WeightsOption
from codecbench.resources import Dependencies, Located, Resource, download_from_hub, file_digest, locate, obtainable
from codecbench.stages import stage

if TYPE_CHECKING:
    import torch

WEIGHT_FILES = ["config.json", "model.safetensors"]


class TransformersRVQCodec(WeightsOption, Codec):
    """Base of codecs whose bitstream is the packed indices of a residual vector quantizer.

    A frame of `hop_length` samples carries `num_codebooks` indices of log2(codebook_size) bits; the
    indices of a whole signal are packed into one packet (`codecbench.codecs.bitpack`), so the measured
    rate is the declared one up to the last frame's padding and one byte. Each row also gets
    `index_entropy_kbps`, the empirical entropy of the indices.

    Weights (a directory with `config.json` and `model.safetensors`) are looked up in the order of
    `codecbench.resources`: `weights=DIR`, the environment variable `weights_env`, the user cache and the
    Hugging Face cache, `../shared/models/<repo name>`, then a download of `repo_id` from the hub where it
    answers.

    Args:
        kbps: an operating point of the subclass.
        weights: a local checkpoint directory.
        model: an already built model to use instead of loading weights (e.g. the real architecture with
            random weights, for plumbing tests).
    """

    sample_rate: ClassVar[int]
    repo_id: ClassVar[str]
    weights_env: ClassVar[str]
    model_class: ClassVar[str]  # the transformers class
    requires = Dependencies(("torch", "transformers", "huggingface_hub"), extra="neural")
    options = {"weights": str}

    def __init__(self, kbps: float | None = None, weights: str | None = None, model: Any = None) -> None:
        super().__init__(kbps)
        if model is None:
            directory, source = self._fetch_weights(weights)
            import transformers

            model = getattr(transformers, self.model_class).from_pretrained(directory, local_files_only=True)
            self.weights = {"repo_id": self.repo_id, "path": str(directory), "source": source,
                            "sha256": {name: file_digest(directory / name) for name in WEIGHT_FILES}}
        else:
            self.weights = {"source": f"a {type(model).__name__} instance given to the constructor "
                                      "(not a published checkpoint)"}
        self.model = model.eval()
        self.device = str(next(model.parameters()).device)
        config = model.config
        if config.sampling_rate != self.sample_rate:
            raise ValueError(f"{self.name} needs a {self.sample_rate} Hz model, got {config.sampling_rate} Hz")
        self.hop_length = int(np.prod(config.upsampling_ratios))
        self.bits_per_index = int(math.log2(config.codebook_size))
        if 1 << self.bits_per_index != config.codebook_size:
            raise ValueError(f"codebook size {config.codebook_size} is not a power of two")
        frame_rate = self.sample_rate / self.hop_length
        codebooks = self.kbps * 1000 / (frame_rate * self.bits_per_index)
        if abs(codebooks - round(codebooks)) > 1e-9 or not 1 <= round(codebooks) <= self._max_codebooks(config):
            raise ValueError(f"{self.kbps} kbps is not a whole number of this model's codebooks "
                             f"({self.bits_per_index} bits x {frame_rate:g} frames/s each)")
        self.num_codebooks = int(round(codebooks))

    # -- what a subclass provides --------------------------------------------------------------------------

    def _max_codebooks(self, config: Any) -> int:
        raise NotImplementedError

    def _encode_codes(self, batch: "torch.Tensor") -> "torch.Tensor":
        """[B, 1, T] (T a multiple of hop_length) -> int codes [B, num_codebooks, T / hop_length]."""
        raise NotImplementedError

    def _decode_codes(self, codes: "torch.Tensor") -> "torch.Tensor":
        """Codes [B, num_codebooks, F] -> audio [B, T'] with T' about F * hop_length."""
        raise NotImplementedError

    # -- weights and availability ----------------------------------------------------------------------------

    @classmethod
    def weights_resource(cls) -> Resource:
        """The checkpoint as `codecbench.resources.locate` finds it (`models/<repo name>` in the user cache
        and `../shared`, the Hugging Face cache, the hub)."""
        folder = f"models/{cls.repo_id.split('/')[-1]}"
        return Resource(f"{cls.repo_id} weights", tuple(WEIGHT_FILES), env_var=cls.weights_env, cache_path=folder,
                        shared_path=folder, hub_repo=cls.repo_id)

    @classmethod
    def local_weights(cls, explicit: str | Path | None = None) -> Located | None:
        """The checkpoint directory found without network, and where; None if none is.

        Raises:
            FileNotFoundError: `explicit` or the environment variable names a directory without the files.
        """
        return locate(cls.weights_resource(), explicit)

    @classmethod
    def _fetch_weights(cls, explicit: str | None) -> tuple[Path, str]:
        found = cls.local_weights(explicit)
        if found is not None:
            return found.path, found.source
        try:
            return download_from_hub(cls.weights_resource()), "Hugging Face hub download"
        except ConnectionError as exc:
            raise CodecUnavailable(str(exc)) from exc

    @classmethod
    def weights_availability(cls, weights: str | None) -> Availability:
        resource = cls.weights_resource()
        status = obtainable(resource, weights)
        if status.error or status.located is not None:
            return Availability(not status.error, status.error)
        if status.unreachable:
            return Availability(False, f"{resource.name}: none in {resource.looked_in()} (or weights=DIR); "
                                       f"no download: {status.unreachable}")
        return Availability(True, f"{cls.repo_id} downloads from the Hugging Face hub on first use")

    def provenance(self) -> dict[str, Any]:
        return {**self.weights, "transformers": version("transformers"), "torch": version("torch"),
                "num_codebooks": self.num_codebooks, "bits_per_index": self.bits_per_index,
                "hop_length": self.hop_length, "device": self.device}

    def modules(self) -> list:
        return [self.model]

    def to(self, device: str) -> "TransformersRVQCodec":
        self.model.to(device)
        self.device = device
        return self

    # -- coding ----------------------------------------------------------------------------------------------

    def encode(self, waveform: np.ndarray) -> Encoded:
        return self.encode_batch([waveform])[0]

    def decode(self, encoded: Encoded) -> np.ndarray:
        return self.decode_batch([encoded])[0]

    def framing(self, encoded: Encoded) -> Framing:
        """A frame's `num_codebooks` indices per packet; a lost one repeats the last received frame's indices
        (the generic concealment)."""
        return Framing(self.hop_length, frame_bits=self.num_codebooks * self.bits_per_index, concealment="repeat")

    def batches(self, frames: list[int]) -> list[list[int]]:
        """Groups of signal indices coded in one batch. A causal model takes any lengths (zero padding after
        a signal changes neither its codes nor its output); a non-causal one only equal frame counts."""
        if self.causal:
            return [list(range(len(frames)))]
        groups: dict[int, list[int]] = {}
        for i, count in enumerate(frames):
            groups.setdefault(count, []).append(i)
        return list(groups.values())

    def encode_batch(self, waveforms: list[np.ndarray]) -> list[Encoded]:
        """Encode several signals [T_i] at `sample_rate`, batched on the model's device (see `batches`).

        Each result is what `encode` gives for that signal alone, up to the floating-point rounding of
        batched kernels (which, like a different thread count, can flip an index at a near-tie).
        """
        import torch

        if any(len(w) == 0 for w in waveforms):
            raise ValueError(f"{self.name} cannot encode an empty signal")
        frames = [-(-len(w) // self.hop_length) for w in waveforms]
        results: list[Encoded | None] = [None] * len(waveforms)
        for group in self.batches(frames):
            batch = np.zeros((len(group), 1, max(frames[i] for i in group) * self.hop_length), np.float32)
            for row, i in enumerate(group):
                batch[row, 0, : len(waveforms[i])] = waveforms[i]
            with torch.inference_mode(), stage("encoder"):
                codes = self._encode_codes(torch.from_numpy(batch).to(self.device)).cpu().numpy()
            assert codes.shape[1] == self.num_codebooks
            for row, i in enumerate(group):
                indices = codes[row, :, : frames[i]].T
                entropy = index_entropy_kbps(indices, len(waveforms[i]) / self.sample_rate)
                results[i] = Encoded([pack_indices(indices, self.bits_per_index)], len(waveforms[i]),
                                     columns={"index_entropy_kbps": entropy})
        return results  # type: ignore[return-value]

    def decode_batch(self, encoded: list[Encoded]) -> list[np.ndarray]:
        """Decode several bitstreams, batched like `encode_batch`; float32 signals [num_samples_i]."""
        import torch

        frames = [-(-e.num_samples // self.hop_length) for e in encoded]
        indices = [unpack_indices(b"".join(e.packets), self.bits_per_index, f, self.num_codebooks)
                   for e, f in zip(encoded, frames)]
        results: list[np.ndarray | None] = [None] * len(encoded)
        for group in self.batches(frames):
            codes = np.zeros((len(group), self.num_codebooks, max(frames[i] for i in group)), np.int64)
            for row, i in enumerate(group):
                codes[row, :, : frames[i]] = indices[i].T
            with torch.inference_mode(), stage("decoder"):
                audio = self._decode_codes(torch.from_numpy(codes).to(self.device)).float().cpu().numpy()
            for row, i in enumerate(group):
                results[i] = fit_length(audio[row], encoded[i].num_samples).astype(np.float32)
        return results  # type: ignore[return-value]

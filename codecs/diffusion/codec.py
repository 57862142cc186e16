"""`DiffusionCodec`: representation -> quantizer -> (backbone + sampler) -> vocoder, built from parts.


It holds the only denoising loop of the package. A codec without a backbone (the GAN baseline) hands
the dequantized mel straight to its vocoder. The quantizer may encode another representation than the
one the diffusion model and vocoder work in (`source`): a waveform tokenizer feeding a latent or mel
diffusion model (the design points of Foti & Brendel: mel2mel, latent2latent, latent2mel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.bitpack import pack_fields, unpack_fields
from codecbench.codecs.diffusion.gain import GainCoder
from codecbench.codecs.diffusion.representation import LOG_FLOOR
from codecbench.codecs.diffusion.samplers import Sampler
from codecbench.stages import stage


@dataclass
class Codes:
    """What is transmitted for one signal.

    Args:
        indices: codebook indices [A, L] (A codes per time step, L time steps), int64; or, for the
            `quantize=off` ceiling, the quantizer's continuous latent (float, sent as float16).
        gain_index: the quantised utterance gain, or None for codecs without level normalisation.
    """

    indices: torch.Tensor
    gain_index: int | None = None

    @property
    def unquantized(self) -> bool:
        return self.indices.is_floating_point()


class DiffusionCodec(nn.Module):
    """A diffusion codec assembled from parts.

    Args:
        representation: the output domain: waveform -> features (log-mel, or a latent autoencoder), with
            `normalize` / `denormalize` to and from the diffusion models' domain.
        quantizer: `encode(features) -> indices [B, A, L]`, `dequantize(indices) -> Dequantized`,
            `grid_shape(frames)`, `bits`, `frame_multiple` (a MelGridQuantizer, MelFramesQuantizer,
            EncodecTokenizer or TokenQuantizer).
        vocoder: denormalised features [B, C, N] -> waveform [B, T] (Griffin-Lim, a neural vocoder, or an
            autoencoder's decoder).
        backbone: denoiser `(x, t, cond) -> prediction`; None decodes the dequantized estimate directly.
        sampler: the reverse process (DDPM, DDIM, midway-infilling); required with a backbone.
        gain: per-utterance level normalisation sent as side information, or None.
        residual_scale: None: the diffusion samples the clean features; a number s: it samples the residual
            (clean - dequantized) / s, added back to the dequantized features (residual diffusion, as
            ResGrad, Chen et al. 2022).
        source: the representation the quantizer encodes (default: `representation`; a `Waveform` for
            tokenizers), with `config.num_frames(samples)` and optionally `silence` (its padding value).
    """

    def __init__(self, representation: nn.Module, quantizer: nn.Module, vocoder: nn.Module,
                 backbone: nn.Module | None = None, sampler: Sampler | None = None,
                 gain: GainCoder | None = None, residual_scale: float | None = None,
                 source: nn.Module | None = None) -> None:
        super().__init__()
        if (backbone is None) != (sampler is None):
            raise ValueError("a backbone needs a sampler and a sampler needs a backbone")
        self.representation, self.quantizer, self.vocoder = representation, quantizer, vocoder
        self.source = representation if source is None else source
        self.backbone, self.sampler, self.gain = backbone, sampler, gain
        self.residual_scale = residual_scale
        self.denoised_items = 0  # batch items the backbone has evaluated (counted by a forward hook)
        self.last_denoiser_calls: float | None = None  # network evaluations per signal in the last decode
        if backbone is not None:
            backbone.register_forward_pre_hook(self._count_items)

    def _count_items(self, module: nn.Module, inputs: tuple) -> None:
        self.denoised_items += inputs[0].shape[0]

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def padded_frames(self, num_samples: int) -> int:
        """Source frames of a signal, rounded up to what the quantizer needs."""
        frames = self.source.config.num_frames(num_samples)
        return -(-frames // self.quantizer.frame_multiple) * self.quantizer.frame_multiple

    @torch.inference_mode()
    def encode(self, wav: torch.Tensor) -> Codes:
        """Codes of a waveform [T] at 16 kHz."""
        return self.encode_batch(wav[None])[0]

    @torch.inference_mode()
    def encode_batch(self, wavs: torch.Tensor, quantize: bool = True) -> list[Codes]:
        """Codes of B waveforms of equal length [B, T] at 16 kHz, analysed and quantized together
        (`quantize=False`: the quantizer's continuous latent instead of indices, for quantizers with `latent`)."""
        wavs = wavs.to(self.device)
        gain_indices = [None] * wavs.shape[0]
        if self.gain is not None:
            gain_indices = [self.gain.encode(wav) for wav in wavs]
            wavs = torch.stack([self.gain.normalize(wav, g) for wav, g in zip(wavs, gain_indices)])
        with stage("features"):
            features = self._features(wavs)
        with stage("encoder+quantizer"):
            indices = self.quantizer.encode(features) if quantize else self.quantizer.latent(features)
        return [Codes(i, g) for i, g in zip(indices, gain_indices)]

    @torch.inference_mode()
    def decode(self, codes: Codes, num_samples: int, num_steps: int = 0,
               generator: torch.Generator | None = None, diffusion: bool = True) -> torch.Tensor:
        """Waveform [num_samples] from codes; `num_steps` sampler steps when there is a backbone."""
        return self.decode_batch([codes], num_samples, num_steps, generator, diffusion)[0]

    @torch.inference_mode()
    def decode_batch(self, codes: list[Codes], num_samples: int, num_steps: int = 0,
                     generator: torch.Generator | None = None, diffusion: bool = True) -> torch.Tensor:
        """Waveforms [B, num_samples] of B signals of equal length, decoded together (one generator draws
        the noise of the whole batch, so item i differs from its decode alone).

        `diffusion=False` is the control of a diffusion codec: the condition estimate h (the dequantized
        features, or for residual diffusion a zero residual) goes to the same vocoder, the denoiser is not run.

        Raises:
            ValueError: `diffusion=False` where the quantizer gives no estimate of the output (waveform decoders).
        """
        with stage("dequantizer"):
            stacked = torch.stack([c.indices for c in codes]).to(self.device)
            dequantized = (self.quantizer.decode_latent(stacked.float()) if codes[0].unquantized
                           else self.quantizer.dequantize(stacked))
        mel = dequantized.mel
        if not diffusion and self.backbone is not None:
            if not dequantized.is_estimate:
                raise ValueError("diffusion off needs an estimate of the output to decode, and this codec's "
                                 "condition is none (a waveform decoder)")
            self.last_denoiser_calls = 0.0
        elif self.backbone is not None:
            items = self.denoised_items
            with stage("sampler"):
                # the coarse estimate of what is sampled (midway-infilling starts from it): of a residual, zero
                estimate = mel if self.residual_scale is None else torch.zeros_like(mel)
                sample = self.denoise(dequantized.cond, mel.shape, num_steps, generator,
                                      estimate=estimate if dequantized.is_estimate else None)
            mel = sample if self.residual_scale is None else mel + self.residual_scale * sample
            # a call on two stacked branches (midway-infilling) is two evaluations of the network
            self.last_denoiser_calls = (self.denoised_items - items) / len(codes)
        with stage("vocoder"):
            wav = self.vocoder(self.representation.denormalize(mel), generator=generator)[:, :num_samples]
        if self.gain is not None:
            wav = torch.stack([self.gain.restore(w, c.gain_index) for w, c in zip(wav, codes)])
        return wav

    def denoise(self, cond: torch.Tensor, mel_shape: torch.Size, num_steps: int,
                generator: torch.Generator | None = None, estimate: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised features [B, M, N] sampled by the reverse diffusion given `cond` and the coarse
        `estimate` (for samplers that start from it); replaced per instance by a CUDA-graph replay of the
        same loop under `fast.accelerate(..., "graph")`."""
        return reverse_diffusion(self.backbone, self.sampler, cond, mel_shape, num_steps, generator, estimate)

    def _silence(self) -> float:
        """The normalised value padding frames of the source hold: its `silence`, else the log-mel floor."""
        if hasattr(self.source, "silence"):
            return float(self.source.silence)
        return float(self.source.normalize(torch.tensor(math.log(LOG_FLOOR))))

    def to_bytes(self, codes: Codes) -> bytes:
        """The gain index (if any), then the indices time step by time step, bit-exactly packed."""
        fields = [] if codes.gain_index is None else [(np.array([codes.gain_index]), self.gain.bits)]
        if codes.unquantized:  # the ceiling: the latent as float16, after the gain field
            return pack_fields(fields) + codes.indices.cpu().half().numpy().tobytes()
        fields.append((codes.indices.T.reshape(-1).cpu().numpy(), self.quantizer.bits))
        return pack_fields(fields)

    def _features(self, wavs: torch.Tensor) -> torch.Tensor:
        """The quantizer's input of waveforms [B, T]: the normalised source features, padded with silence."""
        features = self.source.normalize(self.source(wavs))
        return F.pad(features, (0, self.padded_frames(wavs.shape[-1]) - features.shape[-1]), value=self._silence())

    def latent_shape(self, num_samples: int) -> tuple[int, ...]:
        """Shape of one signal's continuous latent (`quantize=off`), from the quantizer's encoder on silence."""
        with torch.inference_mode():
            features = self._features(torch.zeros(1, num_samples, device=self.device))
            return tuple(self.quantizer.latent(features).shape[1:])

    def from_bytes(self, data: bytes, num_samples: int, quantized: bool = True) -> Codes:
        """Inverse of `to_bytes` for a signal of `num_samples` samples (`quantized=False`: a float16 latent).

        Raises:
            ValueError: a truncated bitstream.
        """
        if not quantized:
            header = 0 if self.gain is None else -(-self.gain.bits // 8)
            shape = self.latent_shape(num_samples)
            expected = header + 2 * int(np.prod(shape))
            if len(data) != expected:
                raise ValueError(f"expected {expected} bytes of a float16 latent, got {len(data)}")
            gain_index = None if self.gain is None else int(unpack_fields(data[:header], [(1, self.gain.bits)])[0][0])
            latent = torch.from_numpy(np.frombuffer(data[header:], dtype=np.float16).reshape(shape).astype(np.float32))
            return Codes(latent, gain_index)
        rows, steps = self.quantizer.grid_shape(self.padded_frames(num_samples))
        layout = [] if self.gain is None else [(1, self.gain.bits)]
        fields = unpack_fields(data, layout + [(rows * steps, self.quantizer.bits)])
        gain_index = None if self.gain is None else int(fields[0][0])
        indices = torch.from_numpy(fields[-1].reshape(steps, rows).T.copy())
        return Codes(indices, gain_index)


def reverse_diffusion(backbone: nn.Module, sampler: Sampler, cond: torch.Tensor, mel_shape: torch.Size,
                      num_steps: int, generator: torch.Generator | None = None,
                      estimate: torch.Tensor | None = None) -> torch.Tensor:
    """The denoising loop (used by `DiffusionCodec.decode` and by validation during training).

    The frames are padded (conditioning replicated) to the backbone's `frame_multiple` and cropped back;
    image backbones (4-D conditioning) see the mel as a one-channel image.

    Args:
        backbone: `(x, t, cond) -> predicted noise`.
        sampler: the reverse process.
        cond: conditioning [B, C, N] or [B, C, M, N].
        mel_shape: [B, M, N] of the mel to sample.
        num_steps: sampler steps.
        generator: the only source of randomness.
        estimate: the coarse estimate of the output [B, M, N] (midway-infilling starts from it), or None.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, not {num_steps}")
    cond, shape = pad_for_backbone(backbone, cond, mel_shape)
    if estimate is not None:
        pad = shape[-1] - mel_shape[-1]
        estimate = F.pad(estimate, (0, pad), mode="replicate") if pad else estimate
        estimate = estimate[:, None] if len(shape) == 4 else estimate
    sampler.set_timesteps(num_steps, cond.device)
    x = sampler.initial_sample(shape, generator, cond.device, cond.dtype, estimate)
    return crop_to_mel(sampling_loop(backbone, sampler, x, cond, generator), mel_shape)


def pad_for_backbone(backbone: nn.Module, cond: torch.Tensor,
                     mel_shape: torch.Size) -> tuple[torch.Tensor, tuple[int, ...]]:
    """The conditioning padded to the backbone's `frame_multiple`, and the shape of the sample x."""
    frames = mel_shape[-1]
    pad = -frames % backbone.frame_multiple
    cond = F.pad(cond, (0, pad) + (0, 0) * (cond.dim() - 3), mode="replicate") if pad else cond
    shape = (mel_shape[0], *mel_shape[1:-1], frames + pad)
    if cond.dim() == 4:
        shape = (shape[0], 1, *shape[1:])
    return cond, shape


def sampling_loop(backbone: nn.Module, sampler: Sampler, x: torch.Tensor, cond: torch.Tensor,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """x_T -> x_0 over the sampler's timesteps (`set_timesteps` first). Fixed shapes, no host syncs and no
    data-dependent control flow, so it can be captured in one CUDA graph.

    A sampler with several chains (`branches`, e.g. midway-infilling's sampling and infilling branches)
    keeps them stacked on the batch axis of `x`: each step is one denoiser call on all of them, with the
    conditioning repeated per chain."""
    if sampler.branches > 1:
        cond = cond.repeat(sampler.branches, *([1] * (cond.dim() - 1)))
    for i, t in enumerate(sampler.timestep_list):
        with stage("sampler_step"):
            noise = backbone(x, sampler.timesteps[i].expand(x.shape[0]), cond)
            x, _ = sampler.step(noise, t, x, generator)
    return sampler.final_sample(x)


def crop_to_mel(x: torch.Tensor, mel_shape: torch.Size) -> torch.Tensor:
    """The sample x back to [B, M, N]: the image channel dropped, the padding frames cut."""
    x = x[:, 0] if x.dim() == 4 else x
    return x[..., : mel_shape[-1]]

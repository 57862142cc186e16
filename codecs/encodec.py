"""EnCodec (Meta), the 24 kHz causal model `facebook/encodec_24khz`, through transformers' `EncodecModel`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codecbench.codecs.transformers_rvq import TransformersRVQCodec

if TYPE_CHECKING:
    import torch
    from transformers import EncodecConfig

HOP_LENGTH = 320  # 8 x 5 x 4 x 2


def published_config() -> "EncodecConfig":
    """The hyper-parameters of `facebook/encodec_24khz` (its config.json), written out so the real
    architecture can be built offline; real use loads the checkpoint's own config."""
    from transformers import EncodecConfig

    return EncodecConfig(
        sampling_rate=24000, audio_channels=1, normalize=False, chunk_length_s=None, overlap=None,
        target_bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0], hidden_size=128, num_filters=32, num_residual_layers=1,
        upsampling_ratios=[8, 5, 4, 2], norm_type="weight_norm", kernel_size=7, last_kernel_size=7,
        residual_kernel_size=3, dilation_growth_rate=2, use_causal_conv=True, pad_mode="reflect", compress=2,
        num_lstm_layers=2, trim_right_ratio=1.0, codebook_size=1024, codebook_dim=128, use_conv_shortcut=True,
    )


class EncodecCodec(TransformersRVQCodec):
    """EnCodec 24 kHz at 1.5, 3, 6, 12 or 24 kbps (the runner resamples 16 -> 24 -> 16 kHz with soxr).

    Frames of 320 samples (75 frames/s), 1024-entry codebooks (10 bits): 1.5 kbps = 2 codebooks x
    10 bits x 75 frames/s, 3 = 4, 6 = 8, 12 = 16, 24 = 32 codebooks. The model is causal (causal
    convolutions, unidirectional LSTM, no normalisation), so utterances of any lengths batch together
    and the algorithmic delay is one frame, 13.3 ms.

    Args:
        kbps: 1.5, 3, 6, 12 or 24.
        weights: a local checkpoint directory (`config.json`, `model.safetensors`).
        model: a built `EncodecModel` (see `TransformersRVQCodec`).
    """

    name = "encodec"
    sample_rate = 24000
    operating_points = (1.5, 3.0, 6.0, 12.0, 24.0)
    default_point = 6.0
    causal = True
    algorithmic_delay_ms = 1000.0 * HOP_LENGTH / 24000
    repo_id = "facebook/encodec_24khz"
    weights_env = "CODECBENCH_ENCODEC_DIR"
    model_class = "EncodecModel"

    def __init__(self, kbps: float | None = None, weights: str | None = None, model: Any = None) -> None:
        super().__init__(kbps, weights, model)
        config = self.model.config
        if config.normalize or config.chunk_length_s is not None or not config.use_causal_conv:
            raise ValueError("the encodec adapter needs the causal 24 kHz model (no normalisation, no chunks)")

    def _max_codebooks(self, config: Any) -> int:
        return int(config.num_quantizers)

    def _encode_codes(self, batch: "torch.Tensor") -> "torch.Tensor":
        return self.model.encode(batch, bandwidth=float(self.kbps)).audio_codes[0]

    def _decode_codes(self, codes: "torch.Tensor") -> "torch.Tensor":
        return self.model.decode(codes[None], [None]).audio_values[:, 0]

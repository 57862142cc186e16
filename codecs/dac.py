"""DAC (Descript Audio Codec), the 16 kHz model `descript/dac_16khz`, through transformers' `DacModel`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from codecbench.codecs.transformers_rvq import TransformersRVQCodec

if TYPE_CHECKING:
    import torch
    from transformers import DacConfig


def published_config() -> "DacConfig":
    """The hyper-parameters of `descript/dac_16khz` (descript-audio-codec's conf/final/16khz.yml, as
    converted to transformers), written out so the real architecture can be built offline; real use
    loads the checkpoint's own config."""
    from transformers import DacConfig

    return DacConfig(sampling_rate=16000, encoder_hidden_size=64, downsampling_ratios=[2, 4, 5, 8],
                     decoder_hidden_size=1536, n_codebooks=12, codebook_size=1024, codebook_dim=8)


def lookahead_samples(model: Any) -> int:
    """How many future input samples an output sample depends on: the receptive field's right half, summed
    over the encoder's then the decoder's convolutions (DAC pads every convolution symmetrically)."""
    import torch.nn as nn

    future, jump = 0.0, 1.0  # jump: input samples per sample at the current layer's rate
    for module in [*model.encoder.modules(), *model.decoder.modules()]:
        if isinstance(module, nn.ConvTranspose1d):
            future += module.padding[0] / module.stride[0] * jump
            jump /= module.stride[0]
        elif isinstance(module, nn.Conv1d):
            future += ((module.kernel_size[0] - 1) * module.dilation[0] - module.padding[0]) * jump
            jump *= module.stride[0]
    return math.ceil(future)


class DacCodec(TransformersRVQCodec):
    """DAC 16 kHz with 1-12 codebooks: 0.5-6 kbps.

    Frames of 320 samples (2 x 4 x 5 x 8; 50 frames/s), 1024-entry codebooks (10 bits): each codebook
    adds 10 bits x 50 frames/s = 0.5 kbps, so 12 codebooks = 6 kbps and N codebooks = N / 2 kbps (the
    model was trained with quantizer dropout, so fewer codebooks are valid operating points). The model
    is not causal: every convolution is centred, so its algorithmic delay is a frame plus the
    receptive field's look-ahead (`lookahead_samples`, about 0.37 s), and only utterances with equal
    frame counts batch together.

    Args:
        kbps: 0.5, 1, ..., 6.
        weights: a local checkpoint directory (`config.json`, `model.safetensors`).
        model: a built `DacModel` (see `TransformersRVQCodec`).
    """

    name = "dac"
    sample_rate = 16000
    operating_points = tuple(n / 2 for n in range(1, 13))
    default_point = 6.0
    causal = False
    repo_id = "descript/dac_16khz"
    weights_env = "CODECBENCH_DAC_DIR"
    model_class = "DacModel"

    @property
    def algorithmic_delay_ms(self) -> float:  # type: ignore[override]
        return 1000.0 * (self.hop_length + lookahead_samples(self.model)) / self.sample_rate

    def _max_codebooks(self, config: Any) -> int:
        return int(config.n_codebooks)

    def _encode_codes(self, batch: "torch.Tensor") -> "torch.Tensor":
        return self.model.encode(batch, n_quantizers=self.num_codebooks).audio_codes

    def _decode_codes(self, codes: "torch.Tensor") -> "torch.Tensor":
        return self.model.decode(audio_codes=codes).audio_values

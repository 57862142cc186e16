"""SEANet encoder/decoder pairs (EnCodec's convolutional autoencoder) built from `transformers`' Encodec modules.

The `encodec` package imports torchaudio, which does not load beside current torch; `transformers`'
`EncodecEncoder`/`EncodecDecoder` are the same architecture (Défossez et al. 2022, "High Fidelity Neural
Audio Compression", Sec. 3.1): a convolution, per stride a residual block and a strided convolution
(channels doubling), an LSTM, and a final convolution to `hidden_size`; the decoder mirrors it with
transposed convolutions. Here they are configured for 16 kHz speech.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SEANetConfig:
    """Args:
        num_filters: channels of the first convolution (doubled by every stride).
        hidden_size: channels of the latent sequence.
        ratios: the decoder's upsampling strides, as EnCodec lists them (the encoder uses them reversed);
            their product is the hop in samples.
        num_lstm_layers: LSTM layers at the latent rate (0: none, as in the stride-8 autoencoder, where an
            LSTM over 2000 steps/s would dominate the cost).
        num_residual_layers: residual blocks per stride.
        causal: causal convolutions (EnCodec's streaming mode) or centred ones.
    """

    num_filters: int = 16
    hidden_size: int = 64
    ratios: tuple[int, ...] = (8, 5, 4, 2)
    num_lstm_layers: int = 2
    num_residual_layers: int = 1
    causal: bool = False

    @property
    def hop_length(self) -> int:
        hop = 1
        for ratio in self.ratios:
            hop *= ratio
        return hop

    def to_dict(self) -> dict:
        return asdict(self)


def build_seanet(config: SEANetConfig, sample_rate: int = 16000) -> tuple[nn.Module, nn.Module]:
    """(encoder, decoder): waveform [B, 1, T] -> latent [B, hidden_size, T / hop] -> waveform [B, 1, T].

    T must be a multiple of the hop for exact lengths.
    """
    from transformers import EncodecConfig
    from transformers.models.encodec.modeling_encodec import EncodecDecoder, EncodecEncoder, EncodecLSTM

    hf_config = EncodecConfig(sampling_rate=sample_rate, upsampling_ratios=list(config.ratios),
                              num_filters=config.num_filters, hidden_size=config.hidden_size,
                              codebook_dim=config.hidden_size, num_lstm_layers=max(1, config.num_lstm_layers),
                              num_residual_layers=config.num_residual_layers, use_causal_conv=config.causal)
    encoder, decoder = EncodecEncoder(hf_config), EncodecDecoder(hf_config)
    for network in (encoder, decoder):
        if config.num_lstm_layers == 0:
            for index, layer in enumerate(network.layers):
                if isinstance(layer, EncodecLSTM):
                    network.layers[index] = nn.Identity()
        signal_preserving_init(network)
    return encoder, decoder


@torch.no_grad()
def signal_preserving_init(network: nn.Module) -> None:
    """He-normal convolution weights and zero biases (convolutions and LSTMs).

    With PyTorch's default initialisation a speech-level input (RMS about 0.05) is swamped by the biases
    and shrinks by about 0.6 per convolution, so after the 320x stride stack the latent barely depends on
    the input and training sits for thousands of steps on a plateau that outputs the average spectrum
    (measured here on LibriSpeech); with this initialisation the signal reaches the latent.
    """
    for module in network.modules():
        if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
            weight = torch.empty_like(module.weight)
            nn.init.kaiming_normal_(weight, nonlinearity="linear")
            module.weight = weight  # through weight norm's right inverse where it is parametrised
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            for name, parameter in module.named_parameters():
                if name.startswith("bias"):
                    nn.init.zeros_(parameter)


def pad_to_hop(wav: torch.Tensor, hop: int) -> torch.Tensor:
    """Zero-pad the last axis to a multiple of `hop`."""
    return nn.functional.pad(wav, (0, -wav.shape[-1] % hop))


class DecoderVocoder(nn.Module):
    """An autoencoder's decoder in the vocoder slot of a `DiffusionCodec`: `module.decode(x)` -> waveform [B, T].

    Args:
        module: anything with `decode(x) -> waveform [B, T]` (a tokenizer's embedding decoder, a latent
            autoencoder's decoder).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """`generator` is accepted for the vocoder interface; decoders are deterministic."""
        return self.module.decode(x)

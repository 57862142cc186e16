"""GE2E speaker embeddings (Wan et al., ICASSP 2018) from the encoder Resemblyzer ships inside its wheel.

The `resemblyzer` package cannot be imported beside setuptools >= 81: its dependency `webrtcvad` 2.0.10
imports `pkg_resources`. So this module finds `resemblyzer/pretrained.pt` in the installed wheel without
importing the package, and runs the same network and the same inference as
`VoiceEncoder().embed_utterance(preprocess_wav(x))`: level raised to -30 dBFS (never lowered), silences
longer than ~0.2 s cut with the WebRTC VAD (pocketsphinx's port of it, as aggressive as Resemblyzer's
mode 3, 30 ms frames, smoothed over 8 and dilated by 6 frames), 40-band mel power spectra (25 ms windows
every 10 ms), 1.6 s partial utterances at 1.3 per second, each embedded by a 3-layer LSTM (256 units),
a linear layer, ReLU and L2 normalisation; the utterance embedding is the L2-normalised mean.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from codecbench.metrics.base import MetricError

SAMPLE_RATE = 16000
MEL_WINDOW, MEL_HOP, MEL_BANDS = 400, 160, 40  # 25 ms, 10 ms
PARTIAL_FRAMES = 160  # 1.6 s
PARTIALS_PER_S = 1.3
MIN_LAST_COVERAGE = 0.75  # a last partial less covered than this is dropped (when there are others)
HIDDEN = 256
LAYERS = 3
VAD_FRAME = 480  # 30 ms
VAD_SMOOTHING = 8  # frames in the moving average of the voice flags
VAD_MAX_SILENCE = 6  # frames of silence kept beside voiced ones
TARGET_DBFS = -30.0
INT16_MAX = 2**15 - 1


def weights_path() -> Path | None:
    """`pretrained.pt` inside the installed `resemblyzer` wheel, or None."""
    spec = importlib.util.find_spec("resemblyzer")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def _network():
    """The LSTM and the projection with Resemblyzer's weights, built once per process."""
    import torch

    path = weights_path()
    if path is None:
        raise MetricError("Resemblyzer's pretrained.pt not found: pip install 'codecbench[metrics]'")
    state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
    lstm = torch.nn.LSTM(MEL_BANDS, HIDDEN, LAYERS, batch_first=True)
    linear = torch.nn.Linear(HIDDEN, HIDDEN)
    lstm.load_state_dict({k.removeprefix("lstm."): v for k, v in state.items() if k.startswith("lstm.")})
    linear.load_state_dict({k.removeprefix("linear."): v for k, v in state.items() if k.startswith("linear.")})
    return lstm.eval(), linear.eval()


def normalise_volume(x: np.ndarray) -> np.ndarray:
    """`x` raised to TARGET_DBFS RMS; a louder signal is left as it is."""
    rms = np.sqrt(np.mean((x * INT16_MAX) ** 2))
    change = TARGET_DBFS - 20 * np.log10(rms / INT16_MAX)
    return x if change < 0 else x * 10 ** (change / 20)


def trim_long_silences(x: np.ndarray) -> np.ndarray:
    """`x` without its long silences (and cut to whole VAD frames)."""
    from pocketsphinx import Vad
    from scipy.ndimage import binary_dilation

    x = x[: len(x) - len(x) % VAD_FRAME]
    pcm = np.clip(np.round(x * INT16_MAX), -INT16_MAX - 1, INT16_MAX).astype(np.int16)
    vad = Vad(Vad.STRICT, SAMPLE_RATE, VAD_FRAME / SAMPLE_RATE)
    assert vad.frame_bytes == 2 * VAD_FRAME
    voiced = np.array([vad.is_speech(pcm[i:i + VAD_FRAME].tobytes()) for i in range(0, len(pcm), VAD_FRAME)], float)
    smoothed = np.convolve(voiced, np.ones(VAD_SMOOTHING), mode="full")[VAD_SMOOTHING // 2:][: len(voiced)]
    mask = binary_dilation(np.round(smoothed / VAD_SMOOTHING).astype(bool), np.ones(VAD_MAX_SILENCE + 1))
    return x[np.repeat(mask, VAD_FRAME)]


def partial_starts(n_samples: int) -> list[int]:
    """First mel frames of the 1.6 s partial utterances covering `n_samples`."""
    n_frames = int(np.ceil((n_samples + 1) / MEL_HOP))
    step = int(np.round(SAMPLE_RATE / PARTIALS_PER_S / MEL_HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    coverage = (n_samples - starts[-1] * MEL_HOP) / (PARTIAL_FRAMES * MEL_HOP)
    if coverage < MIN_LAST_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def speaker_embedding(x: np.ndarray) -> np.ndarray:
    """Unit-norm GE2E embedding [256] of the speech `x` [T] at 16 kHz.

    Raises:
        MetricError: the VAD finds no speech.
    """
    import librosa
    import torch

    from codecbench.metrics.torch_input import one_thread

    wav = trim_long_silences(normalise_volume(x.astype(np.float32)))
    if len(wav) == 0:
        raise MetricError("the WebRTC VAD finds no speech")
    starts = partial_starts(len(wav))
    wav = np.pad(wav, (0, max(0, (starts[-1] + PARTIAL_FRAMES) * MEL_HOP - len(wav))))
    mel = librosa.feature.melspectrogram(y=wav, sr=SAMPLE_RATE, n_fft=MEL_WINDOW, hop_length=MEL_HOP,
                                         n_mels=MEL_BANDS).astype(np.float32).T
    partials = torch.from_numpy(np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts]))
    lstm, linear = _network()
    with one_thread():
        _, (hidden, _) = lstm(partials)
        embeddings = torch.relu(linear(hidden[-1]))
        embeddings = embeddings / torch.norm(embeddings, dim=1, keepdim=True)
    mean = embeddings.mean(dim=0).numpy()
    return mean / np.linalg.norm(mean)

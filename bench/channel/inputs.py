"""Degraded input (before the encoder): additive noise at a given SNR (white, pink, or babble mixed from other
speakers of the same split) and reverberation by a simulated room at a given RT60.

Spelling on the command line: `clean`, `white@10dB`, `pink@5dB`, `babble@0dB`, `reverb@0.6s`. Every draw (noise,
the babble talkers and their offsets, the room geometry) comes from the run seed and the utterance id, so a
condition is the same signal for every codec and every rerun.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from codecbench.audio import load_audio
from codecbench.datasets import Utterance
from codecbench.rows import CLEAN
from codecbench.seeds import derive_seed

NOISES = ("white", "pink", "babble")
BABBLE_TALKERS = 4  # other speakers summed into one babble signal
ROOM_M = (6.0, 4.5, 3.0)  # the simulated room's size (a small office)


@dataclass(frozen=True)
class InputCondition:
    """One input condition.

    Args:
        name: the spelling the rows carry in `input`.
        kind: `clean`, a noise (`white`, `pink`, `babble`) or `reverb`.
        value: the SNR in dB (noises) or the RT60 in seconds (`reverb`).
    """

    name: str
    kind: str
    value: float = 0.0

    @property
    def is_clean(self) -> bool:
        return self.kind == CLEAN


def _number(text: str, unit: str, name: str) -> float:
    if not text.lower().endswith(unit.lower()):
        raise ValueError(f"input {name!r}: give the unit, e.g. {name.split('@')[0]}@10{unit}")
    try:
        return float(text[: -len(unit)])
    except ValueError:
        raise ValueError(f"input {name!r}: {text[: -len(unit)]!r} is not a number") from None


def parse_input(text: str) -> InputCondition:
    """Parse one input condition.

    Raises:
        ValueError: an unknown kind, an SNR without `dB`, an RT60 without `s` or outside (0, 5] s.
    """
    name = text.strip()
    if name == CLEAN:
        return InputCondition(CLEAN, CLEAN)
    kind, _, value = name.partition("@")
    if kind in NOISES and value:
        return InputCondition(name, kind, _number(value, "dB", name))
    if kind == "reverb" and value:
        rt60 = _number(value, "s", name)
        if not 0 < rt60 <= 5:
            raise ValueError(f"input {name!r}: the RT60 must be in (0, 5] seconds")
        return InputCondition(name, kind, rt60)
    raise ValueError(f"input {name!r}: expected clean, white@SNRdB, pink@SNRdB, babble@SNRdB or reverb@RT60s")


def parse_inputs(texts: Sequence[str]) -> list[InputCondition]:
    """Conditions from comma-separated lists; duplicates dropped."""
    names = [item.strip() for text in texts for item in text.split(",") if item.strip()]
    return [parse_input(n) for n in dict.fromkeys(names)]


def _rng(run_seed: int, utterance: str, condition: InputCondition) -> np.random.Generator:
    return np.random.default_rng(derive_seed(run_seed, utterance, "input", condition.name))


def pink_noise(count: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f power spectrum (white noise shaped in the frequency domain; DC removed)."""
    spectrum = np.fft.rfft(rng.standard_normal(count))
    frequencies = np.arange(spectrum.size, dtype=float)
    spectrum[1:] /= np.sqrt(frequencies[1:])
    spectrum[0] = 0
    return np.fft.irfft(spectrum, count)


def babble(count: int, sample_rate: int, talkers: Sequence[Utterance], rng: np.random.Generator) -> np.ndarray:
    """`BABBLE_TALKERS` utterances of other speakers, each at equal power, looped from a random offset and summed.

    Raises:
        ValueError: no other speaker to draw from.
    """
    if not talkers:
        raise ValueError("babble needs utterances of other speakers in the split")
    picked = rng.choice(len(talkers), size=min(BABBLE_TALKERS, len(talkers)), replace=False)
    mixture = np.zeros(count)
    for index in picked:
        voice = load_audio(talkers[index].path, sample_rate).samples.astype(float)
        voice = np.roll(np.resize(voice, count), -int(rng.integers(len(voice))))
        mixture += voice / (np.sqrt(np.mean(voice**2)) + 1e-12)
    return mixture


def room_impulse_response(rt60: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """The impulse response of a shoebox room (`ROOM_M`) with the given RT60 (Sabine), talker and microphone at
    random positions at least 1 m apart, by pyroomacoustics' image source method; starts at the direct path."""
    import pyroomacoustics as pra

    absorption, max_order = pra.inverse_sabine(rt60, ROOM_M)
    room = pra.ShoeBox(ROOM_M, fs=sample_rate, materials=pra.Material(absorption), max_order=max_order)
    size = np.array(ROOM_M)
    while True:
        source, mic = rng.uniform(0.5, size - 0.5), rng.uniform(0.5, size - 0.5)
        if np.linalg.norm(source - mic) >= 1.0:
            break
    room.add_source(source)
    room.add_microphone(mic)
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=float)
    return rir[int(np.argmax(np.abs(rir))):]


def degrade(condition: InputCondition, clean: np.ndarray, sample_rate: int, run_seed: int, utterance: str,
            talkers: Sequence[Utterance] = ()) -> np.ndarray:
    """The clean signal under `condition` (float32, same length). Noise is scaled to the SNR over the whole
    utterance (mean powers); a reverberant signal is scaled back to the clean one's RMS.

    Args:
        talkers: utterances of other speakers of the split (babble).
    """
    if condition.is_clean:
        return clean
    rng = _rng(run_seed, utterance, condition)
    x = clean.astype(float)
    power = np.mean(x**2) + 1e-12
    if condition.kind == "reverb":
        wet = fftconvolve(x, room_impulse_response(condition.value, sample_rate, rng))[: len(x)]
        y = wet * np.sqrt(power / (np.mean(wet**2) + 1e-12))
    else:
        if condition.kind == "white":
            noise = rng.standard_normal(len(x))
        elif condition.kind == "pink":
            noise = pink_noise(len(x), rng)
        else:
            noise = babble(len(x), sample_rate, talkers, rng)
        noise *= np.sqrt(power / (np.mean(noise**2) + 1e-12) / 10 ** (condition.value / 10))
        y = x + noise
    peak = np.max(np.abs(y))
    return (y / peak * 0.99 if peak > 0.99 else y).astype(np.float32)  # no clipping in the codec's int16 input


class Degradation:
    """An input condition for one utterance of a run (`pipeline.Source`): what the talker becomes before the
    encoder.

    Args:
        condition: the condition (a clean one returns the talker itself).
        run_seed: the run seed.
        utterance: the utterance id.
        talkers: utterances of other speakers of the split (babble).
    """

    def __init__(self, condition: InputCondition, run_seed: int, utterance: str,
                 talkers: Sequence[Utterance] = ()) -> None:
        self.condition, self.run_seed, self.utterance, self.talkers = condition, run_seed, utterance, talkers
        self.name = condition.name

    def degrade(self, clean: np.ndarray, sample_rate: int) -> np.ndarray:
        """`degrade` of this utterance under the condition."""
        return degrade(self.condition, clean, sample_rate, self.run_seed, self.utterance, self.talkers)


"""Regenerate the trapping-trial instructions (run once; the FLAC files are shipped): espeak-ng 1.51 speaks each
sentence at 22.05 kHz, silence at either end is trimmed, and soxr resamples it to 48, 24 and 16 kHz (16-bit FLAC).

    python listening_test/data/traps/generate.py      # needs `apt-get install espeak-ng`, soundfile, soxr
"""

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SENTENCES = {0: "This is an attention check. Please rate this one zero.",
             100: "This is an attention check. Please rate this one one hundred."}
RATES = (48000, 24000, 16000)
VOICE, WORDS_PER_MINUTE = "en-us", 160


def speak(text: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-w", str(wav), text], check=True)
        x, rate = sf.read(str(wav), dtype="float64")
    loud = np.flatnonzero(np.abs(x) > 10 ** (-50 / 20) * np.abs(x).max())
    return x[max(0, loud[0] - rate // 100): loud[-1] + rate // 20], rate


if __name__ == "__main__":
    here = Path(__file__).parent
    for expected, text in SENTENCES.items():
        x, rate = speak(text)
        for target in RATES:
            sf.write(str(here / f"trap{expected}_{target // 1000}k.flac"), soxr.resample(x, rate, target, "VHQ"),
                     target, subtype="PCM_16")

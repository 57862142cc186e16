"""ViSQOL audio mode sees what speech mode cannot: the Stahl et al. 2024 codec at full band (24 kHz stimuli) vs
the same codec limited to 16 kHz sampling (content up to 8 kHz), scored as file pairs at the reference's rate."""

from __future__ import annotations

import pytest

from codecbench.metrics import metric_availability
from codecbench.pairs import Pair, PairPlan, score_pair
from codecbench.ratings.stahl import STAHL2024

AUDIO = STAHL2024.embedded / "audio"


@pytest.mark.parametrize("stim", ["stim_01", "stim_02"])
def test_audio_mode_separates_fullband_from_wideband_where_speech_mode_does_not(stim):
    metrics = ("visqol_audio", "visqol")
    for name in metrics:
        if not metric_availability(name).available:
            pytest.skip(f"{name}: {metric_availability(name).reason}")
    plan = PairPlan(metrics, metrics, 0.25, "none")
    full, wide = (score_pair(Pair(stim, c, AUDIO / stim / "ref.flac", AUDIO / stim / f"{c}.flac"), plan)
                  for c in ("prop_55", "prop_55_16k"))
    assert full.extra["metric_rates"].startswith("visqol_audio 48000 Hz (upsampled from 24000")
    assert full.metrics["visqol_audio"] - wide.metrics["visqol_audio"] > 0.3  # measured 0.66 and 0.45
    assert abs(full.metrics["visqol"] - wide.metrics["visqol"]) < 0.1  # measured 0.023 and 0.002

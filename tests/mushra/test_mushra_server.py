"""The served app under load: simulated listeners over HTTP, the server SIGKILLed mid-session and restarted."""

from __future__ import annotations

from codecbench.benchmarks.mushra_load import load_test

LISTENERS = 12
TRIALS = 3  # the training and two test trials each


def test_listeners_survive_a_kill_9_mid_session(mushra_test_dir, tmp_path):
    result = load_test(mushra_test_dir, tmp_path, listeners=LISTENERS, trials=TRIALS, kill_at=0.3)
    print("\n" + result.summary())
    assert (result.lost, result.duplicated, result.integrity) == (0, 0, "ok")
    assert result.killed and result.acknowledged_at_kill >= 0.3 * LISTENERS * TRIALS
    assert result.trials >= LISTENERS * TRIALS and result.ratings == 5 * result.trials

"""The metric suite inside `run`: reference-side DNSMOS columns, unavailable metrics, model-based adapters."""

import json

import numpy as np
import pytest

from codecbench.metrics import evaluate, metric_availability
from codecbench.runner import run_benchmark


@pytest.fixture(scope="module")
def dnsmos_run(tmp_path_factory, short_selection):
    out = tmp_path_factory.mktemp("dnsmos_run")
    return run_benchmark(short_selection, ["reference", "opus@6"], ["dnsmos", "si_sdr", "speaker_sim_wavlm"], out,
                         workers=1, progress=False)


def test_reference_dnsmos_is_one_value_per_utterance(dnsmos_run):
    rows = dnsmos_run.rows
    for column in ("dnsmos_ovrl", "ref_dnsmos_ovrl", "ref_dnsmos_p808", "si_sdr", "speaker_sim_wavlm"):
        assert column in rows.columns and column in dnsmos_run.metric_columns
    per_utterance = rows.groupby("utterance")["ref_dnsmos_ovrl"].nunique()
    assert (per_utterance == 1).all()
    identity = rows[rows["spec"] == "reference"]
    np.testing.assert_allclose(identity["dnsmos_ovrl"], identity["ref_dnsmos_ovrl"], atol=1e-3)  # 16-bit PCM
    assert rows["ref_dnsmos_ovrl"].between(2, 4.5).all()
    assert "ref_dnsmos_ovrl_mean" in dnsmos_run.summary.columns


def test_unavailable_metric_is_nan_with_its_reason(dnsmos_run):
    if metric_availability("speaker_sim_wavlm").available:
        pytest.skip("WavLM-SV weights are installed here")
    rows = dnsmos_run.rows
    assert rows["speaker_sim_wavlm"].isna().all()
    assert rows["error"].str.contains("speaker_sim_wavlm: unavailable: weights not found").all()
    assert rows["si_sdr"].notna().all() and rows["dnsmos_ovrl"].notna().all()
    run = json.loads((dnsmos_run.out / "run.json").read_text())
    assert "weights not found" in run["unavailable_metrics"]["speaker_sim_wavlm"]


def test_speaker_similarity_loads_a_local_checkpoint(tmp_path, speech, monkeypatch):
    """The adapter's real loading path (env var -> from_pretrained -> x-vector) on a small WavLM-SV
    checkpoint with random weights written here: identical speech gives cosine 1, other speech less."""
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForXVector

    from codecbench.metrics import wavlm_sv
    from codecbench.metrics.evaluate import metric_instance

    config = WavLMConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(32, 32), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                         num_conv_pos_embedding_groups=2, tdnn_dim=(32, 32), tdnn_kernel=(3, 1),
                         tdnn_dilation=(1, 1), xvector_output_dim=16, num_buckets=32, max_bucket_distance=64)
    WavLMForXVector(config).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(tmp_path)
    monkeypatch.setenv(wavlm_sv.WEIGHTS_ENV, str(tmp_path))
    for cache in (metric_availability, wavlm_sv._model):
        cache.cache_clear()
    try:
        assert metric_availability("speaker_sim_wavlm").available
        same = evaluate(["speaker_sim_wavlm"], speech, speech, 16000)
        other = evaluate(["speaker_sim_wavlm"], speech, np.roll(speech, 8000) * 0.5 + speech[::-1] * 0.5, 16000)
        assert same.errors == {} and same.values["speaker_sim_wavlm"] == pytest.approx(1.0, abs=1e-5)
        assert other.values["speaker_sim_wavlm"] < same.values["speaker_sim_wavlm"]
        assert len(metric_instance("speaker_sim_wavlm")._reference_embeddings._entries) == 1  # one reference, once
    finally:
        for cache in (metric_availability, wavlm_sv._model):
            cache.cache_clear()


def test_metrics_command_lists_every_metric_with_availability(capsys):
    from codecbench.cli import main
    from codecbench.metrics import metric_names

    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    for name in metric_names():
        assert name in out
    assert "dnsmos_ovrl" in out and "(+ref_*)" in out and "meaningless for generative decoders" in out
    if not metric_availability("dwer_whisper").available:
        assert "dwer_whisper: " in out and "unavailable: weights not found" in out


def test_metric_workers_survive_torch_threads_in_the_parent():
    """A neural codec runs torch (OpenMP, several threads) in the runner's process; a worker forked from
    it hangs in its first multi-threaded torch op (checked here: it does with the "fork" context)."""
    import subprocess
    import sys

    script = """
import torch
torch.set_num_threads(2)
torch.randn(600, 600) @ torch.randn(600, 600)  # an OpenMP parallel region in the parent
from codecbench.engines.local import metric_pool
a = torch.randn(400, 400)
with metric_pool(2) as pool:
    futures = [pool.submit(torch.mm, a, a) for _ in range(2)]
    assert all(f.result(timeout=120).shape == (400, 400) for f in futures)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-2000:]

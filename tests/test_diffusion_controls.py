"""`diffusion=off`: every diffusion codec's own control decodes the same transmitted bytes with the same decoder,
the denoiser bypassed; it differs from the diffusion output and is deterministic."""

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from codecbench.codecs import load_codec, parse_spec  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

# fast settings of each diffusion codec (the control ignores them: it never runs the sampler)
DIFFUSION_SPECS = ["mel2mel@1.5:steps=2", "melvq-ddpm:steps=2", "latent2mel@1.5:tau=2", "ladiffcodec@1.5:tau=2"]


@pytest.fixture(scope="module")
def clip(speech):
    return speech[:16000]


@pytest.mark.parametrize("spec", DIFFUSION_SPECS)
def test_control_decodes_the_same_bytes_without_the_denoiser(spec, clip):
    codec, control = load_codec(spec), load_codec(spec + ",diffusion=off")
    encoded = codec.encode(clip)
    assert control.encode(clip).packets == encoded.packets  # the same bits, so the same measured kbps
    codec.reseed(3)
    control.reseed(3)
    diffused, plain = codec.decode(encoded), control.decode(encoded)
    assert codec.decode_info()["denoiser_calls"] > 0 and control.decode_info() == {"denoiser_calls": 0.0}
    assert plain.shape == clip.shape and np.isfinite(plain).all() and np.abs(plain).max() > 1e-3
    assert not np.allclose(plain, diffused, atol=1e-4)
    control.reseed(3)
    assert np.array_equal(plain, control.decode(encoded))
    control.reseed(4)  # Griffin-Lim's initial phase is the only noise a control draws
    draws_noise = spec.startswith("melvq-ddpm")
    assert np.array_equal(plain, control.decode(encoded)) != draws_noise
    assert type(control).stochastic_for(parse_spec(spec + ",diffusion=off")) == draws_noise
    assert control.provenance()["diffusion"] == "off" and codec.provenance()["diffusion"] == "on"


def test_control_of_a_residual_diffusion_is_the_dequantized_mel_through_the_vocoder(clip):
    """mel2mel samples the residual over the dequantized mel: its control is a zero residual, i.e. the vocoder
    on the dequantized mel (what gan-mel does with its own vocoder)."""
    control = load_codec("mel2mel@1.5:diffusion=off")
    model = control.model
    codes = model.encode(torch.from_numpy(clip))
    with torch.inference_mode():
        mel = model.quantizer.dequantize(codes.indices[None]).mel
    with torch.inference_mode():
        expected = model.vocoder(model.representation.denormalize(mel))[0, : len(clip)]
    assert np.allclose(control.decode(control.encode(clip)), expected.numpy(), atol=1e-5)


@pytest.mark.parametrize("spec", ["mel2wave@1.5:diffusion=off", "latent2wave@1.5:diffusion=off",
                                  "mel2mel@1.5:diffusion=maybe"])
def test_control_is_refused_where_it_has_no_meaning(spec):
    with pytest.raises(ValueError, match="diffusion"):
        load_codec(spec)


def test_codecs_without_diffusion_have_no_control_option():
    with pytest.raises(ValueError, match="no option"):
        load_codec("gan-mel@1.5:diffusion=off")


def test_run_and_report_put_each_diffusion_spec_beside_its_control(tmp_path, short_selection):
    from codecbench.datasets import Selection
    from codecbench.report import build_report
    from codecbench.runner import run_benchmark

    selection = Selection(short_selection.dataset, short_selection.root, short_selection.split,
                          short_selection.utterances[:3])
    specs = ["mel2mel@1.5:sampler=ddim,seeds=2,steps=2", "mel2mel@1.5:diffusion=off", "melvq-ddpm:steps=2"]
    rows = run_benchmark(selection, specs, ["stoi"], tmp_path / "run", progress=False).rows
    spec_of = {s: rows[rows["spec"] == s] for s in rows["spec"].unique()}
    with_, off = spec_of["mel2mel@1.5:sampler=ddim,seeds=2,steps=2"], spec_of["mel2mel@1.5:diffusion=off"]
    np.testing.assert_array_equal(with_["measured_kbps"].to_numpy(), off["measured_kbps"].to_numpy())
    assert (off["denoiser_calls"] == 0).all() and (with_["denoiser_calls"] == 2).all()

    result = build_report(tmp_path / "run", formats=("md",), command=["codecbench", "report"])
    table = pd.read_csv(result.out / "diffusion_controls.csv", keep_default_na=False, na_values=[""])
    assert list(table["spec"]) == ["melvq-ddpm:steps=2", "mel2mel@1.5:sampler=ddim,seeds=2,steps=2"]  # by point
    assert list(table["design_point"]) == ["mel → mel (2-D VQ seed)", "mel → mel (residual over the dequantized mel)"]
    assert table.loc[0, "note"] == "control not in this run" and np.isnan(table.loc[0, "mean_diff"])
    assert table.loc[0, "mean"] == pytest.approx(spec_of["melvq-ddpm:steps=2"]["stoi"].mean())
    row = table.iloc[1]
    assert row["n_seeds"] == 2 and row["denoiser_calls"] == 2 and np.isnan(row["control_seed_std"])
    assert row["measured_kbps"] == pytest.approx(with_["measured_kbps"].mean())
    assert row["control"] == "mel2mel@1.5:diffusion=off" and row["n_pairs"] == 3
    expected = with_.set_index("utterance")["stoi"] - off.set_index("utterance")["stoi"]
    assert row["mean_diff"] == pytest.approx(expected.mean())
    assert row["diff_ci95_low"] < row["mean_diff"] < row["diff_ci95_high"]
    assert row["seed_std"] == pytest.approx(with_["stoi_seed_std"].mean())
    report = (result.out / "report.md").read_text()
    assert "The diffusion design space, each point beside its diffusion=off control" in report
    assert "without a `diffusion=off` control in this run (no paired comparison): `melvq-ddpm:steps=2`." in report
    assert "Add e.g. `melvq-ddpm:diffusion=off` to the run." in report
    assert "decoded with one seed" in report and result.document is not None
    assert "by default, `--decode-seeds` or `seeds=K` sets it): `melvq-ddpm:steps=2`." in report


def test_a_control_pairs_across_sampler_options_and_the_default_point():
    from codecbench.report.controls import control_pairs

    pairs, missing = control_pairs(["melvq-ddpm", "melvq-ddpm@1.5:diffusion=off", "ladiffcodec@1.5:sampler=ddim",
                                    "ladiffcodec@3", "ladiffcodec@1.5:diffusion=off", "opus@6", "gan-mel@1.5"])
    assert pairs == [("melvq-ddpm", "melvq-ddpm@1.5:diffusion=off"),
                     ("ladiffcodec@1.5:sampler=ddim", "ladiffcodec@1.5:diffusion=off")]
    assert missing == ["ladiffcodec@3"]
    # the waveform points have no control to miss; a diffusion spec with seeds pairs with a control decoded once
    assert control_pairs(["mel2wave@1.5", "mel2mel@1.5:seeds=3", "mel2mel@1.5:diffusion=off"]) == (
        [("mel2mel@1.5:seeds=3", "mel2mel@1.5:diffusion=off")], [])
    sweep = ["mel2mel@1.5:diffusion=on,steps=4", "mel2mel@1.5:diffusion=off,steps=4",
             "mel2mel@1.5:diffusion=on,steps=20", "mel2mel@1.5:diffusion=off,steps=20"]  # a sweep's grid
    assert control_pairs(sweep)[0] == [(sweep[0], sweep[1]), (sweep[2], sweep[3])]


def test_decode_seeds_adds_seeds_to_stochastic_specs_only():
    from codecbench.codecs.registry import DEFAULT_DECODE_SEEDS, with_decode_seeds

    specs = [parse_spec(s) for s in ("mel2mel@1.5:steps=2", "ladiffcodec@1.5:seeds=5", "opus@6", "nosuchcodec",
                                     "mel2mel@1.5:diffusion=off", "melvq-ddpm:diffusion=off", "gan-mel@1.5",
                                     "encodec16@1.5")]
    assert [str(s) for s in with_decode_seeds(specs)] == [  # the default; deterministic decoders are left alone
        f"mel2mel@1.5:seeds={DEFAULT_DECODE_SEEDS},steps=2", "ladiffcodec@1.5:seeds=5", "opus@6", "nosuchcodec",
        "mel2mel@1.5:diffusion=off", f"melvq-ddpm:diffusion=off,seeds={DEFAULT_DECODE_SEEDS}", "gan-mel@1.5",
        "encodec16@1.5"]
    assert DEFAULT_DECODE_SEEDS > 1
    assert with_decode_seeds(specs, 1) == specs
    with pytest.raises(ValueError, match="at least 1"):
        with_decode_seeds(specs, 0)


def test_a_run_decodes_stochastic_specs_with_the_default_seeds_and_a_deterministic_one_once(tmp_path,
                                                                                              librispeech_root):
    from codecbench.cli import main
    from codecbench.codecs.registry import DEFAULT_DECODE_SEEDS

    out = tmp_path / "run"
    assert main(["run", "--root", str(librispeech_root), "--split", "sample", "--limit", "1", "--workers", "1",
                 "--threads", "1", "--metrics", "stoi", "--codecs",
                 "mel2mel@1.5:steps=1,mel2mel@1.5:diffusion=off,seeds=2,opus@6", "--out", str(out),
                 "--no-progress"]) == 0
    rows = pd.read_csv(out / "utterances.csv").set_index("spec")
    spec = f"mel2mel@1.5:seeds={DEFAULT_DECODE_SEEDS},steps=1"
    assert rows.loc[spec, "n_seeds"] == DEFAULT_DECODE_SEEDS and np.isfinite(rows.loc[spec, "stoi_seed_std"])
    assert np.isnan(rows.loc["mel2mel@1.5:diffusion=off,seeds=2", "n_seeds"])  # deterministic: decoded once
    assert np.isnan(rows.loc["opus@6", "n_seeds"])


def test_resuming_a_run_keeps_its_own_seeds(tmp_path, librispeech_root):
    from codecbench.cli import main

    out = tmp_path / "run"
    common = ["run", "--root", str(librispeech_root), "--split", "sample", "--limit", "1", "--workers", "1",
              "--threads", "1", "--metrics", "stoi", "--out", str(out), "--no-progress"]
    assert main([*common, "--codecs", "mel2mel@1.5:steps=1", "--decode-seeds", "1"]) == 0
    assert main([*common, "--resume"]) == 0  # the default seeds apply to new specs, not to a run's own
    assert pd.read_csv(out / "utterances.csv")["spec"].tolist() == ["mel2mel@1.5:steps=1"]


def test_the_papers_variance_beta_differs_from_the_posterior_only_in_the_noise_scale():
    from codecbench.codecs.diffusion.samplers import DDPMSampler

    x, output = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(0)), torch.zeros(2, 4, 8)
    steps = {}
    for variance in ("posterior", "beta"):
        sampler = DDPMSampler(prediction_type="v_prediction", variance=variance)
        sampler.set_timesteps(10)
        steps[variance] = [sampler.step(output, t, x, torch.Generator().manual_seed(1))[0]
                           for t in sampler.timestep_list]
    sampler.set_timesteps(10)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    abar_t, abar_prev = sampler._coefficients(sampler.timestep_list[0])
    beta = 1 - abar_t / abar_prev
    expected = (beta.sqrt() - ((1 - abar_prev) / (1 - abar_t) * beta).sqrt()) * noise
    assert torch.allclose(steps["beta"][0] - steps["posterior"][0], expected, atol=1e-5)
    assert torch.equal(steps["beta"][-1], steps["posterior"][-1])  # no noise at the last step (Alg. 2: z = 0)
    with pytest.raises(ValueError, match="variance"):
        DDPMSampler(variance="sigma")


@pytest.mark.parametrize("spec", ["mel2mel@1.5:diffusion=off", "melvq-ddpm:diffusion=off",
                                  "latent2mel@1.5:diffusion=off"])  # ladiffcodec's tokens take latent2mel's path
def test_quantize_off_sends_the_float16_latent_and_decodes_it(spec, clip):
    ceiling = load_codec(spec + ",quantize=off")
    encoded = ceiling.encode(clip)
    model = ceiling.model
    latent_values = int(np.prod(model.latent_shape(len(clip))))
    gain_bytes = 0 if model.gain is None else 1
    assert encoded.payload_bytes == gain_bytes + 2 * latent_values  # what transmitting it would cost
    assert encoded.payload_bytes > 10 * load_codec(spec).encode(clip).payload_bytes
    decoded = ceiling.decode(encoded)
    assert decoded.shape == clip.shape and np.isfinite(decoded).all() and np.abs(decoded).max() > 1e-3
    assert not np.allclose(decoded, load_codec(spec).decode(load_codec(spec).encode(clip)), atol=1e-4)
    assert ceiling.provenance()["quantize"] == "off"
    with pytest.raises(NotImplementedError, match="quantize=off"):
        ceiling.framing(encoded)
    with pytest.raises(ValueError, match="float16 latent"):
        model.from_bytes(b"".join(encoded.packets)[:-2], len(clip), quantized=False)


@pytest.mark.parametrize("spec", ["gan-mel@1.5:quantize=off", "encodec16@1.5:quantize=off"])
def test_quantize_off_is_an_option_of_the_diffusion_codecs_only(spec):
    with pytest.raises(ValueError, match="quantize"):
        load_codec(spec)


def test_the_branch_benchmark_runs_the_codecs_own_algorithm_1(clip):
    """benchmarks.midway_branches unrolls the codec's loop to look at the branches: same seed, same output."""
    from codecbench.benchmarks.midway_branches import trace
    from codecbench.metrics.stoi import stoi_score

    codec = load_codec("latent2mel@1.5:tau=3,gamma=0.3")
    codec.reseed(5)
    decoded = codec.decode(codec.encode(clip))
    traced = trace(codec, clip, 3, 0.3, "posterior", 5)
    assert traced.stoi == stoi_score(clip, decoded, 16000, extended=False)
    assert len(traced.gaps) == 3 and traced.gaps[-1] < traced.gaps[0]
    assert not trace(codec, clip, 3, 1.0, "posterior", 5).gaps.any()  # gamma = 1: the branches coincide


def test_a_sweep_over_diffusion_on_off_gives_seeds_to_the_diffusion_points_only(tmp_path, short_selection):
    from codecbench.datasets import Selection
    from codecbench.sweep import run_sweep

    selection = Selection(short_selection.dataset, short_selection.root, short_selection.split,
                          short_selection.utterances[:1])
    result = run_sweep(selection, "mel2mel@1.5:steps=1", {"diffusion": ["on", "off"]}, "stoi", tmp_path,
                       decode_seeds=2, workers=1, progress=False)
    assert result.table["spec"].tolist() == ["mel2mel@1.5:diffusion=on,seeds=2,steps=1",
                                             "mel2mel@1.5:diffusion=off,steps=1"]
    rows = result.run.rows.set_index("spec")
    assert rows.loc["mel2mel@1.5:diffusion=on,seeds=2,steps=1", "n_seeds"] == 2
    assert np.isnan(rows.loc["mel2mel@1.5:diffusion=off,steps=1", "n_seeds"])

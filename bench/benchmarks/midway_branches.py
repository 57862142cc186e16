"""Midway-infilling (LaDiffCodec's Algorithm 1) measured step by step: the gap between its two branches, the
quality it ends at against the codec's own control (`diffusion=off`: the condition h decoded), and its cost in
network evaluations, across tau, gamma and G's variance.

For each embedded-sample utterance (the first `--seconds` of each), the tokens are encoded once; then per
(tau, gamma, variance) Algorithm 1 runs with the codec's own backbone and seeded noise (`--seed`), recording after
every step the branch gap ||x_t - s_t|| / ||s_t|| (x: the sampling branch, s: the infilling branch); the final x
is decoded by the codec's decoder and scored by STOI against the input. Printed: one line per grid point with the
gap at the first, middle and last step (mean over utterances), the STOI of the output and of the control, and
2 tau network evaluations.

    python -m codecbench.benchmarks.midway_branches ladiffcodec@1.5 --taus 25,50,100,200 --gammas 0.3,1 \\
        --variances posterior,beta --utterances 2 --threads 1
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch

from codecbench.audio import load_audio
from codecbench.codecs import load_codec, parse_spec
from codecbench.codecs.diffusion.codec import crop_to_mel, pad_for_backbone
from codecbench.codecs.diffusion.samplers import MidwayInfillingSampler
from codecbench.datasets.librispeech import EMBEDDED_ROOT, SAMPLE_SPLIT
from codecbench.metrics.stoi import stoi_score


@dataclass(frozen=True)
class BranchTrace:
    """One Algorithm-1 decode: the relative branch gap after each step, and the STOI of its output."""

    gaps: np.ndarray
    stoi: float


def utterances(count: int, seconds: float) -> list[np.ndarray]:
    """The first `seconds` of the first `count` embedded-sample utterances of at least that length."""
    signals = []
    for path in sorted((EMBEDDED_ROOT / SAMPLE_SPLIT).rglob("*.flac")):
        samples = load_audio(path, 16000).samples
        if len(samples) >= seconds * 16000:
            signals.append(samples[: int(seconds * 16000)])
        if len(signals) == count:
            break
    return signals


@torch.inference_mode()
def trace(codec, signal: np.ndarray, tau: int, gamma: float, variance: str, seed: int) -> BranchTrace:
    """Algorithm 1 on one signal with the branch gap after every step (`codecbench.codecs.diffusion.codec`'s
    loop, unrolled to look at the state)."""
    model = codec.model
    encoded = codec.encode(signal)
    codes = model.from_bytes(b"".join(encoded.packets), encoded.num_samples)
    dequantized = model.quantizer.dequantize(codes.indices[None])
    training = model.sampler
    sampler = MidwayInfillingSampler(tau, gamma, training.num_train_timesteps, float(training.betas[0]),
                                     float(training.betas[-1]), training.prediction_type, variance)
    cond, shape = pad_for_backbone(model.backbone, dequantized.cond, dequantized.mel.shape)
    estimate = torch.nn.functional.pad(dequantized.mel, (0, shape[-1] - dequantized.mel.shape[-1]), mode="replicate")
    generator = torch.Generator().manual_seed(seed)
    sampler.set_timesteps(tau)
    state = sampler.initial_sample(shape, generator, cond.device, cond.dtype, estimate)
    cond = cond.repeat(2, *([1] * (cond.dim() - 1)))
    gaps = []
    for i, t in enumerate(sampler.timestep_list):
        output = model.backbone(state, sampler.timesteps[i].expand(state.shape[0]), cond)
        state, _ = sampler.step(output, t, state, generator)
        x, s = state.chunk(2)
        gaps.append(float((x - s).norm() / s.norm()))
    sample = crop_to_mel(sampler.final_sample(state), dequantized.mel.shape)
    wav = model.vocoder(model.representation.denormalize(sample))[0, : len(signal)].float().numpy()
    return BranchTrace(np.array(gaps), stoi_score(signal, wav, 16000, extended=False))


def control_stoi(spec: str, signals: list[np.ndarray]) -> float:
    """Mean STOI of the codec's `diffusion=off` control on the signals."""
    control = load_codec(str(parse_spec(spec)) + (",diffusion=off" if parse_spec(spec).options else ":diffusion=off"))
    return float(np.mean([stoi_score(x, control.decode(control.encode(x)), 16000, extended=False) for x in signals]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", nargs="?", default="ladiffcodec@1.5", help="a token diffusion codec spec")
    parser.add_argument("--taus", default="25,50,100,200", help="comma list of midway steps tau")
    parser.add_argument("--gammas", default="0.3,1", help="comma list of interpolation ratios gamma")
    parser.add_argument("--variances", default="posterior", help="comma list: posterior (beta~_t), beta (paper's G)")
    parser.add_argument("--utterances", type=int, default=2, help="embedded-sample utterances")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of each utterance")
    parser.add_argument("--seed", type=int, default=0, help="noise seed of every decode")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    signals = utterances(args.utterances, args.seconds)
    codec = load_codec(args.spec)
    print(f"{args.spec}: {len(signals)} embedded utterances x {args.seconds:g} s, seed {args.seed}, "
          f"{args.threads} thread(s); control (diffusion=off) STOI {control_stoi(args.spec, signals):.3f}")
    print("tau\tgamma\tvariance\tevaluations\tgap first\tgap mid\tgap last\tSTOI")
    for tau in (int(v) for v in args.taus.split(",")):
        for gamma in (float(v) for v in args.gammas.split(",")):
            for variance in args.variances.split(","):
                traces = [trace(codec, x, tau, gamma, variance, args.seed) for x in signals]
                gaps = np.mean([t.gaps for t in traces], axis=0)
                print(f"{tau}\t{gamma:g}\t{variance}\t{2 * tau}\t{gaps[0]:.3f}\t{gaps[len(gaps) // 2]:.3f}\t"
                      f"{gaps[-1]:.3f}\t{np.mean([t.stoi for t in traces]):.3f}", flush=True)


if __name__ == "__main__":
    main()

"""`codecbench train RECIPE`: train a diffusion codec's models (vocoder, mel2mel, gan-mel, melvq-ddpm, and the
LaDiffCodec / design-space recipes, waveform decoders included)."""

from __future__ import annotations

import argparse

RECIPE_NAMES = ("vocoder", "mel2mel", "gan-mel", "melvq-ddpm", "encodec16", "latent-ae", "ladiffcodec", "latent2mel",
                "mel2wave", "latent2wave")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train the models of a diffusion codec (resumable; exports fp16 safetensors)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("recipe", choices=RECIPE_NAMES, help="what to train")
    parser.add_argument("--root", default=None, help="LibriSpeech root (default: the usual lookup)")
    parser.add_argument("--split", default="train-clean-100", help="training split")
    parser.add_argument("--out", required=True, help="run directory (train.json, checkpoints/, *.safetensors)")
    parser.add_argument("--steps", type=int, default=10000, help="total optimisation steps")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (bf16 autocast on cuda)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    parser.add_argument("--preset", default="default", choices=["default", "tiny"],
                        help="model sizes: the shipped ones, or tiny ones for tests")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation, batches and noise")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--segment-frames", type=int, default=None, help="mel frames per segment (recipe default)")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (recipe default)")
    parser.add_argument("--val-speakers", type=int, default=6, help="speakers held back for validation")
    parser.add_argument("--val-every", type=int, default=500, help="steps between validations")
    parser.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints/last.pt")
    parser.add_argument("--log-every", type=int, default=50, help="steps between train.json history entries")
    parser.add_argument("--cache", default=None, help="waveform cache directory (default: the user cache)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--until", type=int, default=None,
                        help="stop after this step (the schedule still spans --steps); continue with --resume")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop (checkpointed and exported) after this much training time; continue with --resume")
    parser.add_argument("--adversarial-start", type=int, default=None,
                        help="vocoder, gan-mel: step at which the GAN losses switch on (default 0)")
    parser.add_argument("--quantizer-steps", type=int, default=None,
                        help="mel2mel: steps spent on the quantizer before the diffusion model (default steps/3)")
    parser.add_argument("--quantizer", default=None,
                        help="gan-mel: the mel-rvq.safetensors to decode; mel2mel: the quantizer to start from; "
                             "mel2wave: the frozen mel-rvq (default: the shipped one)")
    parser.add_argument("--init", default=None,
                        help="vocoder, gan-mel: generator safetensors to start from (gan-mel without it: from scratch)")
    parser.add_argument("--tokenizer", default=None,
                        help="ladiffcodec, latent2mel, latent2wave: the frozen encodec16.safetensors (default: shipped)")
    parser.add_argument("--autoencoder", default=None,
                        help="ladiffcodec: the frozen latent-ae.safetensors, any stride (default: the shipped one)")
    parser.add_argument("--codebooks", default=None,
                        help="ladiffcodec, latent2mel, mel2wave, latent2wave: the codebook counts trained for, e.g. 3 "
                             "(one model per bit rate, as LaDiffCodec) (default: every operating point)")
    parser.add_argument("--condition-scaling", default=None, choices=["token_frames", "upsampled_frames"],
                        help="ladiffcodec, latent2mel: scale each token frame to [-1, 1] before upsampling (default, "
                             "the shipped checkpoints) or each upsampled frame (LaDiffCodec Sec. 2.2)")
    parser.add_argument("--prediction-type", default=None, choices=["epsilon", "v_prediction"],
                        help="ladiffcodec, latent2mel, mel2wave, latent2wave: what the denoiser predicts (default: "
                             "v_prediction for the latent and mel models, epsilon for the waveform decoders)")
    parser.add_argument("--strides", default=None,
                        help="latent-ae: the autoencoder's strides as EnCodec lists them, e.g. 8 (default), 1 or 4,8 "
                             "(LaDiffCodec's Table 1 ablation)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from codecbench.codecs.diffusion.training import train
    from codecbench.codecs.diffusion.training.trainer import TrainOptions

    recipe_args = {key: value for key, value in (("adversarial_start", args.adversarial_start),
                                                 ("quantizer_steps", args.quantizer_steps),
                                                 ("quantizer", args.quantizer), ("init", args.init),
                                                 ("tokenizer", args.tokenizer), ("autoencoder", args.autoencoder),
                                                 ("codebooks", args.codebooks),
                                                 ("condition_scaling", args.condition_scaling),
                                                 ("prediction_type", args.prediction_type),
                                                 ("strides", args.strides))
                   if value is not None}
    options = TrainOptions(recipe=args.recipe, out=args.out, root=args.root, split=args.split, steps=args.steps,
                           device=args.device, resume=args.resume, preset=args.preset, seed=args.seed,
                           batch_size=args.batch_size, segment_frames=args.segment_frames, lr=args.lr,
                           val_speakers=args.val_speakers, val_every=args.val_every,
                           checkpoint_every=args.checkpoint_every, log_every=args.log_every, cache=args.cache,
                           threads=args.threads, until=args.until,
                           max_minutes=args.max_minutes, recipe_args=recipe_args)
    log = train(options, progress=not args.no_progress)
    final = log.get("final", {})
    print(f"{args.recipe}: step {log['step']}, {log['wall_s'] / 60:.1f} min; exported "
          f"{', '.join(e['path'] for e in log.get('exports', []))}")
    if final:
        print("final validation:", {k: round(v, 4) for k, v in final.get("validation", {}).items() if k != "step"})
    return 0

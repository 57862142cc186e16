"""The training loop shared by every recipe: AdamW with a cosine schedule, bf16 autocast on CUDA, a
fixed seed, periodic validation on held-back speakers, resumable checkpoints, a `train.json` log and the
export of the shipped fp16 safetensors with a model card."""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
import time
from abc import ABC, abstractmethod
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from codecbench.codecs.diffusion.representation import LogMel
from codecbench.codecs.diffusion.training.data import Batch, SegmentSampler, SpeechCorpus


@dataclass
class TrainOptions:
    """Everything a training run depends on (recorded in train.json).

    Args:
        recipe: a name of `training.RECIPES`.
        out: run directory (checkpoints/, train.json, exported safetensors + model cards).
        root: LibriSpeech root (None: the usual lookup).
        split: training split.
        steps: total optimisation steps.
        device: `cpu` or `cuda`.
        resume: continue from `out/checkpoints/last.pt`.
        preset: `default` (the shipped sizes) or `tiny` (tests).
        seed: seeds the model initialisation and the batch sampler.
        batch_size, segment_frames, lr: None for the recipe's defaults.
        val_speakers: speakers held back for validation.
        val_every, checkpoint_every, log_every: in steps.
        cache: where the split's waveforms are cached (None: the user cache).
        threads: torch CPU threads.
        until: stop after this step (the schedule still spans `steps`); resume later with `resume`.
        max_minutes: stop (checkpointed) after this much training time in this invocation.
        recipe_args: recipe-specific settings (`adversarial_start`, `quantizer_steps`, `quantizer`, `init`,
            `tokenizer`, `autoencoder`, `codebooks`, `condition_scaling`, `prediction_type`, `strides`).
    """

    recipe: str
    out: str
    root: str | None = None
    split: str = "train-clean-100"
    steps: int = 10000
    device: str = "cpu"
    resume: bool = False
    preset: str = "default"
    seed: int = 0
    batch_size: int | None = None
    segment_frames: int | None = None
    lr: float | None = None
    val_speakers: int = 6
    val_every: int = 500
    checkpoint_every: int = 250
    log_every: int = 50
    cache: str | None = None
    threads: int | None = None
    until: int | None = None
    max_minutes: float | None = None
    recipe_args: dict[str, Any] = field(default_factory=dict)


class Recipe(ABC):
    """One trainable configuration: builds its modules and optimizers, takes a step, validates, exports.

    Subclasses set `name`, `defaults` (batch_size, segment_frames, lr) and implement the methods below.
    Modules live in `self.modules` and optimizers in `self.optimizers` (the trainer checkpoints both).
    """

    name: str = ""
    defaults: dict[str, Any] = {}

    def __init__(self, options: TrainOptions, representation: LogMel) -> None:
        self.options, self.representation = options, representation
        self.device = torch.device(options.device)
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.spans: dict[str, tuple[int, int]] = {}  # optimizer -> (first, last) step of its schedule

    def setting(self, key: str) -> Any:
        value = getattr(self.options, key)
        return self.defaults[key] if value is None else value

    def adamw(self, name: str, parameters, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Optimizer:
        """Register an AdamW optimizer with the run's learning rate (scheduled by the trainer)."""
        optimizer = torch.optim.AdamW(parameters, lr=self.setting("lr"), betas=betas, weight_decay=0.01)
        self.optimizers[name] = optimizer
        return optimizer

    def segment_transform(self):
        """A function applied to each whole training utterance (float32 [T]) before cutting, or None."""
        return None

    @abstractmethod
    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """One optimisation step; returns the losses to log (scalar tensors)."""

    @abstractmethod
    def validate(self, batch: Batch) -> dict[str, float]:
        """Validation losses on a fixed batch of held-back speakers (no gradient)."""

    @abstractmethod
    def export(self, out: Path, training: dict[str, Any]) -> list[Path]:
        """Write the shipped safetensors into `out`; returns their paths."""


def cosine_factor(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up, then cosine decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1 + math.cos(math.pi * progress))


def _versions() -> dict[str, str]:
    from codecbench.resources import package_versions

    return package_versions("safetensors")


def _hardware(device: str) -> dict[str, Any]:
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


class _Clock:
    """Wall and CPU time spent training, charged to the log step by step (`restart` leaves out what follows)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def charge(self, log: dict[str, Any]) -> None:
        """Add the time since the last charge or restart to `log`'s `wall_s` and `cpu_s`."""
        wall, cpu = time.perf_counter(), time.process_time()
        log["wall_s"] += wall - self.wall
        log["cpu_s"] += cpu - self.cpu
        self.wall, self.cpu = wall, cpu


class Trainer:
    """Runs a recipe.

    Args:
        options: the run's options.
        recipe_class: the Recipe subclass to train.
        command: the command line recorded in train.json and the model cards.
    """

    WARMUP = 200

    def __init__(self, options: TrainOptions, recipe_class: type[Recipe], command: list[str] | None = None) -> None:
        self.options = options
        self.out = Path(options.out)
        self.command = shlex.join(command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]])
        if options.threads:
            torch.set_num_threads(options.threads)
        torch.manual_seed(options.seed)
        self.representation = LogMel().to(options.device)
        self.recipe = recipe_class(options, self.representation)
        self.checkpoint_file = self.out / "checkpoints" / "last.pt"
        self.log_file = self.out / "train.json"

    def _data(self) -> tuple[SegmentSampler, Batch]:
        from codecbench.resources import cache_dir

        cache = self.options.cache or cache_dir() / "train"
        corpus = SpeechCorpus.load(self.options.root, self.options.split, cache)
        train, val = corpus.split_speakers(self.options.val_speakers)
        if not len(train) or not len(val):
            raise ValueError(f"{self.options.split}: {len(train)} training and {len(val)} validation utterances; "
                             "need both (lower --val-speakers)")
        self.data_info = {"split": self.options.split, "train_utterances": len(train),
                          "train_hours": round(train.hours, 4), "val_utterances": len(val),
                          "val_hours": round(val.hours, 4), "val_speakers": sorted(set(val.speakers))}
        frames = self.recipe.setting("segment_frames")
        transform = self.recipe.segment_transform()
        sampler = SegmentSampler(train, self.representation.cpu(), frames, transform)
        val_batch = SegmentSampler(val, self.representation, frames, transform).fixed(self.recipe.setting("batch_size"))
        self.representation.to(self.options.device)
        return sampler, val_batch.to(self.options.device)

    def _schedulers(self) -> dict[str, torch.optim.lr_scheduler.LambdaLR]:
        """One cosine schedule per optimizer over its span of steps (the whole run by default)."""
        schedulers = {}
        for name, optimizer in self.recipe.optimizers.items():
            first, last = self.recipe.spans.get(name, (0, self.options.steps))
            warmup = min(self.WARMUP, max(1, (last - first) // 10))
            schedulers[name] = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda s, first=first, last=last, warmup=warmup: cosine_factor(max(0, s - first), last - first, warmup))
        return schedulers

    def _save(self, step: int, schedulers, generator: torch.Generator, log: dict[str, Any]) -> None:
        state = {"step": step, "modules": {k: m.state_dict() for k, m in self.recipe.modules.items()},
                 "optimizers": {k: o.state_dict() for k, o in self.recipe.optimizers.items()},
                 "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
                 "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                 "wall_s": log["wall_s"], "cpu_s": log["cpu_s"]}
        self.checkpoint_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_file.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.checkpoint_file)

    def _load(self, schedulers, generator: torch.Generator) -> tuple[int, float]:
        state = torch.load(self.checkpoint_file, map_location=self.options.device, weights_only=False)
        for key, module in self.recipe.modules.items():
            module.load_state_dict(state["modules"][key])
        for key, optimizer in self.recipe.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
        for key, scheduler in schedulers.items():
            scheduler.load_state_dict(state["schedulers"][key])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        return state["step"], state["wall_s"], state.get("cpu_s", 0.0)

    def _export(self, log: dict[str, Any]) -> None:
        training = {"recipe": self.options.recipe, "steps": log["step"], "wall_s": round(log["wall_s"], 1),
                    "cpu_s": round(log["cpu_s"], 1),
                    "command": log["invocations"][0]["command"], "resumed_with": [i["command"] for i in log["invocations"][1:]],
                    "data": self.data_info, "hardware": log["hardware"], "final": log.get("final", {})}
        exported = self.recipe.export(self.out, training)
        log["exports"] = [{"path": str(p), "bytes": p.stat().st_size} for p in exported]
        for path in exported:
            write_model_card(path, training, log)

    def run(self, progress: bool = True) -> dict[str, Any]:
        """Train to `options.steps` (or stop early at `until` or after `max_minutes`), checkpointing, exporting
        and writing train.json on the way; returns the train.json contents."""
        options = self.options
        sampler, val_batch = self._data()
        schedulers = self._schedulers()
        generator = torch.Generator().manual_seed(options.seed)
        start, log = self._open_log(schedulers, generator)
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if options.device.startswith("cuda")
                    else nullcontext())
        window: dict[str, list[float]] = {}
        bar = tqdm(total=options.steps, initial=start, desc=f"train {options.recipe}", unit="step",
                   disable=not progress)
        clock = _Clock()
        invocation_start = log["wall_s"]
        stop = min(options.steps, options.until or options.steps)
        for step in range(start, stop):
            self._train_step(sampler, generator, schedulers, autocast, step, window)
            done = step + 1
            clock.charge(log)
            log["step"] = done
            bar.update(1)
            window = self._record(log, done, window, schedulers, val_batch, bar)
            out_of_time = (options.max_minutes is not None
                           and log["wall_s"] - invocation_start >= 60 * options.max_minutes)
            if out_of_time or done == stop:
                stop = done
            if done % options.checkpoint_every == 0 or done == options.steps or done == stop:
                self._checkpoint(log, done, schedulers, generator)
            clock.restart()  # checkpoints and validation are not training
            if done == stop:
                break
        bar.close()
        if start >= stop:
            log["invocations"][-1]["end_step"] = start
            _write_json(self.log_file, log)
        return log

    def _open_log(self, schedulers, generator: torch.Generator) -> tuple[int, dict[str, Any]]:
        """The step to start from and the train.json contents: a resumed run's state and log, or a new log
        (refused where the folder already holds a run and `resume` is not set); this invocation appended."""
        options = self.options
        start, wall, cpu = 0, 0.0, 0.0
        log: dict[str, Any] = {}
        if options.resume and self.checkpoint_file.exists():
            start, wall, cpu = self._load(schedulers, generator)
            log = json.loads(self.log_file.read_text()) if self.log_file.exists() else {}
        elif self.log_file.exists() and not options.resume:
            raise FileExistsError(f"{self.out} already holds a training run: pass --resume to continue it")
        log.setdefault("recipe", options.recipe)
        log.setdefault("history", [])
        log.setdefault("validation", [])
        log.setdefault("invocations", [])
        log.update({"options": asdict(options), "versions": _versions(), "hardware": _hardware(options.device),
                    "data": self.data_info, "step": start, "wall_s": wall, "cpu_s": cpu,
                    "parameters": {k: sum(p.numel() for p in m.parameters()) for k, m in self.recipe.modules.items()}})
        log["invocations"].append({"command": self.command, "started": datetime.now(timezone.utc).isoformat(),
                                   "start_step": start})
        self.out.mkdir(parents=True, exist_ok=True)
        return start, log

    def _train_step(self, sampler: SegmentSampler, generator: torch.Generator, schedulers, autocast, step: int,
                    window: dict[str, list[float]]) -> None:
        """One optimisation step of the recipe on a fresh batch; its losses appended to `window`."""
        batch = sampler.sample(self.recipe.setting("batch_size"), generator).to(self.options.device)
        for module in self.recipe.modules.values():
            module.train()
        with autocast:
            losses = self.recipe.train_step(batch, step)
        for scheduler in schedulers.values():
            scheduler.step()
        for key, value in losses.items():
            window.setdefault(key, []).append(float(value.detach()))

    def _record(self, log: dict[str, Any], done: int, window: dict[str, list[float]], schedulers, val_batch: Batch,
                bar: tqdm) -> dict[str, list[float]]:
        """Log the window's mean losses every `log_every` steps and validate every `val_every` (and at the last
        step); returns the window to go on with (emptied once logged)."""
        options = self.options
        if done % options.log_every == 0 or done == options.steps:
            means = {k: sum(v) / len(v) for k, v in window.items()}
            lr = {k: s.get_last_lr()[0] for k, s in schedulers.items()}
            log["history"].append({"step": done, "wall_s": round(log["wall_s"], 2), "lr": lr, **means})
            bar.set_postfix({k: f"{v:.3g}" for k, v in list(means.items())[:3]})
            window = {}
        if done % options.val_every == 0 or done == options.steps:
            log["validation"].append({"step": done, **self._validate(val_batch)})
        return window

    def _checkpoint(self, log: dict[str, Any], done: int, schedulers, generator: torch.Generator) -> None:
        """Save the resumable state, add the final losses at the last step, export and write train.json."""
        self._save(done, schedulers, generator, log)
        if done == self.options.steps:
            train_losses = log["history"][-1] if log["history"] else {}
            log["final"] = {"step": done, "wall_s": round(log["wall_s"], 1),
                            "train": {k: v for k, v in train_losses.items() if k not in ("step", "wall_s", "lr")},
                            "validation": log["validation"][-1] if log["validation"] else {}}
        log["invocations"][-1]["end_step"] = done
        self._export(log)
        _write_json(self.log_file, log)

    def _validate(self, batch: Batch) -> dict[str, float]:
        for module in self.recipe.modules.values():
            module.eval()
        with torch.no_grad():
            return {k: float(v) for k, v in self.recipe.validate(batch).items()}


def write_model_card(path: Path, training: dict[str, Any], log: dict[str, Any]) -> Path:
    """`<name>.md` next to an exported checkpoint: command, data, steps, wall time, hardware, losses."""
    from codecbench.codecs.diffusion.checkpoints import file_sha256

    hardware = training["hardware"]
    device = hardware.get("gpu") or f"CPU ({hardware['processor']}, {hardware['torch_threads']} torch threads, " \
                                    f"{hardware['cpu_count']} cores)"
    final = training.get("final") or {}
    lines = [
        f"# {path.stem}", "",
        f"- file: `{path.name}` ({path.stat().st_size / 1e6:.2f} MB, fp16), sha256 `{file_sha256(path)}`",
        f"- recipe: `{training['recipe']}`, {training['steps']} steps, {training['wall_s'] / 60:.1f} min of training"
        + (f" ({training['cpu_s'] / 60:.1f} min of process CPU time)" if "cpu_s" in training else ""),
        f"- device: {device}",
        f"- data: {training['data']['split']}, {training['data']['train_utterances']} utterances "
        f"({training['data']['train_hours'] * 60:.1f} min) for training, speakers "
        f"{', '.join(training['data']['val_speakers'])} ({training['data']['val_utterances']} utterances) held back for validation",
        f"- parameters: {', '.join(f'{k} {v:,}' for k, v in log['parameters'].items())}",
        "", "Command:", "", "```", training["command"], *training["resumed_with"], "```", "",
    ]
    spans = [(i["start_step"], i["end_step"]) for i in log.get("invocations", []) if "end_step" in i]
    if len(spans) > 1:
        lines += ["Steps per invocation (an early stop by `--max-minutes` is reproduced by `--until` that step): "
                  + ", ".join(f"{a} → {b}" for a, b in spans) + ".", ""]
    if final:
        lines += ["Final losses (training: mean of the last logging window; validation: held-back speakers):", "",
                  "| loss | value |", "|---|---|"]
        lines += [f"| train {k} | {v:.4f} |" for k, v in final.get("train", {}).items()]
        lines += [f"| val {k} | {v:.4f} |" for k, v in final.get("validation", {}).items() if k != "step"]
        lines.append("")
    card = path.with_suffix(".md")
    card.write_text("\n".join(lines))
    return card

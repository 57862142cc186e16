"""Fast decoding of a `DiffusionCodec`: reduced-precision autocast, torch.compile, one CUDA graph per sampler.

On a GPU a diffusion decoder at batch 1 is launch-bound: the work per step is small and Python and kernel
launches dominate. Three switches, chosen per codec with the spec options `compile` and `dtype`:

- `compile=compile`: `torch.compile(mode="reduce-overhead")` of the backbone and of a neural vocoder
  (inductor kernels; on CUDA, reduce-overhead also replays each call as a CUDA graph).
- `compile=graph`: the whole fixed-shape sampler loop (`codec.sampling_loop`) captured once per shape in
  one `torch.cuda.CUDAGraph` and replayed (CUDA only). **Not exercised by the test suite: the development
  machines have no GPU.** The code is kept to `GraphedSampler` below.
- `dtype=bf16|fp16`: autocast around the backbone and the neural vocoder; the sampler state and the
  Griffin-Lim vocoder stay fp32.

DDIM with fewer steps is the codecs' own `sampler=ddim,steps=N`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from codecbench.codecs.base import FAST_PATH_OPTIONS
from codecbench.codecs.diffusion.codec import DiffusionCodec, crop_to_mel, pad_for_backbone, sampling_loop
from codecbench.codecs.diffusion.samplers import Sampler
from codecbench.codecs.diffusion.vocoders.hifigan import HiFiGANGenerator
from codecbench.stages import stages_suspended

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
GRAPH_WARMUP = 3  # eager runs on a side stream before capture (cuDNN autotuning, lazy allocations)


class Autocast(nn.Module):
    """Runs a module under `torch.autocast` and returns float32.

    The autocast weight cache is off: cached casts would outlive a CUDA-graph capture.

    Args:
        module: the wrapped module (its `frame_multiple`, if any, is kept).
        dtype: bf16 or fp16.
    """

    def __init__(self, module: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.module, self.dtype = module, dtype
        if hasattr(module, "frame_multiple"):
            self.frame_multiple = module.frame_multiple

    def forward(self, *args, **kwargs) -> torch.Tensor:
        device_type = next(self.module.parameters()).device.type
        with torch.autocast(device_type, dtype=self.dtype, cache_enabled=False):
            return self.module(*args, **kwargs).float()


class Compiled(nn.Module):
    """`torch.compile(module, mode="reduce-overhead")`, specialised to each input shape (decoding has fixed
    shapes; a new one, e.g. the throughput batch, compiles anew during the warm-up); calls
    `forward(*tensors)` without the vocoder's `generator` (only deterministic modules are compiled). On CUDA each call starts a new cudagraph-tree
    step and its output is cloned, so the loop may keep it while the next call replays.

    Args:
        module: the wrapped module (its `frame_multiple`, if any, is kept).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.compiled = torch.compile(module, mode="reduce-overhead", dynamic=False)  # specialise per shape
        if hasattr(module, "frame_multiple"):
            self.frame_multiple = module.frame_multiple

    def forward(self, *args, generator: torch.Generator | None = None) -> torch.Tensor:
        if args[0].is_cuda:
            torch.compiler.cudagraph_mark_step_begin()
            return self.compiled(*args).clone()
        return self.compiled(*args)


@dataclass
class _Capture:
    graph: "torch.cuda.CUDAGraph"
    sampler: Sampler  # a private copy: the graph reads its timestep tensors at every replay
    cond: torch.Tensor
    x: torch.Tensor
    out: torch.Tensor


class GraphedSampler:
    """`DiffusionCodec.denoise` as a replay of one CUDA graph of the sampler loop, per input shape.

    x_T is drawn from the caller's generator outside the graph; the per-step noise of a stochastic
    sampler comes from the default CUDA generator (the graph-safe one), reseeded from the caller's
    generator before each replay inside `torch.random.fork_rng`, so outputs are reproducible per seed
    (though not equal to the eager loop's draws) and the global RNG state is left as it was.
    Untested here (no GPU on the development machines).

    Args:
        backbone: the (possibly autocast-wrapped) denoiser.
        sampler: the reverse process; copied per capture.
    """

    def __init__(self, backbone: nn.Module, sampler: Sampler) -> None:
        self.backbone, self.sampler = backbone, sampler
        self.captures: dict[tuple, _Capture] = {}

    def __call__(self, cond: torch.Tensor, mel_shape: torch.Size, num_steps: int,
                 generator: torch.Generator | None = None, estimate: torch.Tensor | None = None) -> torch.Tensor:
        """As `DiffusionCodec.denoise`; `estimate` is unused (the graphed samplers start from noise)."""
        if cond.device.type != "cuda":
            raise ValueError("compile=graph needs a CUDA device; on the CPU use compile=compile")
        cond, shape = pad_for_backbone(self.backbone, cond, mel_shape)
        key = (tuple(cond.shape), cond.dtype, num_steps)
        if key not in self.captures:
            self.captures[key] = self._capture(cond, shape, num_steps)
        capture = self.captures[key]
        capture.cond.copy_(cond)
        capture.x.copy_(torch.randn(shape, generator=generator, device=cond.device, dtype=cond.dtype))
        seed = int(torch.randint(0, 2**62, (), generator=generator, device=cond.device))
        with torch.random.fork_rng(devices=[cond.device]):
            torch.cuda.manual_seed(seed)
            capture.graph.replay()
        return crop_to_mel(capture.out.clone(), mel_shape)

    def _capture(self, cond: torch.Tensor, shape: tuple[int, ...], num_steps: int) -> _Capture:
        sampler = copy.deepcopy(self.sampler)
        sampler.set_timesteps(num_steps, cond.device)
        static_cond = cond.clone()
        static_x = torch.zeros(shape, device=cond.device, dtype=cond.dtype)
        with stages_suspended(), torch.random.fork_rng(devices=[cond.device]):
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(GRAPH_WARMUP):
                    sampling_loop(self.backbone, sampler, static_x, static_cond)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = sampling_loop(self.backbone, sampler, static_x, static_cond)
        return _Capture(graph, sampler, static_cond, static_x, out)


def accelerate(model: DiffusionCodec, mode: str = "eager", dtype: str = "fp32") -> DiffusionCodec:
    """Switch a codec's decoder to a fast path, in place (see the module docstring).

    Args:
        model: the codec, already on its device.
        mode: `eager`, `compile` or `graph`.
        dtype: `fp32`, `bf16` or `fp16`.

    Returns:
        `model`.
    """
    if mode not in FAST_PATH_OPTIONS["compile"] or dtype not in FAST_PATH_OPTIONS["dtype"]:
        raise ValueError(f"mode must be one of {FAST_PATH_OPTIONS['compile']} and dtype one of "
                         f"{FAST_PATH_OPTIONS['dtype']}, not {mode!r}, {dtype!r}")
    neural_vocoder = isinstance(model.vocoder, HiFiGANGenerator)  # deterministic: may be compiled
    if dtype != "fp32":
        if model.backbone is not None:
            model.backbone = Autocast(model.backbone, DTYPES[dtype])
        if neural_vocoder:
            model.vocoder = Autocast(model.vocoder, DTYPES[dtype])
    if mode == "compile":
        if model.backbone is not None:
            model.backbone = Compiled(model.backbone)
        if neural_vocoder:
            model.vocoder = Compiled(model.vocoder)
    if mode == "graph" and model.backbone is not None:
        if model.sampler.needs_estimate:
            raise ValueError(f"compile=graph captures samplers that start from noise (ddpm, ddim), not "
                             f"{model.sampler.name}")
        model.denoise = GraphedSampler(model.backbone, model.sampler)  # an instance attribute shadows the method
    return model

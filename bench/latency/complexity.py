"""Model size and arithmetic of a codec: parameters and FLOPs per second of audio (torch codecs)."""

from __future__ import annotations

from typing import Any, Callable


def count_parameters(modules: list[Any]) -> float:
    """Parameters of the codec's torch modules, each counted once; NaN for a codec without any."""
    if not modules:
        return float("nan")
    unique = {id(p): p for module in modules for p in module.parameters()}
    return float(sum(p.numel() for p in unique.values()))


def count_flops(modules: list[Any], function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run `function(*args)` under `torch.utils.flop_counter.FlopCounterMode`.

    It counts matrix products, convolutions and attention (2 FLOPs per multiply-accumulate), not FFTs or
    elementwise operations, so STFT/Griffin-Lim work is not in the count. The `modules`' parameters are
    frozen meanwhile: the counter's module tracker hooks tensors that require grad, which fails under
    `torch.inference_mode` (where codecs decode).

    Returns:
        (the result, total FLOPs).
    """
    from torch.utils.flop_counter import FlopCounterMode

    trainable = [p for module in modules for p in module.parameters() if p.requires_grad]
    for parameter in trainable:
        parameter.requires_grad_(False)
    try:
        with FlopCounterMode(display=False) as counter:
            result = function(*args)
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
    return result, float(counter.get_total_flops())

"""The codec registry: the entry-point group `codecbench.codecs` (built-ins are registered the same way)."""

from __future__ import annotations

from collections.abc import Iterable

from codecbench.codecs.base import Availability, Codec, CodecUnavailable
from codecbench.codecs.spec import CodecSpec, parse_spec
from codecbench.plugins import PluginRegistry, RegistryError

GROUP = "codecbench.codecs"
CODECS: PluginRegistry[Codec] = PluginRegistry(GROUP, Codec, "codec")


def codec_names() -> list[str]:
    """Names of all registered codecs, without importing them."""
    return CODECS.names()


def get_codec_class(name: str) -> type[Codec]:
    """Import and return the codec class registered as `name`."""
    return CODECS.get(name)


def codec_packages(names: Iterable[str]) -> list[str]:
    """The distributions the named codecs declare (`Codec.requires`), whose versions a run records. A codec
    that cannot be loaded declares nothing: the run's rows say why it failed."""
    found: list[str] = []
    for name in dict.fromkeys(names):
        try:
            found += get_codec_class(name).requires.distributions()
        except (ValueError, RegistryError):
            continue
    return found


def codec_availability(name: str) -> Availability:
    """Availability of a registered codec; a plugin that fails to load is unavailable with the reason."""
    try:
        return get_codec_class(name).availability()
    except RegistryError as exc:
        return Availability(False, str(exc))


def load_codec(spec: str | CodecSpec) -> Codec:
    """Build a codec from a spec such as `opus@6` or `mel2mel@1.5:steps=8`.

    Raises:
        ValueError: unknown name, unsupported operating point or option.
        CodecUnavailable: the codec's libraries or weights are missing here.
    """
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    cls = get_codec_class(spec.name)
    status = cls.availability_for(spec)
    if not status.available:
        raise CodecUnavailable(f"{spec}: unavailable: {status.reason}")
    return cls.from_spec(spec)


DEFAULT_DECODE_SEEDS = 3  # decodes per utterance of a stochastic spec in `run` and `sweep` (`--decode-seeds`)


def with_decode_seeds(specs: list[CodecSpec], seeds: int = DEFAULT_DECODE_SEEDS) -> list[CodecSpec]:
    """The specs with `seeds=N` added to those that decode stochastically (`Codec.stochastic_for`: the diffusion
    codecs, not their deterministic `diffusion=off` controls) and do not set `seeds` themselves; the others, and
    all of them for N = 1, unchanged. The run option `--decode-seeds N` (default `DEFAULT_DECODE_SEEDS`).
    Unknown names stay as they are (the runner reports them).

    Raises:
        ValueError: N < 1.
    """
    if seeds < 1:
        raise ValueError(f"--decode-seeds must be at least 1, not {seeds}")
    if seeds == 1:
        return list(specs)
    out = []
    for spec in specs:
        try:
            stochastic = get_codec_class(spec.name).stochastic_for(spec)
        except (RegistryError, ValueError):  # unknown or unloadable: the runner reports it
            stochastic = False
        out.append(CodecSpec(spec.name, spec.point, {**spec.options, "seeds": str(seeds)})
                   if stochastic and "seeds" not in spec.options else spec)
    return out

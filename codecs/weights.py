"""Codecs with a `weights=DIR` option: their availability depends on the weights the option (or the lookup
order of `codecbench.resources.locate`) points at."""

from __future__ import annotations

from codecbench.codecs.spec import CodecSpec
from codecbench.resources import Availability


class WeightsOption:
    """Mixin for codecs with a `weights=DIR` option: availability depends on the modules the codec `requires`
    (found without importing them: listing codecs stays fast) and on the weights the option (or the default
    lookup) points at, which the codec judges in `weights_availability`."""

    @classmethod
    def weights_availability(cls, weights: str | None) -> Availability:
        raise NotImplementedError

    @classmethod
    def availability(cls) -> Availability:
        return cls.availability_of_weights(None)

    @classmethod
    def availability_for(cls, spec: CodecSpec) -> Availability:
        return cls.availability_of_weights(spec.options.get("weights"))

    @classmethod
    def availability_of_weights(cls, weights: str | None) -> Availability:
        missing = cls.requires.missing()
        if missing:
            return Availability(False, f"{', '.join(missing)} not installed: pip install {cls.requires.pip}")
        return cls.weights_availability(weights)

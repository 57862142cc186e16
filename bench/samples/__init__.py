"""`codecbench samples`: a static listening page of finished runs, like a codec paper's demo page (see
`build_samples`)."""

from codecbench.samples.build import SamplesResult, build_samples

__all__ = ["SamplesResult", "build_samples"]

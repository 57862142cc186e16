"""codecbench: benchmark and listening tests for low-bitrate speech codecs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("codecbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__", "run_benchmark"]


def __getattr__(name: str):
    if name == "run_benchmark":  # lazy: keep `import codecbench` light for the CLI
        from codecbench.runner import run_benchmark

        return run_benchmark
    raise AttributeError(name)

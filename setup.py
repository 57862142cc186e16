"""Package discovery for the folder layout in pyproject.toml's `package-dir` (everything else is in pyproject)."""

from setuptools import find_packages, setup

FOLDERS = {"codecbench": "bench", "codecbench.codecs": "codecs", "codecbench.listening_test": "listening_test"}


def discovered_packages() -> list[str]:
    """Every package under the mapped folders, named in the `codecbench` namespace."""
    names = []
    for package, folder in FOLDERS.items():
        names.append(package)
        names += [f"{package}.{sub}" for sub in find_packages(folder)]
    return sorted(names)


setup(packages=discovered_packages())

"""Where metric model weights come from, in order: a directory named by an environment variable,
`../shared/models/<name>` beside the checkout, the Hugging Face cache, and (only with
`CODECBENCH_DOWNLOAD_WEIGHTS=1`, so that listing metrics never touches the network) the hub itself."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DOWNLOAD_ENV = "CODECBENCH_DOWNLOAD_WEIGHTS"


@dataclass
class WeightsLocation:
    """What `from_pretrained` should load (a directory or a hub repo id), or why there is nothing."""

    source: str | None
    reason: str = ""


def locate_weights(env_var: str, repo_id: str) -> WeightsLocation:
    """Find the weights of the Hugging Face model `repo_id` (e.g. `microsoft/wavlm-base-plus-sv`).

    Args:
        env_var: the environment variable that may name a local directory holding them.
        repo_id: the model's id on the Hugging Face hub.
    """
    explicit = os.environ.get(env_var)
    if explicit:
        if Path(explicit).is_dir():
            return WeightsLocation(explicit)
        return WeightsLocation(None, f"weights not found: {env_var}={explicit} is not a directory")
    repo = Path(__file__).resolve().parents[2]  # the checkout, when installed in editable mode
    for base in (repo, Path.cwd()):
        shared = base.parent / "shared" / "models" / repo_id.split("/")[-1]
        if (shared / "config.json").is_file():
            return WeightsLocation(str(shared))
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, "config.json")
    except ImportError:
        cached = None
    if isinstance(cached, str):
        return WeightsLocation(str(Path(cached).parent))
    if os.environ.get(DOWNLOAD_ENV, "") == "1":
        return WeightsLocation(repo_id)
    return WeightsLocation(None, f"weights not found: set {env_var} to a local copy of {repo_id}, "
                                 f"or {DOWNLOAD_ENV}=1 to download it from the Hugging Face hub")


def weights_availability(env_var: str, repo_id: str, modules: tuple[str, ...]):
    """Availability of a model-based metric: its libraries import and its weights are found."""
    from codecbench.codecs.base import Availability

    status = Availability.of_modules(*modules, install="'codecbench[metrics]'")
    if not status.available:
        return status
    location = locate_weights(env_var, repo_id)
    return Availability(location.source is not None, location.reason)

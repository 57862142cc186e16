"""Where metric model weights come from: `codecbench.resources.locate`'s one order (a directory named by an
environment variable, the user cache and the Hugging Face cache, `../shared/models/<name>` beside the
checkout), then the Hugging Face hub where it answers. Availability (what `codecbench metrics` lists) never
downloads; loading the model does, on first use."""

from __future__ import annotations

from dataclasses import dataclass

from codecbench.resources import Availability, Dependencies, Resource, obtainable


@dataclass
class WeightsLocation:
    """What `from_pretrained` should load (a directory or a hub repo id), or why there is nothing."""

    source: str | None
    reason: str = ""


def weights_resource(env_var: str, repo_id: str) -> Resource:
    """The weights of the Hugging Face model `repo_id` (e.g. `microsoft/wavlm-base-plus-sv`) as `locate` finds them."""
    folder = f"models/{repo_id.split('/')[-1]}"
    return Resource(f"{repo_id} weights", ("config.json",), env_var=env_var, cache_path=folder, shared_path=folder,
                    hub_repo=repo_id)


def locate_weights(env_var: str, repo_id: str) -> WeightsLocation:
    """A local directory holding the weights, else the repo id to download from (if the hub answers).

    Args:
        env_var: the environment variable that may name a local directory holding them.
        repo_id: the model's id on the Hugging Face hub.
    """
    resource = weights_resource(env_var, repo_id)
    status = obtainable(resource)
    if status.error:
        return WeightsLocation(None, f"weights not found: {status.error}")
    if status.located is not None:
        return WeightsLocation(str(status.located.path))
    if status.unreachable:
        return WeightsLocation(None, f"weights not found in {resource.looked_in()} and no download: {status.unreachable}")
    return WeightsLocation(repo_id)


def weights_availability(requires: Dependencies, env_var: str, repo_id: str) -> Availability:
    """Availability of a model-based metric: its libraries (`requires`, which names `huggingface_hub`) import
    and its weights are found (or downloadable)."""
    status = requires.check()
    if not status.available:
        return status
    location = locate_weights(env_var, repo_id)
    return Availability(location.source is not None, location.reason)

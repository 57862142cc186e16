"""A listener's side of `codecbench mushra serve` over HTTP, spoken the way player.js speaks it.

The listener app's events go through Gradio's REST event API (`POST /gradio_api/call/<api>`, then its
event stream); the stimuli come from `/mushra/audio/<key>`. Load benchmarks, probes and tests use it
to drive the real server.

The server accepts a trial only once the play time its log claims fits in the wall-clock time since the
trial's audio was first served (see `store`), so `submit` waits, as a listener would, until that much
time has passed since this client first fetched the trial's audio.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from codecbench.listening_test.events import parse_events, playback

MARGIN_S = 0.05  # waited beyond the claimed play time (the request to the server takes a moment too)


class ServerError(RuntimeError):
    """The server refused an event (an `error` event, or a refused registration)."""


def event_outputs(stream: str) -> list:
    """The outputs of one Gradio event stream (`event: complete`).

    Raises:
        ServerError: the stream ended with an `error` event (its data as the message).
    """
    event = None
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event in ("complete", "error"):
            data = line.split(":", 1)[1].strip()
            if event == "error":
                raise ServerError(f"the server answered with an error: {data}")
            return json.loads(data)
    raise ServerError(f"no complete event in {stream[:300]!r}")


def playback_events(screen: dict[str, Any], ms_each: float | None = None) -> list[dict[str, Any]]:
    """The events player.js logs for a listener who plays the reference, then switches through every
    stimulus of the trial in label order, `ms_each` on each (default: what the listening rule asks,
    `screen["min_play_ms"]`), and stops."""
    ms_each = float(screen.get("min_play_ms", 1000.0)) if ms_each is None else ms_each
    keys = [k for k in [screen.get("reference")] + [s["key"] for s in screen["stimuli"]] if k]
    events = [{"t": 0.0, "kind": "ready", "key": "", "value": None, "detail": ""}]
    for index, key in enumerate(keys):
        events.append({"t": index * ms_each + 1.0, "kind": "play" if index == 0 else "switch", "key": key,
                       "value": None, "detail": ""})
    events.append({"t": len(keys) * ms_each + 1.0, "kind": "stop", "key": keys[-1], "value": None, "detail": ""})
    return events


class ListenerClient:
    """One listener's calls to the listener app.

    Args:
        http: an async client whose `base_url` is the server.
        sleep: how to wait (`asyncio.sleep`).
        clock: seconds, monotonic.
    """

    def __init__(self, http: httpx.AsyncClient, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.http, self.sleep, self.clock = http, sleep, clock
        self.fetched: dict[str, float] = {}  # stimulus key -> when this client first asked for it

    async def call(self, api: str, *data: Any, params: dict[str, str] | None = None) -> list:
        """One queued event through Gradio's REST API (the queue the browser uses); returns its outputs."""
        joined = await self.http.post(f"/gradio_api/call/{api}", json={"data": list(data)}, params=params)
        event_id = joined.raise_for_status().json()["event_id"]
        stream = await self.http.get(f"/gradio_api/call/{api}/{event_id}")
        return event_outputs(stream.raise_for_status().text)

    async def start(self, name: str = "", invite: str | None = None, expertise: str | None = None,
                    headphones: str = "", consent: bool = False, link: dict[str, str] | None = None) -> dict[str, Any]:
        """Register (the welcome page's Start, with `?invite=` and any other `link` query parameters, such as
        a crowdsourcing platform's ids); returns the first screen.

        Raises:
            ServerError: registration refused (the notice shown to the listener as the message).
        """
        params = {**(link or {}), **({"invite": invite} if invite else {})}
        _, screen, notice = await self.call("start", name, expertise, headphones, consent, params=params or None)
        if not screen:
            raise ServerError(notice or "registration refused")
        return screen

    async def player(self, screen: dict[str, Any], submission: dict[str, Any] | None = None) -> dict[str, Any]:
        """The player element's event exactly as the browser sends it; returns the next screen."""
        value = dict(screen) if submission is None else {**screen, "submission": submission}
        return (await self.call("player", value))[0]

    async def resume(self, token: str) -> dict[str, Any]:
        """Where a listener with this personal token stands (a new session)."""
        return await self.player({"token": token})

    async def fetch(self, screen: dict[str, Any]) -> dict[str, bytes]:
        """Every stimulus of the screen as served (a trial's stimuli and open reference, or the level sample)."""
        keys = [screen["sample"]] if screen["screen"] == "level" else \
            [s["key"] for s in screen["stimuli"]] + ([screen["reference"]] if screen.get("reference") else [])
        return {key: await self.audio(key) for key in keys}

    async def audio(self, key: str) -> bytes:
        """One stimulus as served; when this client first got it is kept for `listen` (on arrival: the server
        recorded the serving before it answered, however long the request took)."""
        body = (await self.http.get(f"/mushra/audio/{key}")).raise_for_status().content
        self.fetched.setdefault(key, self.clock())
        return body

    async def skip_level(self, screen: dict[str, Any]) -> dict[str, Any]:
        return await self.player(screen, {"level": "skipped", "events": []})

    async def checks(self, screen: dict[str, Any], choose) -> dict[str, Any]:
        """Take the check screen: fetch every headphone-screen round, answer each with `choose(key, audio)`
        (1-3), then continue; returns the next screen."""
        answers = {}
        for key in screen.get("huggins") or []:
            response = await self.http.get(f"/mushra/audio/{key}")
            answers[key] = choose(key, response.raise_for_status().content)
        return await self.player(screen, {"level": "level set", "huggins": answers, "events": []})

    async def answer(self, screen: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
        """Send the end page's comment and questionnaire answers; returns the end screen."""
        return await self.player(screen, {"answers": answers})

    async def submit(self, screen: dict[str, Any], ratings: dict[str, int], events: list[dict[str, Any]] | None = None,
                     client_id: str = "") -> dict[str, Any]:
        """Press Next on a trial screen with these ratings {stimulus key: 0..100}, once the play time the
        events claim has passed since this client first fetched the trial's audio; returns the next screen."""
        events = playback_events(screen) if events is None else events
        await self.listen(screen, events)
        submission = {"trial": screen["trial"], "ratings": ratings, "client_id": client_id, "events": events}
        return await self.player(screen, submission)

    async def listen(self, screen: dict[str, Any], events: list[dict[str, Any]] | None = None) -> None:
        """Wait until the play time `events` claim (default: `playback_events(screen)`) has passed since this
        client first fetched the trial's audio (at once if it has, or if nothing was fetched)."""
        events = playback_events(screen) if events is None else events
        keys = {screen.get("reference"), *(s["key"] for s in screen["stimuli"])} - {None}
        fetched = [self.fetched[k] for k in keys if k in self.fetched]
        if fetched:
            claimed_s = sum(p.play_ms for p in playback(parse_events(events, keys)).values()) / 1000
            wait = min(fetched) + claimed_s + MARGIN_S - self.clock()
            if wait > 0:
                await self.sleep(wait)

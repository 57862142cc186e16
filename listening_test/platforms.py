"""Crowdsourcing platforms: the participant ids their study links carry, and the way back when a listener is done.

Prolific opens a study link with `PROLIFIC_PID`, `STUDY_ID` and `SESSION_ID` in its query; Amazon
Mechanical Turk's external questions with `workerId`, `assignmentId` and `hitId`. The listener app stores
whichever it finds with the listener, and a listener who opens the link again with the same participant id
(`PROLIFIC_PID` or `workerId`) continues where they stopped instead of starting a second time. When every
trial is saved (and the end page's answers sent), the page goes to the completion URL the experimenter gave
`serve` (Prolific's `https://app.prolific.com/submissions/complete?cc=CODE`), with `{PROLIFIC_PID}`-style
placeholders filled from the listener's ids, and shows the completion code if one was given.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

PLATFORM_IDS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "workerId", "assignmentId", "hitId")
PARTICIPANT_IDS = ("PROLIFIC_PID", "workerId")  # one person on one platform: a second visit resumes them
ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def platform_ids(query: Any) -> dict[str, str]:
    """The platform ids in a page's query parameters (a mapping); ids that do not look like ids are dropped."""
    if query is None:
        return {}
    found = {name: query.get(name) for name in PLATFORM_IDS}
    return {name: value for name, value in found.items() if isinstance(value, str) and ID_PATTERN.fullmatch(value)}


@dataclass(frozen=True)
class Completion:
    """Where a listener goes, and what they are shown, after the last trial.

    Args:
        url: the completion URL (http or https); `{PROLIFIC_PID}`-style placeholders are filled in.
        code: a completion code shown on the end page.
    """

    url: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"--completion-url must be an http(s) address, not {self.url!r}")
            fields = {f for _, f, _, _ in string.Formatter().parse(self.url) if f is not None}
            if fields - set(PLATFORM_IDS):
                raise ValueError(f"--completion-url may use the placeholders {list(PLATFORM_IDS)}, not "
                                 f"{sorted(fields - set(PLATFORM_IDS))}")

    def for_listener(self, ids: dict[str, str]) -> dict[str, str]:
        """What the end page needs: `url` (placeholders filled, URL-quoted; missing ids are empty) and `code`."""
        shown = {}
        if self.url:
            shown["url"] = self.url.format(**{name: quote(ids.get(name, ""), safe="") for name in PLATFORM_IDS})
        if self.code:
            shown["code"] = self.code
        return shown

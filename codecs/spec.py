"""Codec spec strings: `NAME`, `NAME@POINT`, `NAME@POINT:key=value,key=value`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)(?:@(?P<point>[^:@\s]+))?(?::(?P<options>.*))?$")


@dataclass(frozen=True)
class CodecSpec:
    """A parsed codec spec.

    Args:
        name: registry name, e.g. `opus`.
        point: the operating point as written after `@` (kbps for most codecs, `3.5k` for a low-pass
            cut-off), or None for the codec's default.
        options: extra `key=value` options, as strings.
    """

    name: str
    point: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        text = self.name if self.point is None else f"{self.name}@{self.point}"
        if self.options:
            text += ":" + ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return text

    def __hash__(self) -> int:
        return hash(str(self))


def parse_spec(text: str) -> CodecSpec:
    """Parse `NAME[@POINT][:key=value,...]`.

    Raises:
        ValueError: the text is not a spec.
    """
    text = text.strip()
    match = _SPEC.match(text)
    if not match:
        raise ValueError(f"not a codec spec: {text!r} (expected NAME, NAME@KBPS or NAME@KBPS:key=value,...)")
    options: dict[str, str] = {}
    if match["options"]:
        for item in match["options"].split(","):
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ValueError(f"bad option {item!r} in codec spec {text!r}: expected key=value")
            if key.strip() in options:
                raise ValueError(f"option {key.strip()!r} given twice in codec spec {text!r}")
            options[key.strip()] = value.strip()
    point = match["point"]
    return CodecSpec(name=match["name"].lower(), point=_normalise_point(point), options=options)


def parse_spec_list(texts: list[str]) -> list[CodecSpec]:
    """Parse specs from repeated flags and comma lists (`opus@6,opus@12`); options stay attached."""
    specs: list[CodecSpec] = []
    for text in texts:
        for part in _split_top_level(text):
            specs.append(parse_spec(part))
    return specs


def _split_top_level(text: str) -> list[str]:
    """Split `a@1,b@2:k=v,j=w,c` into specs: a comma starts a new spec unless it follows `:` options
    and the next token is `key=value`."""
    parts: list[str] = []
    for token in text.split(","):
        token = token.strip()
        if not token:
            continue
        if parts and ":" in parts[-1] and "=" in token and "@" not in token.split("=")[0]:
            parts[-1] += "," + token
        else:
            parts.append(token)
    return parts


def _normalise_point(point: str | None) -> str | None:
    """`6.0` -> `6`, `3.50k` -> `3.5k`; other text unchanged."""
    if point is None:
        return None
    suffix = "k" if point.lower().endswith("k") else ""
    number = point[:-1] if suffix else point
    try:
        value = float(number)
    except ValueError:
        return point
    return f"{value:g}{suffix}"

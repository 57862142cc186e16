"""`codecbench codecs`: every registered codec, its operating points and whether it runs here."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("codecs", help="list codecs, operating points and availability",
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.set_defaults(handler=handle)


def codec_table():
    """One row per codec: name, operating points, sample rate, causal, delay, extra, available, reason."""
    import pandas as pd

    from codecbench.codecs import codec_availability, codec_names, get_codec_class
    from codecbench.plugins import RegistryError

    rows = []
    for name in codec_names():
        status = codec_availability(name)
        try:
            cls = get_codec_class(name)
        except RegistryError:
            rows.append({"codec": name, "available": "no", "reason": status.reason})
            continue
        points = ", ".join(f"{p:g}" for p in cls.operating_points) or "-"
        if cls.kbps_range is not None:
            points += f" (any {cls.kbps_range[0]:g}-{cls.kbps_range[1]:g})"
        rows.append({"codec": name, "kbps": points, "rate_hz": cls.sample_rate,
                     "causal": "yes" if cls.causal else "no", "extra": cls.requires.extra or "-",
                     "available": "yes" if status.available else "no", "reason": status.reason})
    return pd.DataFrame(rows).fillna("")


def handle(args: argparse.Namespace) -> int:
    print(codec_table().to_string(index=False))
    print("\nanchors: reference, lowpass@3.5k, lowpass@7k (BS.1534-3)")
    return 0

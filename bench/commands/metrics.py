"""`codecbench metrics`: every registered metric, its columns, rate, direction, range, availability and notes."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("metrics", help="list metrics and availability",
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.set_defaults(handler=handle)


def _identity(cls) -> str:
    """What scoring x against x gives (the contract, tests/test_metric_contract.py)."""
    if not cls.intrusive:
        return "=ref_*" if cls.scores_reference else "-"
    if cls.best_range is None:
        return "see notes"
    low, high = cls.best_range
    return f"{low:g}" if low == high else f"{low:g}..{high:g}"


def metric_table():
    import pandas as pd

    from codecbench.metrics import get_metric_class, in_default_set, metric_availability, metric_names

    rows = []
    for name in metric_names():
        cls = get_metric_class(name)
        status = metric_availability(name)
        rows.append({
            "metric": name, "columns": ",".join(cls.computed_columns()) + (" (+ref_*)" if cls.scores_reference else ""), "rate_hz": cls.sample_rate,
            "intrusive": "yes" if cls.intrusive else "no",
            "better": "higher" if cls.higher_is_better else "lower",
            "range": f"{cls.value_range[0]:g}..{cls.value_range[1]:g}", "f(x,x)": _identity(cls),
            "default": "yes" if in_default_set(name) else "no",
            "available": "yes" if status.available else "no", "reason": status.reason, "notes": cls.notes,
        })
    return pd.DataFrame(rows)


def handle(args: argparse.Namespace) -> int:
    table = metric_table()
    print(table.drop(columns=["reason", "notes"]).to_string(index=False))
    print()
    for row in table.itertuples():
        if row.reason or row.notes:
            print(f"{row.metric}: " + "; ".join(t for t in (row.notes, row.reason and f"unavailable: {row.reason}") if t))
    return 0

"""Benchmarks that check speed and agreement targets; run them and report, they are not timed tests.

Run one with `python -m codecbench.benchmarks.<name> --help`.
"""

"""Reports a paper can use: tables with CIs, paired significance, rankings, plots, claim-check, MUSHRA correlation.

A report is computed from a run's stored results alone (`utterances.parquet`, `run.json`, `manifest.csv`),
never by re-running codecs. Entry point: `build_report(run_dir, ...)`; CLI: `codecbench report RUN_DIR`.
"""

from codecbench.report.build import FORMATS, ReportResult, build_report

__all__ = ["FORMATS", "ReportResult", "build_report"]

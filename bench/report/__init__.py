"""Reports a paper can use: tables with CIs, paired significance, rankings, plots, claim-check, MUSHRA correlation.

A report is computed from runs' stored results alone (`utterances.parquet`, `run.json`, `manifest.csv`), never
by re-running codecs; several runs are checked and merged first (`codecbench.report.merge`). Entry point:
`build_report(run_dir or [run_dirs], ...)`; CLI: `codecbench report RUN_DIR [RUN_DIR ...]`.
"""

from codecbench.report.build import FORMATS, ReportResult, build_report

__all__ = ["FORMATS", "ReportResult", "build_report"]

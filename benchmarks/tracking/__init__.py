"""Tracking-server benchmark: MLflow 3.17.2, FastTrackML and modelyard side by side.

Run from the repository root: ``python -m benchmarks.tracking --help``.
See benchmarks/RESULTS.md for what is measured and how.
"""

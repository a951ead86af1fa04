"""Monitoring: reference profiles, data quality, drift, performance and reports.

>>> from modelyard import monitoring
>>> ref = monitoring.profile(training_frame)                 # doctest: +SKIP
>>> monitoring.drift_report(ref, todays_frame)["dataset_drift"]  # doctest: +SKIP

Needs scipy (``pip install 'modelyard[monitoring]'``) for p-values.
"""

from __future__ import annotations

from .drift import DEFAULT_THRESHOLDS as DEFAULT_THRESHOLDS
from .drift import METHODS as METHODS
from .drift import drift_report as drift_report
from .frames import as_columns as as_columns
from .frames import read_table as read_table
from .performance import estimate_performance as estimate_performance
from .performance import performance as performance
from .profile import MIN_REFERENCE_ROWS as MIN_REFERENCE_ROWS
from .profile import profile as profile
from .quality import DataQualityFailed as DataQualityFailed
from .quality import assert_quality as assert_quality
from .quality import check_quality as check_quality

__all__ = [
    "DEFAULT_THRESHOLDS", "METHODS", "MIN_REFERENCE_ROWS", "DataQualityFailed", "as_columns", "assert_quality",
    "check_quality", "drift_report", "estimate_performance", "performance", "profile", "read_table",
]

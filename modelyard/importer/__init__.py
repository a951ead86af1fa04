"""Moving in from MLflow: ``modelyard import mlflow SOURCE``.

>>> from modelyard import Client
>>> from modelyard.importer import Importer, open_source
>>> summary = Importer(open_source("sqlite:///mlflow.db", "./mlartifacts"), Client()).run()
"""

from __future__ import annotations

from .copy import Importer as Importer
from .source import MlflowSource as MlflowSource
from .source import open_source as open_source
from .summary import Summary as Summary

__all__ = ["Importer", "MlflowSource", "Summary", "open_source"]

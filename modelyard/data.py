"""Datasets for ``my.log_input``: ``my.data.from_pandas``, ``my.data.from_numpy``."""

from .client.data import Dataset as Dataset
from .client.data import from_numpy as from_numpy
from .client.data import from_pandas as from_pandas

__all__ = ["Dataset", "from_numpy", "from_pandas"]

"""Model serving: an ASGI inference server for ``models:/name@alias`` and batch scoring.

>>> from modelyard.serving import create_app, ServingConfig
>>> app = create_app(ServingConfig("models:/churn@champion", poll_interval=10))   # any ASGI server

MLflow's scoring protocol and the Open Inference Protocol v2, validation
against the signature, hot swap when the alias moves, adaptive micro-batching,
Prometheus ``/metrics``, a request log in the tracking store, a try-it page.
``modelyard serve`` and ``modelyard predict`` are the CLI over this package.
"""

from .app import ModelServer as ModelServer
from .app import create_app as create_app
from .batch import predict_file as predict_file
from .config import ServingConfig as ServingConfig
from .inputs import InputReader as InputReader
from .inputs import Inputs as Inputs
from .model import LoadedModel as LoadedModel

__all__ = ["InputReader", "Inputs", "LoadedModel", "ModelServer", "ServingConfig", "create_app", "predict_file"]

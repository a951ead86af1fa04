"""modelyard: track, register, serve and monitor models — one package, MLflow-compatible."""

__version__ = "0.1.0"

"""One module per resource; each exposes ``ROUTES``: (path, methods, endpoint).

Paths in ``ROUTES`` are relative to the MLflow API prefix; the app mounts each
one under ``/api/2.0/mlflow`` and ``/ajax-api/2.0/mlflow`` from this one table.
"""

"""One module per resource. ``create_app`` mounts every module found here.

A module exposes any of these tables of ``(path, methods, endpoint)``:

- ``ROUTES``: the MLflow API, under ``/api/2.0/mlflow`` and ``/ajax-api/2.0/mlflow``;
- ``PROXY_ROUTES``: under ``/api/2.0/mlflow-artifacts`` (and its ``/ajax-api`` twin);
- ``EXTENSION_ROUTES``: our own, under ``/api/2.0/modelyard`` (and ``/ajax-api``);
- ``ABSOLUTE_ROUTES``: paths taken as they are (``/health``).

Each path is written once; the ``/ajax-api`` twins are generated.
"""

"""The REST API as data: request structs (``schemas*``) and the table of operations (``operations``).

The lowest layer beside ``entities``: it imports neither the service nor the server, so the SDK's
HTTP client can use it alone. Each area's operations are declared in one module listed in
:data:`AREAS`.
"""

AREAS = (
    "tracking", "registry", "logged_models", "webhooks", "pipelines", "inference", "auth", "traces", "monitoring",
    "charts", "promotion", "datasets", "usage", "workspaces",
)

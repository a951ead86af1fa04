"""Each operation's handler: its request struct in, the service called, the REST answer out.

``fn(service, request) -> dict | None``, named by the table of operations (:mod:`modelyard.api`):
the server's routes and the SDK's in-process transport both run these, so a call means the same
thing over HTTP and in process. The answer is the JSON the REST API sends (MLflow's shapes),
encoded here, at the edge, never in the store.
"""

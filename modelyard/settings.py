"""Typed settings: every setting has a name, a type, a default and help.

Environment variables share the prefix ``MODELYARD_`` and are read here only,
by :meth:`Settings.from_env`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

PREFIX = "MODELYARD_"


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    backend_store_uri: str = _setting("", "Database URI: sqlite:///PATH or postgresql://USER@HOST:PORT/DB.")
    artifacts_destination: str = _setting(
        "", "Where the server keeps artifacts it proxies: a local path or s3://BUCKET/PREFIX."
    )
    default_artifact_root: str = _setting(
        "", "Artifact root handed to clients for direct access when serve_artifacts is off."
    )
    serve_artifacts: bool = _setting(True, "Proxy artifacts through the server (mlflow-artifacts:/ URIs).")
    host: str = _setting("127.0.0.1", "Address the server listens on.")
    port: int = _setting(5000, "Port the server listens on.")
    workers: int = _setting(1, "Server worker processes.")
    sqlite_synchronous: str = _setting(
        "FULL", "SQLite synchronous pragma: FULL (no acknowledged write lost on power cut) or NORMAL."
    )
    max_request_bytes: int = _setting(64 * 1024 * 1024, "Largest JSON request body the server accepts.")
    max_log_batch_bytes: int = _setting(1_000_000, "Largest MLflow log-batch request body, as MLflow.")
    max_upload_part_bytes: int = _setting(
        5 * 1024**3,
        "Largest part of an mlflow-artifacts multipart upload (S3's own maximum part size by default)."
        " Parts are spooled to disk, never held whole in memory.",
    )
    max_artifact_upload_bytes: int = _setting(
        0, "Largest single artifact uploaded through the mlflow-artifacts proxy; 0 for no limit (as MLflow)."
    )
    inline_small_requests: bool = _setting(
        True,
        "On SQLite, answer small bounded reads (get run) on the event loop instead of a thread hop, and"
        " small MLflow write calls too while nothing else is in flight. Such a write never waits on"
        " another writer's lock (it goes to the writer thread instead), and a slow commit turns this off"
        " for a while. Ignored on PostgreSQL, where round trips would stall the loop.",
    )
    background_workers: bool = _setting(
        True, "Run the server's background workers (webhook deliveries, pipeline scheduler)."
    )
    webhook_poll_interval: float = _setting(
        1.0, "Longest wait between webhook outbox polls while deliveries are pending (an empty outbox is "
        "polled every 5 s; an enqueue in the same process wakes the worker at once)."
    )
    webhook_timeout: float = _setting(10.0, "Seconds a webhook receiver has to answer.")
    webhook_max_attempts: int = _setting(10, "Attempts per webhook delivery before it is marked failed.")
    webhook_backoff_ms: int = _setting(
        1000, "First retry delay of a webhook delivery (doubles each attempt, capped at 10 min)."
    )
    webhook_allow_private_hosts: bool = _setting(
        False,
        "Let webhooks reach loopback, private, link-local and reserved addresses. Off by default, as MLflow's"
        " MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS: anyone who may create a webhook could otherwise make the server"
        " call internal services. Turn on only on a trusted network.",
    )
    scheduler_tick_lease_seconds: float = _setting(
        300.0,
        "How long a server's claim on a schedule tick or a trigger event lasts without renewal. The scheduler"
        " renews it until the launched run records itself; if the server dies first, another takes the tick or"
        " event over once it expires."
        " Keep it well above the time a run's process takes to start.",
    )
    system_metrics_interval: float = _setting(10.0, "Seconds between system-metrics samples of a run.")
    # Artifact roots (issue 13): where experiments may keep artifacts, and the only places the server touches.
    artifact_roots: str = _setting(
        "",
        "More places, besides the artifacts destination and the default artifact root, where experiments may"
        " keep artifacts and the server may read and write them: comma-separated local paths or"
        " s3://BUCKET/PREFIX URIs. An experiment location outside every root is refused (400), and the server"
        " refuses (403) to serve a stored location outside them. '*' accepts any well-formed location (embedded mode,"
        " where the SDK runs in the user's own process, uses it).",
    )
    pipeline_run_as: str = _setting(
        "",
        "With auth on: the account (a service account) whose token the scheduler gives the runs it starts"
        " (schedules, triggers), made for each launch and valid a day. Unset, those runs cannot report to the server.",
    )
    pipeline_modules: str = _setting(
        "",
        "Comma-separated module names (e.g. myteam.flows) whose @pipeline objects the server may run, each under"
        " its name, besides those of the entry-point group modelyard.pipelines. Schedules and triggers name a"
        " registered pipeline; the server never imports a file or module a client names.",
    )
    create_model_version_source_validation_regex: str = _setting(
        "",
        "A regular expression every new model version's source must match (searched, as MLflow's"
        " MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX, which is honoured when this is unset);"
        " empty for no such check. E.g. ^(s3://models/|models:/|runs:/).",
    )

    @property
    def model_version_source_regex(self) -> str:
        """``create_model_version_source_validation_regex``, else MLflow's variable of the same meaning."""
        return self.create_model_version_source_validation_regex or os.environ.get(
            "MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX", "")
    # -- which serialized models a process loads (modelyard/models/trust.py) --
    serve_allow_pickle: bool = _setting(
        False,
        "Let `modelyard serve` load pickle and cloudpickle models (scikit-learn pickle, custom Python models,"
        " PyTorch full-model pickles and pt2 archives). Off by default: unpickling runs code, and the server loads whatever"
        " version its alias is moved to. Same as `modelyard serve --allow-pickle`. load_model and"
        " `modelyard predict` load pickles with a warning.",
    )
    skops_trusted_types: str = _setting(
        "",
        "Comma-separated types skops models may contain, added to the built-in list of scikit-learn's own"
        " compiled types (sklearn.tree._tree.Tree...). A type loads only if it is trusted here and declared in"
        " the model's MLmodel (skops_trusted_types). Same as `modelyard serve|predict --trusted-types`.",
    )
    # -- front door: cross-site requests, DNS rebinding, slow requests (modelyard.web.guard, http_limits) --
    allowed_hosts: str = _setting(
        "",
        "Names the server answers to in the Host header, comma-separated, besides localhost, 127.0.0.1, [::1]"
        " and the --host address (patterns like *.example.com; * allows all). Another Host is refused (403):"
        " that stops DNS rebinding. With --host 0.0.0.0 and this empty, the server warns and allows all.",
    )
    cors_allowed_origins: str = _setting(
        "",
        "Origins (scheme://host:port, comma-separated; patterns with *; * allows all) whose pages may send"
        " POST, PUT, PATCH and DELETE requests. A state-changing request from another site's page is refused"
        " (403); requests without an Origin (clients, scripts) are not affected.",
    )
    request_body_timeout: float = _setting(
        60.0, "Seconds a client has to send a whole request once it began; a slower one is answered 408 and closed."
    )
    csrf_secret: str = _setting(
        "", "Key that signs the web UI's CSRF tokens. Empty: a random key per server start (shared by its workers)."
    )
    # -- operating the store (modelyard db, modelyard gc, server/workers/retention.py) --
    request_log_retention_days: float = _setting(
        0.0,
        "Days the serving request log keeps served requests and their feedback. Older rows are deleted every hour"
        " by the server's background workers, and by `modelyard gc --request-log`. 0 keeps everything.",
    )
    # -- authentication and permissions (modelyard.service.auth, server.auth) --
    auth: bool = _setting(
        False,
        "Require every request to the tracking server to authenticate (HTTP Basic or a bearer token) and"
        " check its permission. Off in embedded mode. Same as `modelyard server --auth`.",
    )
    auth_admin_username: str = _setting(
        "", "With auth on: an admin account created with this name on first start if no such account exists."
    )
    auth_admin_password: str = _setting(
        "", "The password of MODELYARD_AUTH_ADMIN_USERNAME's account (only used to create it; hashed with argon2)."
    )
    auth_default_permission: str = _setting(
        "READ",
        "What a signed-in user may do on an experiment or registered model with no grant of theirs: READ (as"
        " MLflow), EDIT, MANAGE or NO_PERMISSIONS.",
    )
    auth_cache_seconds: float = _setting(
        5.0,
        "How long a verified password, token or grant is trusted before it is read again: a revoke takes effect"
        " within this time on every server process.",
    )
    auth_metrics_open: bool = _setting(
        False,
        "With auth on: let anyone scrape the tracking server's /metrics without credentials (its gauges name"
        " monitors and models). Off: /metrics needs an admin's credentials (a service account's token).",
    )
    # -- authentication, second part: browser sessions, JWTs from an identity provider (server/session.py, service/jwt.py) --
    auth_session_hours: float = _setting(
        12.0, "How long the web UI's session cookie (set by the login page) stays valid, in hours."
    )
    auth_session_secret: str = _setting(
        "",
        "Key that signs the web UI's session cookies. Empty: MODELYARD_CSRF_SECRET's key (random per server start"
        " when that is empty too). Set it, the same everywhere, when several server processes sit behind one"
        " address, so a session made by one is taken by the others.",
    )
    auth_jwt_jwks: str = _setting(
        "",
        "Where the public keys of your identity provider are: a JWKS URL (https://.../jwks.json) or a JWKS file."
        " Set, a bearer token that is a JWT is verified against them (signature, expiry, issuer, audience) and its"
        " user signed in; empty, JWTs are not accepted. Needs the auth extra (PyJWT).",
    )
    auth_jwt_issuer: str = _setting("", "The `iss` a JWT must carry (empty: any issuer; set it in production).")
    auth_jwt_audience: str = _setting("", "The `aud` a JWT must carry, e.g. this server's client id (empty: any).")
    auth_jwt_username_claim: str = _setting(
        "sub", "The JWT claim that holds the user name (e.g. preferred_username or email). An account of that"
        " name is made on first sign-in (no password; grants are given to it like any other)."
    )
    auth_jwt_groups_claim: str = _setting(
        "groups", "The JWT claim that lists the user's groups: at each sign-in, an sso account is made a member of"
        " exactly the groups of those names that exist here (`modelyard groups create`). Empty: groups are managed"
        " here only."
    )
    auth_jwt_algorithms: str = _setting(
        "RS256,RS384,RS512,PS256,ES256,ES384,EdDSA",
        "Signature algorithms a JWT may use, comma-separated (never none, nor HS*: the keys are public).",
    )

    # ---- monitoring (issue 17) ----
    monitor_poll_interval: float = _setting(
        5.0, "Seconds between a server's checks for due monitors (0 turns the monitor scheduler off in that process)."
    )
    monitor_lease_seconds: float = _setting(
        600.0, "Seconds a server holds a due monitor while running it; another server runs it after that if it died."
    )
    monitoring_min_reference_rows: int = _setting(
        100, "Fewest rows a reference profile may be built from; a smaller reference is refused naming this minimum."
    )
    monitoring_text_embeddings: bool = _setting(
        False, "Profile text columns with a sample of all-MiniLM-L6-v2 embeddings and test their drift on them"
        " (MMD, permutation p-value); needs the monitoring-text extra."
    )

    # ---- traces: privacy, storage (issue 18; service/trace_privacy.py, service/gc.py) ----
    trace_redact_patterns: str = _setting(
        "",
        "Regular expressions whose matches are replaced in traces before anything is stored: one pattern, or a"
        " JSON list of patterns. Applied to span attributes"
        " (inputs and outputs included), events, status messages, request/response previews, and tag and"
        " metadata values but ids (run, user, session), on every way in (OTLP, the mlflow client, the SDK).",
    )
    trace_redact_replacement: str = _setting("[REDACTED]", "What a match of trace_redact_patterns becomes.")
    trace_redact_function: str = _setting(
        "",
        "A Python function, package.module:function, called as fn(key, value) for every span attribute, event"
        " attribute, tag and metadata entry of a trace before it is stored (after the patterns): it returns the"
        " value to keep, or None to drop the entry.",
    )
    trace_max_payload_chars: int = _setting(
        1_000_000,
        "Longest span input or output (mlflow.spanInputs/Outputs, as JSON text) stored whole in the database;"
        " a longer one is cut to this length with a marker naming its full length, and its whole text is kept"
        " as an artifact of the trace (spans/<span_id>/inputs.json). 0 stores everything whole.",
    )
    trace_retention_days: float = _setting(
        0.0,
        "Days an experiment keeps its traces, unless its tag modelyard.traces.retention_days says otherwise."
        " Older traces are deleted every hour by the server's background workers and by `modelyard gc --traces`."
        " 0 keeps everything.",
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``MODELYARD_*`` variables, then explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f.type, raw, f.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any, str]]:
        """(environment variable, type, default, help) of every setting."""
        return [(PREFIX + f.name.upper(), str(f.type), f.default, f.metadata["help"]) for f in fields(cls)]


def _parse(kind: Any, raw: str, name: str) -> Any:
    kind = str(kind)
    if kind == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{PREFIX}{name.upper()}={raw!r} is not a boolean: use true or false.")
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{PREFIX}{name.upper()}={raw!r} is not an integer.") from None
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{PREFIX}{name.upper()}={raw!r} is not a number.") from None
    return raw

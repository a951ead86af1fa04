"""What a serving process is told: the model URI, where the registry is, and its knobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models.trust import TrustPolicy


def _setting(default: object, help: str) -> object:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ServingConfig:
    """Settings of ``modelyard serve`` / :func:`modelyard.serving.create_app` (each with its CLI option)."""

    model_uri: str = _setting("", "models:/name@alias, models:/name/N, runs:/id/path or a local path.")  # type: ignore[assignment]
    tracking_uri: str | None = _setting(None, "Tracking URI of the registry and request log (default: the SDK's).")  # type: ignore[assignment]
    model_name: str | None = _setting(None, "Name reported for the model (default: from the URI).")  # type: ignore[assignment]
    poll_interval: float = _setting(30.0, "Seconds between registry checks of an alias; 0 turns polling off.")  # type: ignore[assignment]
    max_batch_size: int = _setting(32, "Most requests predicted together in one micro-batch.")  # type: ignore[assignment]
    max_wait_ms: float = _setting(2.0, "Longest a batch waits for requests still arriving (never when idle).")  # type: ignore[assignment]
    inline_predict_ms: float = _setting(
        5.0, "Models predicting faster than this (on their example) run on the event loop; slower ones on a thread.")  # type: ignore[assignment]
    request_log: bool = _setting(True, "Write every prediction to the tracking store's inference table.")  # type: ignore[assignment]
    request_log_queue: int = _setting(10_000, "Request-log entries held in memory; more are dropped and counted.")  # type: ignore[assignment]
    request_log_flush_s: float = _setting(0.5, "Seconds between request-log writes.")  # type: ignore[assignment]
    webhook_secret: str | None = _setting(None, "Secret of the registry webhook; when set, signatures are checked.")  # type: ignore[assignment]
    max_request_bytes: int = _setting(
        64 * 1024 * 1024, "Largest request body accepted (413 beyond it; a chunked body is cut off at the limit).")  # type: ignore[assignment]
    metrics_dir: str | None = _setting(
        None, "Directory shared by worker processes to sum their metrics (modelyard serve --workers N sets it).")  # type: ignore[assignment]
    metrics_flush_s: float = _setting(1.0, "Seconds between writes of a worker's metrics to metrics_dir.")  # type: ignore[assignment]
    allow_pickle: bool | None = _setting(
        None, "Load pickle/cloudpickle models (they run code while loading); None: MODELYARD_SERVE_ALLOW_PICKLE.")  # type: ignore[assignment]
    trusted_types: tuple[str, ...] = _setting(
        (), "skops types trusted beyond scikit-learn's own and MODELYARD_SKOPS_TRUSTED_TYPES.")  # type: ignore[assignment]

    # The front door (modelyard.web.guard, modelyard.web.http_limits): as the tracking server's, with settings of its own.
    host: str = _setting("127.0.0.1", "Address the server listens on; its name is answered in the Host header.")  # type: ignore[assignment]
    allowed_hosts: str = _setting(
        "", "More names answered in the Host header, comma-separated (* allows all; MODELYARD_SERVE_ALLOWED_HOSTS)."
        " /health, /ping and /v2/health/* answer any Host.")  # type: ignore[assignment]
    cors_allowed_origins: str = _setting(
        "", "Origins whose pages may POST here, comma-separated (MODELYARD_SERVE_CORS_ALLOWED_ORIGINS).")  # type: ignore[assignment]
    tokens: str = _setting(
        "", "Bearer tokens, comma-separated: when set, every request but the probes must send one"
        " (MODELYARD_SERVE_TOKENS).")  # type: ignore[assignment]
    request_body_timeout: float = _setting(
        60.0, "Seconds a client has to send a whole request; a slower one is answered 408 and closed.")  # type: ignore[assignment]

    def trust(self) -> TrustPolicy:
        """The loaders' policy: pickles refused unless allowed, skops types from the lists above."""
        from ..models.trust import serving_policy

        return serving_policy(self.allow_pickle, self.trusted_types)

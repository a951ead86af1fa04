"""Operations on the serving request log and its ground-truth feedback (our extension)."""

from __future__ import annotations

from . import schemas_inference as s
from .operations import EXT, Table, edit, read

t = Table("inference", "modelyard.service.handlers")

LOG_REQUESTS = t.add("log_inference_requests", "POST", f"{EXT}/inference/requests", s.LogRequests,
                     "inference:log_requests", edit("registered_model", "requests.model_name"), idempotent=True,
                     summary="Store served requests (a request id stored twice is kept once).")
SEARCH_REQUESTS = t.add("search_inference_requests", "GET", f"{EXT}/inference/requests", s.SearchRequests,
                        "inference:search_requests", read("registered_model", "model_name", absent_means_every=True),
                        idempotent=True,
                        summary="Served requests of a model, newest first, with their labels.")
LOG_FEEDBACK = t.add("log_inference_feedback", "POST", f"{EXT}/inference/feedback", s.LogFeedback,
                     "inference:log_feedback", edit("inference"), idempotent=True,
                     summary="Attach ground-truth labels to served requests.")

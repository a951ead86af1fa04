"""Operations on LLM traces and their assessments (MLflow 3's tracing API).

Paths and methods are MLflow 3.17's (``service.proto``). The official client reaches some under
``/api/2.0/mlflow`` (tags, delete-traces, link-to-run, link-prompts) and the rest under
``/api/3.0/mlflow``; the first kind answers under both. A trace belongs to an experiment: reading
one needs READ on it, changing one EDIT, deleting every trace of a user or session (our extension,
under ``/api/2.0/modelyard``) MANAGE. Spans arrive through ``POST /v1/traces`` (OTLP), a route
of its own (``server/routes/traces.py``).
"""

from __future__ import annotations

from . import schemas_traces as s
from .operations import API, EXT, Table, edit, manage, read

t = Table("traces", "modelyard.service.handlers")
V3 = "/api/3.0/mlflow"
READ_TRACE = read("trace", "trace_id")
EDIT_TRACE = edit("trace", "trace_id")


def both(path: str) -> dict[str, tuple[str, ...]]:
    return {"alt": (f"{API}{path}",)}


DELETE_TRACES = t.add("delete_traces", "POST", f"{V3}/traces/delete-traces", s.DeleteTraces,
                      "traces:delete_traces", edit("experiment", "experiment_id"), idempotent=True,
                      summary="Delete traces of an experiment by id, or older than a time.", **both("/traces/delete-traces"))
DELETE_TRACES_OF = t.add("delete_traces_of", "POST", f"{EXT}/traces/delete-of", s.DeleteTracesOf,
                         "traces:delete_traces_of", manage("experiment", "experiment_id"), idempotent=True,
                         summary="Delete every trace of one user or one session in an experiment (privacy).")
LINK_TO_RUN = t.add("link_traces_to_run", "POST", f"{V3}/traces/link-to-run", s.LinkTracesToRun,
                    "traces:link_traces_to_run", edit("run", "run_id"), idempotent=True,
                    summary="Link traces to a run.", **both("/traces/link-to-run"))
LINK_PROMPTS = t.add("link_prompts_to_trace", "POST", f"{V3}/traces/link-prompts", s.LinkPromptsToTrace,
                     "traces:link_prompts_to_trace", EDIT_TRACE, idempotent=True,
                     summary="Record the prompt versions a trace used.", **both("/traces/link-prompts"))
SET_TAG = t.add("set_trace_tag", "PATCH", f"{V3}/traces/{{request_id}}/tags", s.SetTraceTag, "traces:set_trace_tag",
                edit("trace", "request_id"), idempotent=True, summary="Set a tag on a trace.",
                **both("/traces/{request_id}/tags"))
DELETE_TAG = t.add("delete_trace_tag", "DELETE", f"{V3}/traces/{{request_id}}/tags", s.DeleteTraceTag,
                   "traces:delete_trace_tag", edit("trace", "request_id"), idempotent=True,
                   summary="Remove a tag from a trace.", **both("/traces/{request_id}/tags"))
START_TRACE = t.add("start_trace", "POST", f"{V3}/traces", s.StartTrace, "traces:start_trace",
                    edit("experiment", "trace.trace_info.trace_location.mlflow_experiment.experiment_id"), idempotent=True,
                    hot=True, summary="Record a trace's info (its spans come over OTLP).")
SEARCH_TRACES = t.add("search_traces", "POST", f"{V3}/traces/search", s.SearchTraces, "traces:search_traces",
                      read("experiment", "experiment_ids"), idempotent=True,
                      summary="Trace infos of experiments matching a filter, newest first, paged.")
GET_TRACE = t.add("get_trace", "GET", f"{V3}/traces/get", s.GetTrace, "traces:get_trace", READ_TRACE,
                  idempotent=True, summary="A trace with its spans (a page of spans with max_spans).")
BATCH_GET = t.add("batch_get_traces", "GET", f"{V3}/traces/batchGet", s.BatchGetTraces, "traces:batch_get_traces",
                  read("trace", "trace_ids"), idempotent=True, summary="Several traces with their spans.")
BATCH_GET_INFOS = t.add("batch_get_trace_infos", "POST", f"{V3}/traces/batchGetInfos", s.BatchGetTraces,
                        "traces:batch_get_trace_infos", read("trace", "trace_ids"), idempotent=True,
                        summary="The infos of several traces.")
GET_TRACE_INFO = t.add("get_trace_info", "GET", f"{V3}/traces/{{trace_id}}", s.TraceId, "traces:get_trace_info",
                       READ_TRACE, idempotent=True, summary="A trace's info.")
CREATE_ASSESSMENT = t.add("create_assessment", "POST", f"{V3}/traces/{{trace_id}}/assessments", s.CreateAssessment,
                          "traces:create_assessment", EDIT_TRACE,
                          summary="Attach feedback or an expectation to a trace.")
GET_ASSESSMENT = t.add("get_assessment", "GET", f"{V3}/traces/{{trace_id}}/assessments/{{assessment_id}}",
                       s.AssessmentId, "traces:get_assessment", READ_TRACE, idempotent=True,
                       summary="One assessment of a trace.")
UPDATE_ASSESSMENT = t.add("update_assessment", "PATCH", f"{V3}/traces/{{trace_id}}/assessments/{{assessment_id}}",
                          s.UpdateAssessment, "traces:update_assessment", EDIT_TRACE, idempotent=True,
                          summary="Change an assessment's value, rationale or validity.")
DELETE_ASSESSMENT = t.add("delete_assessment", "DELETE", f"{V3}/traces/{{trace_id}}/assessments/{{assessment_id}}",
                          s.AssessmentId, "traces:delete_assessment", EDIT_TRACE, idempotent=True,
                          summary="Delete an assessment (an overridden one becomes valid again).")

"""The trace pages of the web UI (``server/ui/traces.py``, ``server/ui/review.py``): an experiment's
traces, one trace, a span, the review queue, assessments logged from a page, the assessments' export;
an evaluation dataset's page and evaluations side by side (``server/ui/evaluations.py``).

Reading needs READ on the experiment (of the trace), as every other page; logging feedback or an
expectation needs EDIT on the trace's experiment, as the REST API's ``create_assessment``.
"""

from __future__ import annotations

from ..ui import evaluations, review, traces
from ..ui.render import action, page

READ_EXPERIMENT = ("READ", "experiment", "experiment_id")
READ_TRACE, EDIT_TRACE = ("READ", "trace", "trace_id"), ("EDIT", "trace", "trace_id")

ABSOLUTE_ROUTES = [
    ("/experiments/{experiment_id}/traces", ["GET"], page(traces.traces_page, READ_EXPERIMENT)),
    ("/experiments/{experiment_id}/review", ["GET"], page(review.review_page, READ_EXPERIMENT)),
    ("/experiments/{experiment_id}/assessments.{format}", ["GET"], page(review.export, READ_EXPERIMENT)),
    ("/traces/{trace_id}", ["GET"], page(traces.trace_page, READ_TRACE)),
    ("/traces/{trace_id}/spans/{span_id}", ["GET"], page(traces.span_fragment, READ_TRACE)),
    ("/traces/{trace_id}/assessments", ["POST"], action(review.add_assessment, EDIT_TRACE)),
    # Evaluations: a dataset's evaluation runs (READ on the dataset; runs of experiments the caller may read),
    # and evaluation runs side by side (READ on each run, checked inside).
    ("/datasets/{dataset_id}", ["GET"], page(evaluations.dataset_page, ("READ", "dataset", "dataset_id"))),
    ("/evaluations/compare", ["GET"], page(evaluations.compare_page)),
]

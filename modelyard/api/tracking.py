"""Operations on experiments, runs and metrics (MLflow's tracking API)."""

from __future__ import annotations

from . import schemas as s
from .operations import API, Table, edit, manage, read

t = Table("tracking", "modelyard.service.handlers")
EXP = read("experiment", "experiment_id")
EXP_EDIT = edit("experiment", "experiment_id")
EXP_MANAGE = manage("experiment", "experiment_id")  # deleting and restoring (as MLflow's can_delete)
RUN = read("run", "run_id")
RUN_EDIT = edit("run", "run_id")
RUN_MANAGE = manage("run", "run_id")

# ---- experiments ---------------------------------------------------------------
CREATE_EXPERIMENT = t.add("create_experiment", "POST", f"{API}/experiments/create", s.CreateExperiment,
                          "experiments:create", edit(), summary="Create an experiment; answers its id.")
GET_EXPERIMENT = t.add("get_experiment", "GET", f"{API}/experiments/get", s.ExperimentId, "experiments:get", EXP,
                       idempotent=True, summary="An experiment by id.")
GET_EXPERIMENT_BY_NAME = t.add("get_experiment_by_name", "GET", f"{API}/experiments/get-by-name",
                               s.GetExperimentByName, "experiments:get_by_name", read("experiment", "experiment_name"),
                               idempotent=True, summary="An experiment by name.")
SEARCH_EXPERIMENTS = t.add("search_experiments", "POST", f"{API}/experiments/search", s.SearchExperiments,
                           "experiments:search", read(), idempotent=True, also=("GET",), summary="Experiments matching a filter, ordered, one page at a time.")
UPDATE_EXPERIMENT = t.add("update_experiment", "POST", f"{API}/experiments/update", s.UpdateExperiment,
                          "experiments:update", EXP_EDIT, idempotent=True, summary="Rename an experiment.")
DELETE_EXPERIMENT = t.add("delete_experiment", "POST", f"{API}/experiments/delete", s.ExperimentId,
                          "experiments:delete", EXP_MANAGE,
                          idempotent=True, summary="Move an experiment and its runs to the deleted stage (restorable until purged).")
RESTORE_EXPERIMENT = t.add("restore_experiment", "POST", f"{API}/experiments/restore", s.ExperimentId,
                           "experiments:restore", EXP_MANAGE, idempotent=True, summary="Bring a deleted experiment back.")
SET_EXPERIMENT_TAG = t.add("set_experiment_tag", "POST", f"{API}/experiments/set-experiment-tag",
                           s.SetExperimentTag, "experiments:set_tag", EXP_EDIT, idempotent=True, summary="Set a tag on an experiment.")
DELETE_EXPERIMENT_TAG = t.add("delete_experiment_tag", "POST", f"{API}/experiments/delete-experiment-tag",
                              s.DeleteExperimentTag, "experiments:delete_tag", EXP_EDIT, idempotent=True, summary="Remove a tag from an experiment.")
SEARCH_DATASETS = t.add("search_datasets", "POST", "/ajax-api/2.0/mlflow/experiments/search-datasets",
                        s.SearchDatasets, "experiments:search_datasets", read(), idempotent=True, summary="The datasets the runs of some experiments used (MLflow's UI call).")

# ---- runs ----------------------------------------------------------------------
CREATE_RUN = t.add("create_run", "POST", f"{API}/runs/create", s.CreateRun, "runs:create",
                   edit("experiment", "experiment_id"), hot=True, summary="Start a run in an experiment.")
GET_RUN = t.add("get_run", "GET", f"{API}/runs/get", s.RunId, "runs:get", RUN, idempotent=True, inline=True, summary="A run with its params, tags, latest metrics and inputs.")
UPDATE_RUN = t.add("update_run", "POST", f"{API}/runs/update", s.UpdateRun, "runs:update", RUN_EDIT,
                   idempotent=True, hot=True, summary="Set a run's status, end time or name.")
DELETE_RUN = t.add("delete_run", "POST", f"{API}/runs/delete", s.RunId, "runs:delete", RUN_MANAGE, idempotent=True, summary="Move a run to the deleted stage.")
RESTORE_RUN = t.add("restore_run", "POST", f"{API}/runs/restore", s.RunId, "runs:restore", RUN_MANAGE,
                    idempotent=True, summary="Bring a deleted run back.")
SEARCH_RUNS = t.add("search_runs", "POST", f"{API}/runs/search", s.SearchRuns, "runs:search",
                    read("experiment", "experiment_ids"), idempotent=True, also=("GET",), summary="Runs of some experiments matching a filter, ordered, one page at a time.")
LOG_METRIC = t.add("log_metric", "POST", f"{API}/runs/log-metric", s.LogMetric, "runs:log_metric", RUN_EDIT,
                   hot=True, summary="Log one metric point.")  # a point sent twice is stored twice: not idempotent
LOG_PARAM = t.add("log_param", "POST", f"{API}/runs/log-parameter", s.LogParam, "runs:log_param", RUN_EDIT,
                  idempotent=True, hot=True, summary="Log one param (a param cannot change once logged).")
SET_TAG = t.add("set_tag", "POST", f"{API}/runs/set-tag", s.SetTag, "runs:set_tag", RUN_EDIT, idempotent=True,
                hot=True, summary="Set a tag on a run.")
DELETE_TAG = t.add("delete_tag", "POST", f"{API}/runs/delete-tag", s.DeleteTag, "runs:delete_tag", RUN_EDIT,
                   idempotent=True, summary="Remove a tag from a run.")
LOG_BATCH = t.add("log_batch", "POST", f"{API}/runs/log-batch", s.LogBatch, "runs:log_batch", RUN_EDIT,
                  hot=True, max_bytes_setting="max_log_batch_bytes", too_large="batch", summary="Log metrics, params and tags of a run at once.")
LOG_INPUTS = t.add("log_inputs", "POST", f"{API}/runs/log-inputs", s.LogInputs, "runs:log_inputs", RUN_EDIT, summary="Record the datasets and logged models a run used.")

# ---- metrics -------------------------------------------------------------------
GET_METRIC_HISTORY = t.add("get_metric_history", "GET", f"{API}/metrics/get-history", s.GetMetricHistory,
                           "metrics:get_history", RUN, idempotent=True, summary="Every point of one metric of a run, paged.")
GET_METRIC_HISTORY_BULK_INTERVAL = t.add(
    "get_metric_history_bulk_interval", "GET", f"{API}/metrics/get-history-bulk-interval",
    s.GetMetricHistoryBulkInterval, "metrics:get_history_bulk_interval", read("run", "run_ids"), idempotent=True, summary="Points of one metric across runs, sampled over a step range.")
GET_METRIC_HISTORY_BULK = t.add(
    "get_metric_history_bulk", "GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk", s.GetMetricHistoryBulk,
    "metrics:get_history_bulk", read("run", "run_id"), idempotent=True, summary="Points of one metric across up to 100 runs (MLflow's UI call).")

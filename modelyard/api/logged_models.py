"""Operations on MLflow 3's logged models, and ``runs/outputs``.

Paths and methods are MLflow's (``service.proto``): the model id travels in the path. A logged
model is a thing of its experiment, as a run is: writing to it (deleting it too) takes EDIT.
Downloading one of its artifacts (``/logged-models/{model_id}/artifacts/files``, a stream) is a
route of ``modelyard.server.routes.logged_models``.
"""

from __future__ import annotations

from . import schemas_logged_models as s
from .operations import API, Table, edit, read

t = Table("logged_models", "modelyard.service.handlers")
M = f"{API}/logged-models"
MODEL = read("logged_model", "model_id")
MODEL_EDIT = edit("logged_model", "model_id")

CREATE_LOGGED_MODEL = t.add("create_logged_model", "POST", M, s.CreateLoggedModel, "logged_models:create",
                            edit("experiment", "experiment_id"))
SEARCH_LOGGED_MODELS = t.add("search_logged_models", "POST", f"{M}/search", s.SearchLoggedModels,
                             "logged_models:search", read("experiment", "experiment_ids"), idempotent=True)
GET_LOGGED_MODEL = t.add("get_logged_model", "GET", f"{M}/{{model_id}}", s.GetLoggedModel, "logged_models:get",
                         MODEL, idempotent=True)
FINALIZE_LOGGED_MODEL = t.add("finalize_logged_model", "PATCH", f"{M}/{{model_id}}", s.FinalizeLoggedModel,
                              "logged_models:finalize", MODEL_EDIT, idempotent=True)
DELETE_LOGGED_MODEL = t.add("delete_logged_model", "DELETE", f"{M}/{{model_id}}", s.ModelId, "logged_models:delete",
                            MODEL_EDIT, idempotent=True)
SET_LOGGED_MODEL_TAGS = t.add("set_logged_model_tags", "PATCH", f"{M}/{{model_id}}/tags", s.SetLoggedModelTags,
                              "logged_models:set_tags", MODEL_EDIT, idempotent=True)
DELETE_LOGGED_MODEL_TAG = t.add("delete_logged_model_tag", "DELETE", f"{M}/{{model_id}}/tags/{{tag_key:path}}",
                                s.DeleteLoggedModelTag, "logged_models:delete_tag", MODEL_EDIT, idempotent=True)
# Params are write-once: the same value again is a no-op.
LOG_LOGGED_MODEL_PARAMS = t.add("log_logged_model_params", "POST", f"{M}/{{model_id}}/params",
                                s.LogLoggedModelParams, "logged_models:log_params", MODEL_EDIT, idempotent=True)
LIST_LOGGED_MODEL_ARTIFACTS = t.add("list_logged_model_artifacts", "GET", f"{M}/{{model_id}}/artifacts/directories",
                                    s.ListLoggedModelArtifacts, "logged_models:list_artifacts", MODEL,
                                    idempotent=True)
# A (model, step) pair is stored once.
LOG_OUTPUTS = t.add("log_outputs", "POST", f"{API}/runs/outputs", s.LogOutputs, "logged_models:log_outputs",
                    edit("run", "run_id"), idempotent=True)

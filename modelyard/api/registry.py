"""Operations on registered models and model versions (MLflow's model registry API), and our audit trail.

Permissions follow MLflow's: reading a model needs READ on it, changing it or adding versions EDIT,
and deleting the model, a version, a tag or an alias MANAGE (MLflow's "delete" is MANAGE's).
"""

from __future__ import annotations

from . import schemas_registry as s
from .operations import API, EXT, Table, edit, manage, read

t = Table("registry", "modelyard.service.handlers")
RM = f"{API}/registered-models"
MV = f"{API}/model-versions"
MODEL = read("registered_model", "name")
MODEL_EDIT = edit("registered_model", "name")
MODEL_MANAGE = manage("registered_model", "name")

# ---- registered models ---------------------------------------------------------
CREATE_REGISTERED_MODEL = t.add("create_registered_model", "POST", f"{RM}/create", s.CreateRegisteredModel,
                                "registered_models:create", edit())
GET_REGISTERED_MODEL = t.add("get_registered_model", "GET", f"{RM}/get", s.Name, "registered_models:get", MODEL,
                             idempotent=True)
# A rename moves the model's name: asked again after a lost answer, the old name is gone.
RENAME_REGISTERED_MODEL = t.add("rename_registered_model", "POST", f"{RM}/rename", s.RenameRegisteredModel,
                                "registered_models:rename", MODEL_EDIT)
UPDATE_REGISTERED_MODEL = t.add("update_registered_model", "PATCH", f"{RM}/update", s.UpdateRegisteredModel,
                                "registered_models:update", MODEL_EDIT, idempotent=True)
DELETE_REGISTERED_MODEL = t.add("delete_registered_model", "DELETE", f"{RM}/delete", s.Name,
                                "registered_models:delete", MODEL_MANAGE, idempotent=True)
SEARCH_REGISTERED_MODELS = t.add("search_registered_models", "GET", f"{RM}/search", s.SearchRegisteredModels,
                                 "registered_models:search", read(), idempotent=True)
GET_LATEST_VERSIONS = t.add("get_latest_versions", "POST", f"{RM}/get-latest-versions", s.GetLatestVersions,
                            "registered_models:latest_versions", MODEL, idempotent=True, also=("GET",))
SET_REGISTERED_MODEL_TAG = t.add("set_registered_model_tag", "POST", f"{RM}/set-tag", s.SetRegisteredModelTag,
                                 "registered_models:set_tag", MODEL_EDIT, idempotent=True)
DELETE_REGISTERED_MODEL_TAG = t.add("delete_registered_model_tag", "DELETE", f"{RM}/delete-tag",
                                    s.DeleteRegisteredModelTag, "registered_models:delete_tag", MODEL_EDIT,
                                    idempotent=True)
SET_REGISTERED_MODEL_ALIAS = t.add("set_registered_model_alias", "POST", f"{RM}/alias", s.SetRegisteredModelAlias,
                                   "registered_models:set_alias", MODEL_EDIT, idempotent=True)
DELETE_REGISTERED_MODEL_ALIAS = t.add("delete_registered_model_alias", "DELETE", f"{RM}/alias", s.Alias,
                                      "registered_models:delete_alias", MODEL_EDIT, idempotent=True)
GET_MODEL_VERSION_BY_ALIAS = t.add("get_model_version_by_alias", "GET", f"{RM}/alias", s.Alias,
                                   "registered_models:get_by_alias", MODEL, idempotent=True)

# ---- model versions ------------------------------------------------------------
CREATE_MODEL_VERSION = t.add("create_model_version", "POST", f"{MV}/create", s.CreateModelVersion,
                             "model_versions:create", MODEL_EDIT)
GET_MODEL_VERSION = t.add("get_model_version", "GET", f"{MV}/get", s.Version, "model_versions:get", MODEL,
                          idempotent=True)
UPDATE_MODEL_VERSION = t.add("update_model_version", "PATCH", f"{MV}/update", s.UpdateModelVersion,
                             "model_versions:update", MODEL_EDIT, idempotent=True)
DELETE_MODEL_VERSION = t.add("delete_model_version", "DELETE", f"{MV}/delete", s.Version, "model_versions:delete",
                             MODEL_MANAGE, idempotent=True)
TRANSITION_MODEL_VERSION_STAGE = t.add("transition_model_version_stage", "POST", f"{MV}/transition-stage",
                                       s.TransitionModelVersionStage, "model_versions:transition_stage",
                                       MODEL_EDIT, idempotent=True)
GET_MODEL_VERSION_DOWNLOAD_URI = t.add("get_model_version_download_uri", "GET", f"{MV}/get-download-uri",
                                       s.Version, "model_versions:download_uri", MODEL, idempotent=True)
SEARCH_MODEL_VERSIONS = t.add("search_model_versions", "GET", f"{MV}/search", s.SearchModelVersions,
                              "model_versions:search", read(), idempotent=True)
SET_MODEL_VERSION_TAG = t.add("set_model_version_tag", "POST", f"{MV}/set-tag", s.SetModelVersionTag,
                              "model_versions:set_tag", MODEL_EDIT, idempotent=True)
DELETE_MODEL_VERSION_TAG = t.add("delete_model_version_tag", "DELETE", f"{MV}/delete-tag", s.DeleteModelVersionTag,
                                 "model_versions:delete_tag", MODEL_EDIT, idempotent=True)

# ---- our extension -------------------------------------------------------------
REGISTRY_AUDIT = t.add("registry_audit", "GET", f"{EXT}/registry/audit", s.RegistryAudit, "registered_models:audit",
                       MODEL, idempotent=True)

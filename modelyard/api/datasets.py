"""Operations on evaluation datasets (MLflow 3's ``mlflow.genai.datasets`` API), under ``/api/3.0/mlflow/datasets``.

A dataset belongs to the experiments it is linked to: reading one needs READ on its first
experiment, changing one EDIT (a dataset linked to none is the server's: any signed-in user).
Creating one needs EDIT on each experiment it names.
"""

from __future__ import annotations

from . import schemas_datasets as s
from .operations import Table, edit, read

t = Table("datasets", "modelyard.service.handlers")
DS = "/api/3.0/mlflow/datasets"
READ_DS = read("dataset", "dataset_id")
EDIT_DS = edit("dataset", "dataset_id")
ALT = {"alt": ("/api/2.0/mlflow/datasets/search",)}

CREATE = t.add("create_dataset", "POST", f"{DS}/create", s.CreateDataset, "datasets:create_dataset",
               edit("experiment", "experiment_ids"), summary="Create an evaluation dataset in some experiments.")
SEARCH = t.add("search_datasets_v3", "POST", f"{DS}/search", s.SearchEvaluationDatasets, "datasets:search_datasets",
               read("experiment", "experiment_ids"), idempotent=True, also=("GET",),
               summary="Evaluation datasets matching a filter, newest first, paged.")
GET = t.add("get_dataset", "GET", f"{DS}/{{dataset_id}}", s.GetDataset, "datasets:get_dataset", READ_DS,
            idempotent=True, summary="An evaluation dataset's metadata (its records are read apart).")
DELETE = t.add("delete_dataset", "DELETE", f"{DS}/{{dataset_id}}", s.DatasetId, "datasets:delete_dataset", EDIT_DS,
               idempotent=True, summary="Delete an evaluation dataset with its records.")
SET_TAGS = t.add("set_dataset_tags", "PATCH", f"{DS}/{{dataset_id}}/tags", s.SetDatasetTags,
                 "datasets:set_dataset_tags", EDIT_DS, idempotent=True, summary="Set tags on a dataset (merged).")
DELETE_TAG = t.add("delete_dataset_tag", "DELETE", f"{DS}/{{dataset_id}}/tags/{{key}}", s.DeleteDatasetTag,
                   "datasets:delete_dataset_tag", EDIT_DS, idempotent=True, summary="Remove a tag from a dataset.")
UPSERT_RECORDS = t.add("upsert_dataset_records", "POST", f"{DS}/{{dataset_id}}/records", s.UpsertDatasetRecords,
                       "datasets:upsert_dataset_records", EDIT_DS, idempotent=True,
                       summary="Merge records into a dataset: new inputs are added, known inputs updated.")
GET_RECORDS = t.add("get_dataset_records", "GET", f"{DS}/{{dataset_id}}/records", s.GetDatasetRecords,
                    "datasets:get_dataset_records", READ_DS, idempotent=True,
                    summary="A page of a dataset's records (a JSON list), oldest first.")
DELETE_RECORDS = t.add("delete_dataset_records", "DELETE", f"{DS}/{{dataset_id}}/records", s.DeleteDatasetRecords,
                       "datasets:delete_dataset_records", EDIT_DS, idempotent=True,
                       summary="Delete records of a dataset by id.")
EXPERIMENT_IDS = t.add("get_dataset_experiment_ids", "GET", f"{DS}/{{dataset_id}}/experiment-ids", s.DatasetId,
                       "datasets:get_dataset_experiment_ids", READ_DS, idempotent=True,
                       summary="The experiments a dataset belongs to.")
ADD_EXPERIMENTS = t.add("add_dataset_to_experiments", "POST", f"{DS}/{{dataset_id}}/add-experiments",
                        s.DatasetExperiments, "datasets:add_dataset_to_experiments", EDIT_DS, idempotent=True,
                        summary="Link a dataset to more experiments.")
REMOVE_EXPERIMENTS = t.add("remove_dataset_from_experiments", "POST", f"{DS}/{{dataset_id}}/remove-experiments",
                           s.DatasetExperiments, "datasets:remove_dataset_from_experiments", EDIT_DS, idempotent=True,
                           summary="Unlink a dataset from experiments.")

"""Copy an MLflow installation into modelyard through the SDK, idempotently and resumably.

Every object created carries ``modelyard.import.source`` (the installation) and
``modelyard.import.source_id`` (its MLflow id) from its first write, so a later
pass finds it instead of copying it again. Runs and logged models get
``modelyard.import.complete`` once everything of theirs has arrived; one that
lacks it (an interrupted pass) is finished on the next pass — metric points,
params, tags, inputs and files are all written so that a repeat stores nothing
twice. MLflow's ids map to modelyard's through those tags.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..client import Client
from ..entities import Experiment, LifecycleStage, LoggedModelInput, PagedList, Param, Run, RunTag, ViewType
from ..entities.logged_models import LoggedModel, LoggedModelOutput, LoggedModelStatus
from ..errors import ModelyardError
from .source import MlflowSource, pages
from .summary import Summary

SOURCE_TAG = "modelyard.import.source"
ID_TAG = "modelyard.import.source_id"
COMPLETE_TAG = "modelyard.import.complete"
LOCATION_TAG = "modelyard.import.source_artifact_location"
PARENT_TAG = "mlflow.parentRunId"
DEFAULT_EXPERIMENT = "0"

Progress = Callable[[str], None]


@dataclass
class IdMap:
    """MLflow id → modelyard id, for everything copied or found copied."""

    experiments: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    run_uris: dict[str, str] = field(default_factory=dict)  # MLflow run id → its MLflow artifact URI
    models: dict[str, str] = field(default_factory=dict)
    model_locations: dict[str, str] = field(default_factory=dict)  # MLflow model id → its artifact location


class Importer:
    """Copies ``source`` into ``target``; :meth:`run` returns a :class:`Summary`.

    ``max_runs`` stops after that many runs were copied (import in slices; the
    next pass continues).
    """

    def __init__(self, source: MlflowSource, target: Client, *, max_runs: int | None = None) -> None:
        self.source = source
        self.target = target
        self.max_runs = max_runs
        self.ids = IdMap()
        self.summary = Summary()
        self._runs_copied = 0
        self._plan: list[tuple[Experiment, list[Run]]] | None = None
        self._orphans: list[tuple[str, str]] = []  # (copied child, MLflow parent id) copied before the parent

    def _mine(self, tags: dict[str, str]) -> str | None:
        """The MLflow id an object of the target was imported from, if it came from this source."""
        return tags.get(ID_TAG) if tags.get(SOURCE_TAG) == self.source.label else None

    def _marks(self, source_id: str) -> dict[str, str]:
        return {SOURCE_TAG: self.source.label, ID_TAG: source_id}

    def plan(self) -> list[tuple[Experiment, list[Run]]]:
        """Every experiment with its runs, read once from the source."""
        if self._plan is None:
            self._plan = [(exp, list(self.source.runs(exp.experiment_id))) for exp in self.source.experiments()]
        return self._plan

    def total(self) -> int:
        """How many runs a full pass visits (the progress bar's length)."""
        return sum(len(runs) for _, runs in self.plan())

    def run(self, progress: Progress | None = None) -> Summary:
        tick = progress or (lambda _label: None)
        from .copy_registry import copy_registry  # the registry after the runs and models it points at

        existing = {self._mine(e.tags): e for e in self.target.search_experiments(ViewType.ALL)}
        for exp, runs in self.plan():
            if self.summary.stopped_early:
                break
            self._experiment(exp, runs, existing.get(exp.experiment_id), tick)
        if not self.summary.stopped_early:
            copy_registry(self)
        return self.summary

    # ---- experiments ----------------------------------------------------------------

    def _experiment(self, exp: Experiment, runs: list[Run], found: Experiment | None, tick: Progress) -> None:
        target_id = self._target_experiment(exp, found)
        if target_id is None:
            for run in runs:
                tick(run.info.run_name)
            return
        self.ids.experiments[exp.experiment_id] = target_id
        if found is not None and found.lifecycle_stage == LifecycleStage.DELETED:
            if found.tags.get(COMPLETE_TAG):  # deleted in MLflow too, and nothing was left to copy
                for run in runs:
                    tick(run.info.run_name)
                    self.summary.skip("runs", "already imported")
                return
            self.target.restore_experiment(target_id)
        done = self._target_runs(target_id)
        for run in runs:
            tick(run.info.run_name)
            if self.max_runs is not None and self._runs_copied >= self.max_runs:
                self.summary.stopped_early = True
                return
            self._run(run, target_id, done.get(run.info.run_id))
        self._parents()
        self._logged_models(exp.experiment_id, target_id)
        self._model_inputs(runs)
        for run in runs:
            if run.info.lifecycle_stage == LifecycleStage.DELETED and run.info.run_id in self.ids.runs:
                self._delete_run(self.ids.runs[run.info.run_id])
        self.target.set_experiment_tag(target_id, COMPLETE_TAG, "true")
        if exp.lifecycle_stage == LifecycleStage.DELETED and target_id != DEFAULT_EXPERIMENT:
            self.target.delete_experiment(target_id)

    def _target_experiment(self, exp: Experiment, found: Experiment | None) -> str | None:
        if found is not None:
            self.summary.skip("experiments", "already imported")
            return found.experiment_id
        tags = {**exp.tags, **self._marks(exp.experiment_id), LOCATION_TAG: exp.artifact_location}
        same_name = self.target.get_experiment_by_name(exp.name)
        if same_name is not None:
            if same_name.experiment_id != DEFAULT_EXPERIMENT:
                self.summary.skip("experiments", "an experiment of that name already exists in the target")
                return None
            for key, value in tags.items():  # MLflow's Default experiment becomes ours
                self.target.set_experiment_tag(same_name.experiment_id, key, value)
            self.summary.copy("experiments")
            return same_name.experiment_id
        try:
            target_id = self.target.create_experiment(exp.name, tags=tags)
        except ModelyardError as exc:
            self.summary.skip("experiments", f"refused by the target: {exc}")
            return None
        self.summary.copy("experiments")
        return target_id

    # ---- runs -----------------------------------------------------------------------

    def imported(self, fetch: Callable[[str | None], PagedList], tags: Callable[[Any], dict[str, str]]) -> dict[str, Any]:
        """The target objects a paged search finds that came from this source, by MLflow id."""
        return {source_id: item for item in pages(fetch) if (source_id := self._mine(tags(item)))}

    def _target_runs(self, experiment_id: str) -> dict[str, Run]:
        """The runs of a target experiment that came from this source, by MLflow run id."""
        return self.imported(
            lambda tok: self.target.search_runs([experiment_id], "", ViewType.ALL, 1000, None, tok),
            lambda run: run.data.tags)

    def _run(self, run: Run, target_exp: str, found: Run | None) -> None:
        info = run.info
        self.ids.run_uris[info.run_id] = info.artifact_uri
        if found is not None:
            self.ids.runs[info.run_id] = found.info.run_id
            if found.data.tags.get(COMPLETE_TAG):
                self.summary.skip("runs", "already imported")
                return
        try:
            self._copy_run(run, target_exp, found)
        except (ModelyardError, OSError) as exc:
            self.summary.skip("runs", f"refused by the target: {exc}")
            return
        self._runs_copied += 1
        self.summary.copy("runs")

    def _copy_run(self, run: Run, target_exp: str, found: Run | None) -> None:
        info = run.info
        tags = {**run.data.tags, **self._marks(info.run_id)}
        if tags.get(PARENT_TAG) in self.ids.runs:
            tags[PARENT_TAG] = self.ids.runs[tags[PARENT_TAG]]
        resumed = found is not None
        if found is None:
            found = self.target.create_run(target_exp, info.start_time, tags, info.run_name or None, info.user_id or None)
            self.ids.runs[info.run_id] = found.info.run_id
        run_id = found.info.run_id
        if PARENT_TAG in tags and tags[PARENT_TAG] not in self.ids.runs.values():
            self._orphans.append((run_id, tags[PARENT_TAG]))
        metrics = self.source.metrics(run)
        params = [Param(k, v) for k, v in run.data.params.items()]
        again = [RunTag(k, v) for k, v in tags.items()] if resumed else []  # an interrupted pass may have lost some
        self.target.log_batch(run_id, metrics=metrics, params=params, tags=again)
        self.summary.copy("metric points", len(metrics))
        if run.inputs.dataset_inputs:
            self.target.log_inputs(run_id, datasets=run.inputs.dataset_inputs)
            self.summary.copy("dataset inputs", len(run.inputs.dataset_inputs))
        self.summary.copy("artifact files", self._files(info.artifact_uri, lambda d: self.target.log_artifacts(run_id, d)))
        self.target.update_run(run_id, status=info.status, end_time=info.end_time)
        self.target.set_tag(run_id, COMPLETE_TAG, "true")

    def _files(self, uri: str, upload: Callable[[str], None]) -> int:
        """Copy the files under a source location through ``upload(local_dir)``; how many."""
        if not uri:
            return 0
        repo = self.source.artifacts(uri)
        if not repo.list(""):
            return 0
        with tempfile.TemporaryDirectory(prefix="modelyard-import-") as tmp:
            repo.download("", tmp)
            upload(tmp)
            return sum(len(files) for _, _, files in os.walk(tmp))

    def _parents(self) -> None:
        """Point ``mlflow.parentRunId`` at the copied parent where a child was copied before it."""
        for child, parent in self._orphans:
            if parent in self.ids.runs:
                self.target.set_tag(child, PARENT_TAG, self.ids.runs[parent])
        self._orphans.clear()

    def _delete_run(self, run_id: str) -> None:
        if self.target.get_run(run_id).info.lifecycle_stage == LifecycleStage.ACTIVE:
            self.target.delete_run(run_id)

    def _model_inputs(self, runs: list[Run]) -> None:
        """Logged models runs used (written once however often this runs)."""
        for run in runs:
            models = [LoggedModelInput(self.ids.models[m.model_id])
                      for m in run.inputs.model_inputs if m.model_id in self.ids.models]
            target = self.ids.runs.get(run.info.run_id)
            if models and target and run.info.lifecycle_stage == LifecycleStage.ACTIVE:
                self.target.log_inputs(target, models=models)

    # ---- logged models --------------------------------------------------------------

    def _logged_models(self, source_exp: str, target_exp: str) -> None:
        found = self.imported(lambda tok: self.target.search_logged_models([target_exp], page_token=tok),
                              lambda model: model.tags)
        for model in self.source.logged_models(source_exp):
            self.ids.model_locations[model.model_id] = model.artifact_location
            if model.lifecycle_stage == LifecycleStage.DELETED:
                self.summary.skip("logged models", "deleted in MLflow")
                continue
            mine = found.get(model.model_id)
            if mine is not None:
                self.ids.models[model.model_id] = mine.model_id
                if mine.tags.get(COMPLETE_TAG):
                    self.summary.skip("logged models", "already imported")
                    continue
            try:
                self._copy_logged_model(model, target_exp, mine)
            except (ModelyardError, OSError) as exc:
                self.summary.skip("logged models", f"refused by the target: {exc}")
                continue
            self.summary.copy("logged models")

    def _copy_logged_model(self, model: LoggedModel, target_exp: str, mine: LoggedModel | None) -> None:
        run_id = self.ids.runs.get(model.source_run_id or "")
        if mine is None:
            tags = {**model.tags, **self._marks(model.model_id)}
            mine = self.target.create_logged_model(target_exp, model.name, run_id, tags, model.params, model.model_type)
            self.ids.models[model.model_id] = mine.model_id
        new_id = mine.model_id
        self._files(model.artifact_location, lambda d: self.target.log_model_artifacts(new_id, d))
        if model.status in LoggedModelStatus.FINAL and mine.status != model.status:
            self.target.finalize_logged_model(new_id, model.status)
        if run_id and self.target.get_run(run_id).info.lifecycle_stage == LifecycleStage.ACTIVE:
            self.target.log_outputs(run_id, [LoggedModelOutput(new_id, 0)])
        self.target.set_logged_model_tags(new_id, {COMPLETE_TAG: "true"})

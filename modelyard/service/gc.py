"""Garbage collection, as ``mlflow gc``: purge deleted runs and experiments with their artifacts.

Deleting a run or an experiment only marks it ``deleted`` (it can be restored);
:func:`collect` removes it for good: its artifacts first, through the artifact
repository and only inside the artifact roots, then its rows (params, metrics,
tags, inputs, pipeline records; for an experiment also its logged models,
datasets and tags). A run whose files fail to delete keeps its rows, so the
next collection tries again; a location outside the roots is never touched
(the rows go, the files stay, and the report names them).

Registered model versions keep working: a run that a version's files live in
(a ``runs:/RUN/...`` source or a location below the run's artifact root, which
is what ``log_model(..., registered_model_name=...)`` registers) is kept, and
so is an experiment holding such a run or a logged model a version was
registered from. Naming such a run or experiment is an error that names the
version; delete the version first to purge it. A version registered from a
logged model (``models:/m-...``) survives the purge of the run that logged it:
the logged model's files live under the experiment, not the run.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameterValue, InvalidState, ModelyardError, PermissionDenied, ResourceDoesNotExist
from ..store.maintenance import DeletedExperiment, DeletedRun, Maintenance, VersionSource

DAY_MS = 86_400_000
RUNS_PER_TRANSACTION = 100  # runs purged per commit: few fsyncs, and a writer never waits long


@dataclass
class GcReport:
    """What a collection purged (or, with ``dry_run``, would purge), kept, and could not do."""

    dry_run: bool
    runs: list[str] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)
    logged_models: list[str] = field(default_factory=list)
    kept: list[dict[str, str]] = field(default_factory=list)  # {"kind", "id", "reason"}
    artifacts_deleted: list[str] = field(default_factory=list)
    artifacts_skipped: list[dict[str, str]] = field(default_factory=list)  # {"uri", "reason"}: files left in place
    failed: list[dict[str, str]] = field(default_factory=list)  # {"kind", "id", "reason"}: try again later
    rows: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run, "runs": self.runs, "experiments": self.experiments,
            "logged_models": self.logged_models, "kept": self.kept, "artifacts_deleted": self.artifacts_deleted,
            "artifacts_skipped": self.artifacts_skipped, "failed": self.failed, "rows": dict(sorted(self.rows.items())),
        }


@dataclass(frozen=True)
class _Plan:
    runs: list[tuple[DeletedRun, bool]]  # (run, whether it goes with its deleted experiment)
    experiments: list[DeletedExperiment]
    kept_runs: dict[str, str]  # run id -> why
    kept_experiments: dict[int, str]


def collect(
    service: Any,
    *,
    older_than_ms: int | None = None,
    run_ids: Sequence[str] = (),
    experiment_ids: Sequence[str] = (),
    dry_run: bool = False,
    clock: Callable[[], int] | None = None,
) -> GcReport:
    """Purge deleted runs and experiments of ``service`` (a :class:`~modelyard.service.TrackingService`).

    With neither ``run_ids`` nor ``experiment_ids``: every deleted run and experiment (deleted
    at least ``older_than_ms`` ago, when given). Named ones must be deleted (and old enough), or
    nothing is purged: :class:`~modelyard.errors.InvalidState` naming them.

    >>> collect(service, older_than_ms=30 * DAY_MS, dry_run=True).runs
    ['3f2a...']
    """
    now = (clock or _now_ms)()
    if older_than_ms is not None and older_than_ms < 0:
        raise InvalidParameterValue(f"older_than_ms={older_than_ms} must be zero or more.")
    before = None if older_than_ms is None else now - older_than_ms
    store = Maintenance(service.store.db)
    plan = _plan(store, before, list(dict.fromkeys(run_ids)), _experiment_ids(experiment_ids))
    report = GcReport(dry_run)
    report.kept += [{"kind": "run", "id": rid, "reason": why} for rid, why in plan.kept_runs.items()]
    report.kept += [{"kind": "experiment", "id": str(eid), "reason": why} for eid, why in plan.kept_experiments.items()]
    if dry_run:
        report.runs = [run.run_id for run, _ in plan.runs]
        report.experiments = [str(e.experiment_id) for e in plan.experiments]
        report.logged_models = [m.model_id for m in store.logged_models_of([e.experiment_id for e in plan.experiments])]
        return report
    unfinished: set[int] = set()  # experiments with a run that could not be purged
    runs = [run for run, _ in plan.runs]
    for start in range(0, len(runs), RUNS_PER_TRANSACTION):
        ready: list[DeletedRun] = []
        for run in runs[start:start + RUNS_PER_TRANSACTION]:
            if _delete_files(service, run.artifact_uri, "run", run.run_id, report):
                ready.append(run)
            else:
                unfinished.add(run.experiment_id)
        with service.unit_of_work():  # the runs and their pipeline rows: all or nothing
            purged, rows = service.store.runs.purge([run.pk for run in ready])
            rows.update(service.store.pipelines.forget_runs(purged))
        report.rows.update(rows)
        done = set(purged)
        for run in ready:
            if run.run_id not in done:
                report.kept.append({"kind": "run", "id": run.run_id, "reason": "restored while gc ran"})
                unfinished.add(run.experiment_id)
                continue
            report.runs.append(run.run_id)
            if run.artifact_uri and run.artifact_uri.rstrip("/").endswith(f"/{run.run_id}/artifacts"):
                _remove_empty_folders(service, run.artifact_uri.rstrip("/")[: -len("/artifacts")])
    for exp in plan.experiments:
        if exp.experiment_id in unfinished:
            report.kept.append({"kind": "experiment", "id": str(exp.experiment_id), "reason": "a run of it was not purged"})
            continue
        models = store.logged_models_of([exp.experiment_id])
        if not all(_delete_files(service, m.artifact_location, "logged model", m.model_id, report) for m in models):
            report.kept.append({"kind": "experiment", "id": str(exp.experiment_id),
                                "reason": "files of its logged models could not be deleted"})
            continue
        exp_rows = store.purge_experiment(exp.experiment_id)
        if exp_rows is None:
            report.kept.append({"kind": "experiment", "id": str(exp.experiment_id), "reason": "restored while gc ran"})
            continue
        report.experiments.append(str(exp.experiment_id))
        _remove_empty_folders(service, exp.artifact_location, "models")
        report.logged_models += [m.model_id for m in models]
        report.rows.update(exp_rows)
    return report


def purge_request_log(service: Any, older_than_ms: int, clock: Callable[[], int] | None = None) -> tuple[int, int]:
    """Delete served requests and feedback older than ``older_than_ms``; (requests, feedback) deleted."""
    if older_than_ms <= 0:
        raise InvalidParameterValue(f"older_than_ms={older_than_ms} must be more than zero.")
    return Maintenance(service.store.db).purge_request_log((clock or _now_ms)() - older_than_ms)


# ---- planning -------------------------------------------------------------------------------


def _plan(store: Maintenance, before: int | None, run_ids: list[str], experiment_ids: list[int]) -> _Plan:
    named = bool(run_ids or experiment_ids)
    experiments = _named_experiments(store, experiment_ids, before) if experiment_ids else (
        [] if named else store.deleted_experiments(before))
    runs: dict[str, tuple[DeletedRun, bool]] = {}
    for run in _named_runs(store, run_ids, before) if run_ids else ([] if named else store.deleted_runs(before)):
        runs[run.run_id] = (run, False)
    for run in store.runs_of_experiments([e.experiment_id for e in experiments]):
        runs[run.run_id] = (run, True)
    models = store.logged_models_of([e.experiment_id for e in experiments])
    needed_runs, needed_models = _needed(store.version_sources(), [r for r, _ in runs.values()], models)
    refused = [f"run {rid} holds {', '.join(needed_runs[rid])}" for rid in run_ids if rid in needed_runs]
    kept_runs = {rid: f"holds the files of registered model version {', '.join(why)}"
                 for rid, why in needed_runs.items()}
    kept_experiments: dict[int, str] = {}
    for run, whole in runs.values():
        if whole and run.run_id in needed_runs:
            kept_experiments.setdefault(run.experiment_id, f"its run {run.run_id} is kept")
    for model in models:
        if model.model_id in needed_models:
            kept_experiments.setdefault(
                model.experiment_id,
                f"its logged model {model.model_id} holds registered model version {', '.join(needed_models[model.model_id])}")
    refused += [f"experiment {eid}: {kept_experiments[eid]}" for eid in experiment_ids if eid in kept_experiments]
    if refused:
        raise InvalidState(
            "Not purged, so that registered model versions keep working: " + "; ".join(refused)
            + ". Delete those model versions first, or leave these out of --run-ids/--experiment-ids.")
    return _Plan(
        runs=[pair for rid, pair in runs.items() if rid not in needed_runs],
        experiments=[e for e in experiments if e.experiment_id not in kept_experiments],
        kept_runs=kept_runs,
        kept_experiments=kept_experiments,
    )


def _named_runs(store: Maintenance, run_ids: list[str], before: int | None) -> list[DeletedRun]:
    found = store.runs_by_id(run_ids)
    missing = [rid for rid in run_ids if rid not in found]
    if missing:
        raise ResourceDoesNotExist(f"--run-ids: no run with id {', '.join(missing)}.")
    active = [rid for rid in run_ids if found[rid][1] != "deleted"]
    if active:
        raise InvalidState(
            f"--run-ids: run {', '.join(active)} is not in the deleted lifecycle stage. Only deleted runs can be"
            " purged: delete them first (modelyard runs delete RUN_ID).")
    if before is not None:
        young = [rid for rid in run_ids if (found[rid][0].deleted_time or before) >= before]
        if young:
            raise InvalidState(f"--run-ids: run {', '.join(young)} was deleted less than --older-than ago.")
    return [found[rid][0] for rid in run_ids]


def _named_experiments(store: Maintenance, experiment_ids: list[int], before: int | None) -> list[DeletedExperiment]:
    found = store.experiments_by_id(experiment_ids)
    missing = [str(eid) for eid in experiment_ids if eid not in found]
    if missing:
        raise ResourceDoesNotExist(f"--experiment-ids: no experiment with id {', '.join(missing)}.")
    active = [str(eid) for eid in experiment_ids if found[eid][1] != "deleted"]
    if active:
        raise InvalidState(
            f"--experiment-ids: experiment {', '.join(active)} is not in the deleted lifecycle stage. Only deleted"
            " experiments can be purged: delete them first (modelyard experiments delete ID).")
    if before is not None:
        young = [str(eid) for eid in experiment_ids if (found[eid][0].last_update_time or before) >= before]
        if young:
            raise InvalidState(f"--experiment-ids: experiment {', '.join(young)} changed less than --older-than ago.")
    return [found[eid][0] for eid in experiment_ids]


def _experiment_ids(values: Iterable[str]) -> list[int]:
    out: list[int] = []
    for value in values:
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            raise InvalidParameterValue(
                f"--experiment-ids: {value!r} is not an experiment id; give numbers such as 1,4.") from None
    return list(dict.fromkeys(out))


def _needed(
    versions: Sequence[VersionSource], runs: Sequence[DeletedRun], models: Sequence[Any]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Which candidate runs and logged models registered model versions keep their files in."""
    run_ids = {r.run_id for r in runs}
    model_ids = {m.model_id for m in models}
    under: dict[str, tuple[str, str]] = {}  # artifact root -> ("run" | "model", id)
    for r in runs:
        if r.artifact_uri:
            under[_plain(r.artifact_uri)] = ("run", r.run_id)
    for m in models:
        under[_plain(m.artifact_location)] = ("model", m.model_id)
    needed: dict[str, dict[str, list[str]]] = {"run": {}, "model": {}}
    for v in versions:
        label = f"{v.name}/{v.version}"
        location = v.location
        holders: set[tuple[str, str]] = set()
        if location.startswith("runs:/"):
            rid = location[len("runs:/"):].lstrip("/").split("/", 1)[0]
            if rid in run_ids:
                holders.add(("run", rid))
        elif location.startswith("models:/"):
            mid = location[len("models:/"):].lstrip("/").split("/", 1)[0]
            if mid in model_ids:
                holders.add(("model", mid))
        if v.model_id and v.model_id in model_ids:
            holders.add(("model", v.model_id))
        parts = _plain(location).split("/")
        for n in range(len(parts), 0, -1):  # every ancestor of the location, nearest first
            holder = under.get("/".join(parts[:n]))
            if holder is not None:
                holders.add(holder)
        for kind, key in holders:
            needed[kind].setdefault(key, []).append(label)
    return needed["run"], needed["model"]


def _plain(uri: str) -> str:
    """A location compared by its path: ``file:///x/`` and ``/x`` alike."""
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    elif uri.startswith("file:"):
        uri = uri[len("file:"):]
    return uri.rstrip("/")


# ---- files ----------------------------------------------------------------------------------


def _delete_files(service: Any, uri: str | None, kind: str, key: str, report: GcReport) -> bool:
    """Delete the tree at ``uri``; False (and a ``failed`` entry) if it may still be there."""
    if not uri:
        return True
    try:
        repository = service.artifacts.repository(uri)
    except PermissionDenied:
        report.artifacts_skipped.append({"uri": uri, "reason": "outside the artifact roots (MODELYARD_ARTIFACT_ROOTS)"})
        return True
    except InvalidParameterValue as exc:
        report.artifacts_skipped.append({"uri": uri, "reason": f"not a usable location: {exc.message}"})
        return True
    try:
        repository.delete("")
    except ResourceDoesNotExist:
        return True  # nothing was ever logged there
    except Exception as exc:  # noqa: BLE001  (a store that is down, a permission: keep the rows, try again later)
        report.failed.append({"kind": kind, "id": key, "reason": f"deleting {uri} failed: {exc}"})
        return False
    report.artifacts_deleted.append(uri)
    return True


def _remove_empty_folders(service: Any, uri: str | None, *names: str) -> None:
    """Remove the empty local folders ``uri/names[0]``, then ``uri`` (each only if empty and strictly inside
    the artifact roots): a purged run or experiment leaves no empty shell behind."""
    if not uri:
        return
    try:
        root = service.artifacts.repository(uri).root_uri
    except ModelyardError:
        return
    if not root.startswith("file://"):
        return  # object stores have no folders
    base = os.path.normpath(root[len("file://"):])
    for folder in [*(os.path.join(base, n) for n in names), base]:
        if service.artifacts.roots.contains(os.path.dirname(folder)):
            with contextlib.suppress(OSError):  # not empty, already gone: leave it
                os.rmdir(folder)


def _now_ms() -> int:
    return int(time.time() * 1000)

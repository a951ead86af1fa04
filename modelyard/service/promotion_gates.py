"""The checks of a promotion policy, run by the server on one model version.

Each gate returns ``{"name", "check", "passed", "message", "evidence", "fix"}``: what was measured,
against what, and (when it failed) what would pass. A gate that cannot run (its dataset is missing,
the model does not load) fails with the reason; it never lets a version through. Models are loaded
and scored only in a worker process (:mod:`modelyard.promotion.worker`), under the serving trust
rules.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable
from typing import Any

from ..entities.registry import ModelVersion
from ..errors import InvalidParameterValue, ModelyardError, ResourceDoesNotExist
from .caller import caller

log = logging.getLogger("modelyard.promotion")

__all__ = ["GateContext", "run_gates"]

Result = dict[str, Any]


class GateContext:
    """What the gates of one promotion share: the version, the alias's current version, downloads."""

    def __init__(self, svc: Any, mv: ModelVersion, alias: str, champion: ModelVersion | None,
                 requests: Callable[[], list[Any]], user: str | None) -> None:
        self.svc = svc
        self.mv = mv
        self.alias = alias
        self.champion = champion
        self.requests = requests  # the transition requests of this version and alias
        self.user = user
        self._tmp = tempfile.TemporaryDirectory(prefix="modelyard-gates-")
        self._dirs: dict[str, str] = {}

    def close(self) -> None:
        self._tmp.cleanup()

    def _repo(self, mv: ModelVersion) -> Any:
        uri = self.svc.registry.get_model_version_download_uri(mv.name, mv.version)
        return self.svc.artifacts.source_repository(uri, lambda run_id: self.svc.runs.get(run_id).info.artifact_uri)

    def mlmodel(self, mv: ModelVersion) -> dict[str, Any]:
        import yaml

        repo = self._repo(mv)
        if not repo.is_file("MLmodel"):
            raise ResourceDoesNotExist(f"version {mv.version} has no MLmodel file at its source {mv.source!r}")
        data = yaml.safe_load(repo.read_bytes("MLmodel")) or {}
        return data if isinstance(data, dict) else {}

    def model_dir(self, mv: ModelVersion) -> str:
        if mv.version not in self._dirs:
            dest = os.path.join(self._tmp.name, f"v{mv.version}")
            self._repo(mv).download("", dest)
            self._dirs[mv.version] = dest
        return self._dirs[mv.version]

    def dataset(self, ref: str, what: str) -> str:
        """A local copy of ``ref``: ``runs:/<run_id>/<path>``, or a path among the version's run artifacts."""
        if ref.startswith("runs:/"):
            run_id, _, path = ref[len("runs:/"):].partition("/")
        else:
            if not self.mv.run_id:
                raise InvalidParameterValue(f"{what} {ref!r}: the version has no run to read it from; "
                                            "name it as runs:/<run_id>/<path>")
            run_id, path = self.mv.run_id, ref
        run = self.svc.runs.get(run_id)
        who = caller.get()
        if who is not None:  # with --auth: the data a gate reads is data the caller may read
            self.svc.auth.require(who, "READ", "experiment", run.info.experiment_id)
        repo = self.svc.artifacts.repository(run.info.artifact_uri)
        if not path or not repo.is_file(path):
            raise ResourceDoesNotExist(f"{what} {ref!r}: no such artifact in run {run_id}")
        dest = os.path.join(self._tmp.name, "data", run_id)
        return str(repo.download(path, dest))

    def score(self, versions: list[ModelVersion], data: str | None, drop: list[str], predict: bool,
              rows: int = 100, repeats: int = 3, timeout_s: float = 300) -> list[dict[str, Any]]:
        """Load and score ``versions`` in one worker process (see :mod:`modelyard.promotion.worker`)."""
        from ..promotion.worker import score_in_worker

        return score_in_worker({"model_dirs": [self.model_dir(mv) for mv in versions], "data": data, "drop": drop,
                                "predict": predict, "rows": rows, "repeats": repeats}, timeout_s)


def _result(g: dict[str, Any], passed: bool, message: str, evidence: dict[str, Any] | None = None,
            fix: str | None = None) -> Result:
    return {"name": g["name"], "check": g["check"], "passed": bool(passed), "message": message,
            "evidence": evidence or {}, "fix": None if passed else fix}


def required_tags(ctx: GateContext, g: dict[str, Any]) -> Result:
    missing = [t for t in g["tags"] if not ctx.mv.tags.get(t)]
    return _result(g, not missing, f"missing tags: {', '.join(missing)}" if missing else "every required tag is set",
                   {"required": g["tags"], "missing": missing},
                   f"set {', '.join(missing)} on version {ctx.mv.version} (set_model_version_tag)")


def description(ctx: GateContext, g: dict[str, Any]) -> Result:
    n = len((ctx.mv.description or "").strip())
    return _result(g, n >= g["min_length"], f"description of {n} characters (at least {g['min_length']})",
                   {"length": n, "min_length": g["min_length"]},
                   f"describe version {ctx.mv.version} in at least {g['min_length']} characters (update_model_version)")


def signature(ctx: GateContext, g: dict[str, Any]) -> Result:
    sig = ctx.mlmodel(ctx.mv).get("signature") or {}
    ok = bool(sig.get("inputs"))
    return _result(g, ok, "the model has an input signature" if ok else "the model has no input signature",
                   {"signature": sig}, "log the model with signature=infer_signature(X, y) (or an input_example)")


def input_example(ctx: GateContext, g: dict[str, Any]) -> Result:
    info = ctx.mlmodel(ctx.mv).get("saved_input_example_info")
    ok = isinstance(info, dict) and ctx._repo(ctx.mv).is_file(str(info.get("artifact_path") or "input_example.json"))
    return _result(g, ok, "the model has an input example" if ok else "the model has no input example",
                   {"saved_input_example_info": info}, "log the model with input_example=X[:5]")


_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def metric_threshold(ctx: GateContext, g: dict[str, Any]) -> Result:
    if not ctx.mv.run_id:
        return _result(g, False, "the version has no run, so no metrics", {}, "register the version from a run")
    value = ctx.svc.runs.get(ctx.mv.run_id).data.metrics.get(g["metric"])
    want = f"{g['metric']} {g['op']} {g['threshold']:g}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _result(g, False, f"run {ctx.mv.run_id} has no metric {g['metric']!r}", {"run_id": ctx.mv.run_id},
                       f"log {g['metric']} in the version's run; it must satisfy {want}")
    ok = _OPS[g["op"]](value, g["threshold"])
    return _result(g, ok, f"{g['metric']} = {value:g}: {'meets' if ok else 'misses'} {want} by"
                   f" {abs(value - g['threshold']):g}", {"run_id": ctx.mv.run_id, "value": value,
                                                         "threshold": g["threshold"], "op": g["op"]},
                   f"a run whose {want}")


def challenger(ctx: GateContext, g: dict[str, Any]) -> Result:
    from ..monitoring.frames import read_table
    from ..promotion import stats

    path = ctx.dataset(g["dataset"], "dataset")
    frame = read_table(path)
    if g["target"] not in frame.columns:
        raise InvalidParameterValue(f"dataset {g['dataset']!r} has no column {g['target']!r} (the gate's target)")
    if len(frame) > g["max_rows"]:
        frame = frame.iloc[: g["max_rows"]]
        frame.to_csv(path := os.path.join(os.path.dirname(path), "eval-rows.csv"), index=False)
    y = frame[g["target"]].to_numpy()
    drop = [g["target"]]
    versions = [ctx.mv] if ctx.champion is None else [ctx.mv, ctx.champion]
    scored = ctx.score(versions, path, drop, predict=True)
    ours = scored[0]["predictions"]
    common = {"min_effect": g["min_effect"], "alpha": g["alpha"], "n_boot": g["n_boot"], "seed": g["seed"]}
    if ctx.champion is not None:
        r = stats.compare(g["metric"], y, scored[1]["predictions"], ours, **common)
        against = f"champion v{ctx.champion.version} ({g['metric']} {r['champion']:.4g})"
    elif g["baseline"] is not None:
        r = stats.compare_baseline(g["metric"], y, ours, g["baseline"], **common)
        against = f"baseline {g['metric']} {g['baseline']:g}"
    else:
        return _result(g, False, f"the alias {ctx.alias!r} points at no version and the gate has no baseline",
                       {}, "give the gate a baseline (the metric to beat, e.g. a business rule's)")
    r.update(dataset=g["dataset"], against=against)
    bound = f"p = {r['p_value']:.3g}" if "p_value" in r else f"lower bound {r['lower_bound']:.4g}"
    msg = (f"{g['metric']} {r['challenger']:.4g} against {against}: improvement {r['improvement']:.4g} "
           f"({bound}, alpha {g['alpha']:g}, minimum effect {g['min_effect']:g})")
    fix = (f"a version whose {g['metric']} beats {against} by more than {g['min_effect']:g} with "
           f"{1 - g['alpha']:.0%} confidence on {g['dataset']}")
    return _result(g, r["passed"], msg, r, fix)


def budget(ctx: GateContext, g: dict[str, Any]) -> Result:
    data = ctx.dataset(g["dataset"], "dataset") if g["dataset"] else None
    [m] = ctx.score([ctx.mv], data, [], predict=False, rows=g["rows"], repeats=g["repeats"], timeout_s=g["timeout_s"])
    size_mb = m["size_bytes"] / 1e6
    p95 = m["latency_ms"]["p95"]
    failed = []
    if g["max_latency_ms"] is not None and p95 > g["max_latency_ms"]:
        failed.append(f"p95 latency {p95:.3g} ms for {m['rows']} rows is over {g['max_latency_ms']:g} ms"
                      f" by {p95 - g['max_latency_ms']:.3g} ms")
    if g["max_size_mb"] is not None and size_mb > g["max_size_mb"]:
        failed.append(f"size {size_mb:.3g} MB is over {g['max_size_mb']:g} MB by {size_mb - g['max_size_mb']:.3g} MB")
    msg = "; ".join(failed) or f"p95 latency {p95:.3g} ms for {m['rows']} rows, size {size_mb:.3g} MB"
    return _result(g, not failed, msg, {**m, "size_mb": size_mb},
                   "a smaller or faster model (fewer trees, lower precision), or a budget that fits the service")


def data_quality(ctx: GateContext, g: dict[str, Any]) -> Result:
    from ..monitoring.frames import read_table
    from ..monitoring.quality import check_quality

    source = ctx.champion if g["reference"] == "champion" and ctx.champion is not None else ctx.mv
    profile = ctx.svc.store.monitoring.get_reference(source.name, source.version)
    if profile is None:
        return _result(g, False, f"version {source.version} has no reference profile to check the data against",
                       {"reference_version": source.version},
                       f"set one with set_reference_profile({source.name!r}, {source.version}, profile(train_df))")
    report = check_quality(profile, read_table(ctx.dataset(g["data"], "data")), limits=g["limits"])
    failed = [c for c in report["checks"] if c["verdict"] == "fail"]
    msg = ("; ".join(c["message"] for c in failed) if failed
           else f"{report['rows']} rows pass every check against version {source.version}'s profile")
    return _result(g, report["passed"], msg, {"reference_version": source.version, **report},
                   "clean the training data (or retrain on data within the reference's ranges)")


def approval(ctx: GateContext, g: dict[str, Any]) -> Result:
    approved = [r for r in ctx.requests() if r.status == "approved"]
    if not approved:
        pending = [r for r in ctx.requests() if r.status == "open"]
        msg = (f"request {pending[0].id} awaits approval" if pending
               else f"no approved transition request for version {ctx.mv.version} to {ctx.alias!r}")
        return _result(g, False, msg, {"open_requests": [str(r.id) for r in pending]},
                       f"request the transition (modelyard promote request) and have "
                       f"{g['min_approvals']} approver(s) approve it")
    r = approved[0]
    return _result(g, True, f"request {r.id} approved by {', '.join(map(str, r.approvers()))}",
                   {"request_id": str(r.id), "approvers": r.approvers()})


MAX_EVALUATION_EXPERIMENTS = 1000


def _evaluation_experiments(ctx: GateContext, g: dict[str, Any]) -> list[str]:
    """The experiments the gate looks in (the policy's, else all), those the caller may read."""
    from ..errors import PermissionDenied

    ids = list(g["experiment_ids"] or [e.experiment_id for e in ctx.svc.experiments.search(
        max_results=MAX_EVALUATION_EXPERIMENTS)])
    who = caller.get()
    if who is None:
        return ids
    readable = []
    for exp_id in ids:
        try:
            ctx.svc.auth.require(who, "READ", "experiment", exp_id)
        except PermissionDenied:
            continue
        readable.append(exp_id)
    return readable


def evaluation(ctx: GateContext, g: dict[str, Any]) -> Result:
    """The newest finished evaluation run that lists this prompt version (``evaluate(prompts=...)``) meets the bar."""
    from ..entities.prompts import LINKED_PROMPTS_TAG
    from .traces import linked_prompts

    ref = f"prompts:/{ctx.mv.name}/{ctx.mv.version}"
    want = f"{g['metric']} {g['op']} {g['threshold']:g}"
    on = f" on dataset {g['dataset_id']}" if g["dataset_id"] else ""
    fix = (f"evaluate version {ctx.mv.version}{on} (my.tracing.evaluate(..., prompts=[{ref!r}])) with a result"
           f" where {want}")
    # LIKE narrows the search (its longest run of characters without wildcards); the JSON decides.
    name = max(re.split(r"[%_\\]", ctx.mv.name), key=len).replace("'", "''")
    experiments = _evaluation_experiments(ctx, g)
    runs = [] if not experiments else list(ctx.svc.runs.search(
        experiments, f"tags.`mlflow.runType` = 'evaluation' AND attributes.status = 'FINISHED' AND "
                     f"tags.`{LINKED_PROMPTS_TAG}` LIKE '%{name}%'", max_results=1000,
        order_by=["attributes.start_time DESC"]))
    target = (ctx.mv.name, str(ctx.mv.version))
    found = [r for r in runs if target in linked_prompts(r.data.tags)
             and (g["dataset_id"] is None or r.data.params.get("dataset_id") == g["dataset_id"])]
    if not found:
        return _result(g, False, f"no finished evaluation of {ref}{on}", {"prompt_version": ref}, fix)
    run = found[0]
    value = run.data.metrics.get(g["metric"])
    evidence = {"run_id": run.info.run_id, "prompt_version": ref, "value": value, "threshold": g["threshold"],
                "op": g["op"], "dataset_id": run.data.params.get("dataset_id")}
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _result(g, False, f"evaluation run {run.info.run_id} of {ref} has no metric {g['metric']!r}",
                       evidence, fix)
    ok = _OPS[g["op"]](value, g["threshold"])
    return _result(g, ok, f"{g['metric']} = {value:g} in evaluation run {run.info.run_id}: "
                   f"{'meets' if ok else 'misses'} {want} by {abs(value - g['threshold']):g}", evidence, fix)


GATES: dict[str, Callable[[GateContext, dict[str, Any]], Result]] = {
    "required_tags": required_tags, "description": description, "signature": signature,
    "input_example": input_example, "metric_threshold": metric_threshold, "challenger": challenger,
    "budget": budget, "data_quality": data_quality, "approval": approval, "evaluation": evaluation,
}


def run_gates(ctx: GateContext, policy: dict[str, Any]) -> list[Result]:
    """Every gate of ``policy`` on ``ctx.mv``, in order; a gate that cannot run fails with the reason."""
    out = []
    for g in policy["gates"]:
        try:
            out.append(GATES[g["check"]](ctx, g))
        except ModelyardError as exc:
            out.append(_result(g, False, f"could not run: {exc.message}", {},
                               "fix what the message names, then promote again"))
        except Exception as exc:  # noqa: BLE001 - a gate that cannot run fails, with its reason
            log.warning("gate %s of %s v%s could not run", g["name"], ctx.mv.name, ctx.mv.version, exc_info=True)
            out.append(_result(g, False, f"could not run: {type(exc).__name__}: {exc}", {},
                               "fix what the message names, then promote again"))
    return json.loads(json.dumps(out, default=str))  # type: ignore[no-any-return]

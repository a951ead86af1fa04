"""Copy MLflow's registered models: versions in order, then stages, tags, descriptions and aliases.

A version is created with its import marks in the same call, so a pass never
makes it twice; stages, tags, descriptions and aliases are brought to the
source's values on every pass (writing an equal value changes nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..entities.registry import ModelVersion, RegisteredModel, Stage
from ..errors import ModelyardError, ResourceDoesNotExist
from .source import model_id_of

if TYPE_CHECKING:
    from .copy import Importer

def copy_registry(imp: Importer) -> None:
    for model in imp.source.registered_models():
        try:
            _registered_model(imp, model)
        except ModelyardError as exc:
            imp.summary.skip("registered models", f"refused by the target: {exc}")


def _registered_model(imp: Importer, model: RegisteredModel) -> None:
    from .copy import SOURCE_TAG

    t = imp.target
    try:
        mine = t.get_registered_model(model.name)
    except ResourceDoesNotExist:
        mine = None
    if mine is None:
        t.create_registered_model(model.name, {**model.tags, SOURCE_TAG: imp.source.label}, model.description)
        imp.summary.copy("registered models")
    elif mine.tags.get(SOURCE_TAG) != imp.source.label:
        imp.summary.skip("registered models", "a model of that name already exists in the target")
        return
    else:
        imp.summary.skip("registered models", "already imported")
        for key, value in model.tags.items():
            if mine.tags.get(key) != value:
                t.set_registered_model_tag(model.name, key, value)
        if (mine.description or "") != (model.description or ""):
            t.update_registered_model(model.name, model.description or "")
    versions = _versions(imp, model.name)
    for version in imp.source.model_versions(model.name):
        versions[version.version] = _version(imp, version, versions.get(version.version))
    for alias, number in model.aliases.items():
        target = versions.get(str(number))
        if target is None:
            imp.summary.skip("aliases", "its version was not copied")
        elif (mine is None or mine.aliases.get(alias) != target.version):
            t.set_registered_model_alias(model.name, alias, target.version)
            imp.summary.copy("aliases")


def _versions(imp: Importer, name: str) -> dict[str, ModelVersion]:
    """The target's versions of ``name`` imported from this source, by MLflow version number."""
    quoted = name.replace("'", "\\'")
    return imp.imported(
        lambda tok: imp.target.search_model_versions(f"name = '{quoted}'", max_results=1000, page_token=tok),
        lambda version: version.tags)


def _version(imp: Importer, version: ModelVersion, mine: ModelVersion | None) -> ModelVersion:
    t = imp.target
    if mine is None:
        run_id = imp.ids.runs.get(version.run_id or "")
        model_id = imp.ids.models.get(version.model_id or model_id_of(version.source) or "")  # MLflow's REST omits it
        mine = t.create_model_version(
            version.name, _source(imp, version), run_id, {**version.tags, **imp._marks(version.version)},
            version.run_link, version.description, model_id=model_id)
        imp.summary.copy("model versions")
    else:
        imp.summary.skip("model versions", "already imported")
        for key, value in version.tags.items():
            if mine.tags.get(key) != value:
                t.set_model_version_tag(version.name, mine.version, key, value)
    if (version.current_stage or Stage.NONE) != (mine.current_stage or Stage.NONE):
        mine = t.transition_model_version_stage(version.name, mine.version, version.current_stage)
    return mine


def _source(imp: Importer, version: ModelVersion) -> str:
    """The version's source, re-pointed at the copied run or logged model."""
    source = version.source or ""
    ids = imp.ids
    if source.startswith("models:/") and source[len("models:/"):].split("/")[0] in ids.models:
        model_id, _, rest = source[len("models:/"):].partition("/")
        return f"models:/{ids.models[model_id]}" + (f"/{rest}" if rest else "")
    if source.startswith("runs:/"):
        run_id, _, rest = source[len("runs:/"):].partition("/")
        if run_id in ids.runs:
            return f"runs:/{ids.runs[run_id]}/{rest}"
    for model_id, location in ids.model_locations.items():
        if location and model_id in ids.models and _under(source, location):
            return f"models:/{ids.models[model_id]}"
    run_uri = ids.run_uris.get(version.run_id or "")
    if run_uri and version.run_id in ids.runs and _under(source, run_uri):
        return f"runs:/{ids.runs[version.run_id or '']}/{source[len(run_uri):].strip('/')}"
    return source


def _under(path: str, root: str) -> bool:
    root = root.rstrip("/")
    return path == root or path.startswith(root + "/")

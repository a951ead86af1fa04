"""The public API is curated: this list changes only on purpose."""

import modelyard


def test_all_is_sorted_and_complete():
    assert modelyard.__all__ == sorted(modelyard.__all__)
    public = {name for name in dir(modelyard) if not name.startswith("_")}
    exported = set(modelyard.__all__) - {"__version__"}
    # Subpackages are importable but not part of the curated API, except `data`.
    assert public - exported <= {
        "api", "artifacts", "cli", "client", "entities", "errors", "extras", "importer", "models", "pipelines", "server",
        "web",
        "promotion", "service", "serving", "settings", "store",
    }
    for name in modelyard.__all__:
        assert hasattr(modelyard, name), name

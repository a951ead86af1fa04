"""The environment a saved model needs: ``requirements.txt``, ``python_env.yaml``, ``conda.yaml``.

Versions are pinned to what is installed when the model is saved, as MLflow does.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from importlib import metadata

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def pinned(package: str) -> str:
    """``name==version`` for an installed distribution, else the bare name."""
    version = installed_version(package)
    if version is None:
        return package
    return f"{package}=={version.split('+', 1)[0]}"  # drop local tags such as +cpu


def write_environment(model_dir: str, packages: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    """Pin ``packages`` (distribution names), add ``extra`` lines as given, write the three files."""
    reqs: list[str] = []
    for line in [pinned(p) for p in packages] + list(extra):
        if line not in reqs:
            reqs.append(line)
    with open(os.path.join(model_dir, REQUIREMENTS_FILE), "w", encoding="utf-8") as fh:
        fh.write("\n".join(reqs) + "\n")
    python = platform.python_version()
    build = [pinned("pip"), pinned("setuptools"), "wheel"]
    lines = [f"python: {python}", "build_dependencies:", *(f"- {b}" for b in build),
             "dependencies:", f"- -r {REQUIREMENTS_FILE}"]
    with open(os.path.join(model_dir, PYTHON_ENV_FILE), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    pip_version = installed_version("pip")
    import yaml

    conda = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", f"pip<={pip_version}" if pip_version else "pip", {"pip": reqs}],
        "name": "mlflow-env",
    }
    with open(os.path.join(model_dir, CONDA_FILE), "w", encoding="utf-8") as fh:
        yaml.safe_dump(conda, fh, default_flow_style=False)
    return reqs


def read_requirements(model_dir: str) -> list[str]:
    path = os.path.join(model_dir, REQUIREMENTS_FILE)
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip() and not line.startswith("#")]


def pyfunc_conf(loader_module: str, **extra: object) -> dict[str, object]:
    """The ``python_function`` flavor section that points MLflow at a loader."""
    return {
        "loader_module": loader_module,
        "python_version": platform.python_version(),
        "env": {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE},
        **extra,
    }

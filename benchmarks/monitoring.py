"""Drift benchmark: modelyard against Evidently 0.7 and NannyML 0.13, with the numpy/scipy lower bound.

    python -m benchmarks.monitoring                      # 100k rows, 20 numeric + 5 categorical columns
    python -m benchmarks.monitoring --rows 100000,1000000
    python -m benchmarks.monitoring --evidently-python /path/to/venv/bin/python --nannyml-python /path/bin/python

Reference and current data are written once as Parquet; every tool runs in a
fresh process of its own (its peak memory is that process's ``ru_maxrss``,
loading included) and times only its computation, data already in memory.
Evidently runs from ``benchmarks/.venvs/evidently`` (``evidently==0.7.23``,
``pandas<3``: created on first use) or ``--evidently-python``; it is skipped
with a message when neither can be had. NannyML likewise from
``benchmarks/.venvs/nannyml`` (``nannyml==0.13.1`` with ``statsmodels==0.15.0``,
which it imports but does not declare) or ``--nannyml-python``. Rows:

- ``evidently``: ``Report([DataDriftPreset()]).run(current, reference)``;
- ``nannyml``: ``UnivariateDriftCalculator`` (KS, Jensen-Shannon, Wasserstein on numbers; chi-square and
  Jensen-Shannon on categories) fitted on the reference, calculated on the current data as one chunk;
- ``modelyard``: ``drift_report(reference_df, current_df)`` (raw reference: exact statistics);
- ``modelyard-profile``: ``drift_report(profile, current_df)`` against a stored profile
  (the profile's own build time is printed apart);
- ``numpy-bound``: KS, chi-square, PSI, Wasserstein and Jensen-Shannon on every column,
  vectorised numpy/scipy with no checks, no report: the floor.

Then a serving window: 10,000 rows against a stored profile (drift + data
quality), and what reading those rows back from the request log adds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NUMERIC, CATEGORICAL = 20, 5
ROOT = Path(__file__).resolve().parent.parent


# ---- workers (run in their own process; stdlib imports only at the top) -----------------------------


def _load(folder: str):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.read_parquet(Path(folder) / "reference.parquet"), pd.read_parquet(Path(folder) / "current.parquet")


def _worker(tool: str, folder: str) -> dict[str, float]:
    ref, cur = _load(folder)
    out: dict[str, float] = {}
    if tool == "evidently":
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        num = [c for c in ref.columns if c.startswith("x")]
        cat = [c for c in ref.columns if c.startswith("c")]
        definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
        t, cpu = time.perf_counter(), time.process_time()
        r = Dataset.from_pandas(ref, data_definition=definition)
        c = Dataset.from_pandas(cur, data_definition=definition)
        snapshot = Report([DataDriftPreset()]).run(current_data=c, reference_data=r)
        snapshot.dict()
        out["seconds"], out["cpu_seconds"] = time.perf_counter() - t, time.process_time() - cpu
    elif tool == "nannyml":
        import warnings

        import nannyml as nml

        warnings.simplefilter("ignore")  # "the resulting number of chunks is too low": one chunk is the point

        num = [c for c in ref.columns if c.startswith("x")]
        cat = [c for c in ref.columns if c.startswith("c")]
        t, cpu = time.perf_counter(), time.process_time()
        calc = nml.UnivariateDriftCalculator(
            column_names=num + cat, treat_as_categorical=cat, chunk_number=1,
            continuous_methods=["kolmogorov_smirnov", "jensen_shannon", "wasserstein"],
            categorical_methods=["chi2", "jensen_shannon"])
        calc.fit(ref)
        result = calc.calculate(cur)
        result.to_df()
        out["seconds"], out["cpu_seconds"] = time.perf_counter() - t, time.process_time() - cpu
    elif tool == "modelyard":
        import scipy.special  # noqa: F401  (imported before the clock starts, as the others)

        from modelyard.monitoring import drift_report

        t, cpu = time.perf_counter(), time.process_time()
        rep = drift_report(ref, cur)
        out["seconds"], out["cpu_seconds"] = time.perf_counter() - t, time.process_time() - cpu
        out["share_drifted"] = rep["share_drifted"]
    elif tool == "modelyard-profile":
        import scipy.special  # noqa: F401

        from modelyard.monitoring import drift_report, profile

        t, c = time.perf_counter(), time.process_time()
        prof = profile(ref)
        out["profile_seconds"] = time.perf_counter() - t
        out["profile_cpu"] = time.process_time() - c
        prof = json.loads(json.dumps(prof))  # as stored
        t, cpu = time.perf_counter(), time.process_time()
        rep = drift_report(prof, cur)
        out["seconds"], out["cpu_seconds"] = time.perf_counter() - t, time.process_time() - cpu
        out["share_drifted"] = rep["share_drifted"]
        out["profile_bytes"] = len(json.dumps(prof))
    elif tool == "numpy-bound":
        import scipy.special  # noqa: F401  (imported before the clock starts, as the others)

        t, cpu = time.perf_counter(), time.process_time()
        _numpy_bound(ref, cur)
        out["seconds"], out["cpu_seconds"] = time.perf_counter() - t, time.process_time() - cpu
    elif tool == "window":
        out.update(_window(ref, cur))
    else:
        raise SystemExit(f"unknown tool {tool}")
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _numpy_bound(ref, cur) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    from scipy import special

    for name in ref.columns:
        a, b = ref[name].to_numpy(), cur[name].to_numpy()
        if name.startswith("x"):
            a, b = np.sort(a), np.sort(b)
            both = np.concatenate((a, b))
            fa = np.searchsorted(a, both, side="right") / len(a)
            fb = np.searchsorted(b, both, side="right") / len(b)
            d = np.abs(fa - fb).max()
            en = np.sqrt(len(a) * len(b) / (len(a) + len(b)))
            special.kolmogorov(en * d)
            s = np.sort(both)
            w = np.sum(np.abs(np.searchsorted(a, s[:-1], side="right") / len(a)
                              - np.searchsorted(b, s[:-1], side="right") / len(b)) * np.diff(s))
            _ = w / a.std()
            edges = np.quantile(a, np.linspace(0.1, 0.9, 9))
            ra = np.diff(np.r_[0, np.searchsorted(a, edges, side="right"), len(a)]) / len(a)
            rb = np.diff(np.r_[0, np.searchsorted(b, edges, side="right"), len(b)]) / len(b)
        else:
            import pandas as pd

            codes, cats = pd.factorize(np.concatenate((a, b)))  # hashing, as fast as counting strings gets
            ra = np.bincount(codes[: len(a)], minlength=len(cats)) / len(a)
            rb = np.bincount(codes[len(a):], minlength=len(cats)) / len(b)
            table = np.vstack((ra * len(a), rb * len(b)))
            exp = np.outer(table.sum(1), table.sum(0)) / table.sum()
            special.chdtrc(len(cats) - 1, ((table - exp) ** 2 / exp).sum())
        p, q = np.maximum(ra, 1e-4), np.maximum(rb, 1e-4)
        _ = np.sum((q - p) * np.log(q / p))
        m = (ra + rb) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            _ = np.sqrt((np.nansum(ra * np.log(ra / m)) + np.nansum(rb * np.log(rb / m))) / 2)


def _window(ref, cur) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """10k rows against a stored profile; and reading them from a request log (embedded SQLite)."""
    from modelyard.monitoring import check_quality, drift_report, profile
    from modelyard.monitoring.performance import rows_from_records
    from modelyard.service.monitoring import _frame
    from tests.conftest import make_service

    prof = json.loads(json.dumps(profile(ref)))
    window = cur.iloc[:10_000]
    times, cpus = [], []
    for _ in range(5):
        t, c = time.perf_counter(), time.process_time()
        drift_report(prof, window)
        check_quality(prof, window)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    out = {"window_compute_ms": 1000 * min(times), "window_compute_cpu_ms": 1000 * min(cpus)}
    with tempfile.TemporaryDirectory() as tmp:
        svc = make_service(f"sqlite:///{tmp}/m.db", Path(tmp))
        cols = [str(c) for c in window.columns]
        rows = [{"request_id": f"r{i}", "model_name": "m", "model_version": "1", "latency_ms": 1.0,
                 "inputs": {"columns": cols, "data": [list(r)]}, "outputs": [0]}
                for i, r in enumerate(window.itertuples(index=False))]
        svc.inference.log_requests(rows)
        t, c = time.perf_counter(), time.process_time()
        records = svc.inference.search("m", "1", None, None, 10_000, 0)
        inputs, _, _ = rows_from_records(records, "classification")
        _frame(inputs)
        out["window_read_ms"] = 1000 * (time.perf_counter() - t)
        out["window_read_cpu_ms"] = 1000 * (time.process_time() - c)
        svc.close()
    return out


# ---- the driver ------------------------------------------------------------------------------------


def _make_data(rows: int, folder: Path, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cats = np.array([f"v{i}" for i in range(8)], dtype=object)
    probs = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.07, 0.05, 0.03])

    def frame(shifted: bool) -> pd.DataFrame:
        data = {f"x{i}": rng.normal(0.05 * i if shifted and i % 4 == 0 else 0.0, 1.0, rows) for i in range(NUMERIC)}
        for i in range(CATEGORICAL):
            p = probs[::-1] if shifted and i == 0 else probs
            data[f"c{i}"] = rng.choice(cats, rows, p=p)
        return pd.DataFrame(data)

    frame(False).to_parquet(folder / "reference.parquet")
    frame(True).to_parquet(folder / "current.parquet")


def _run(python: str, tool: str, folder: Path) -> dict[str, float] | str:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([python, "-m", "benchmarks.monitoring", "--worker", tool, "--data", str(folder)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600, check=False)
    if proc.returncode != 0:
        return f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _evidently_python(given: str | None) -> str | None:
    if given:
        return given
    try:
        from benchmarks.tracking.servers import Unavailable, ensure_venv

        return str(ensure_venv("evidently", ["evidently==0.7.23", "pandas<3"]) / "bin" / "python")
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        print(f"  Evidently not run: {exc}", flush=True)
        return None


def _nannyml_python(given: str | None) -> str | None:
    if given:
        return given
    try:
        from benchmarks.tracking.servers import Unavailable, ensure_venv

        return str(ensure_venv("nannyml", ["nannyml==0.13.1", "statsmodels==0.15.0"]) / "bin" / "python")
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        print(f"  NannyML not run: {exc}", flush=True)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000", help="Comma-separated row counts (each for reference and current).")
    parser.add_argument("--evidently-python", default=None, help="A Python with evidently 0.7 installed.")
    parser.add_argument("--nannyml-python", default=None, help="A Python with nannyml 0.13 installed.")
    parser.add_argument("--skip", default="", help="Comma-separated tools to skip (evidently, window, ...).")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.data)))
        return
    skip = set(filter(None, args.skip.split(",")))
    evidently = None if "evidently" in skip else _evidently_python(args.evidently_python)
    nannyml = None if "nannyml" in skip else _nannyml_python(args.nannyml_python)
    for rows in (int(r) for r in args.rows.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _make_data(rows, folder)
            results: dict[str, dict[str, float] | str] = {}
            tools = [("numpy-bound", sys.executable), ("modelyard", sys.executable),
                     ("modelyard-profile", sys.executable)]
            if evidently:
                tools.append(("evidently", evidently))
            if nannyml:
                tools.append(("nannyml", nannyml))
            for tool, python in tools:
                if tool not in skip:
                    results[tool] = _run(python, tool, folder)
                    print(f"  {rows} rows {tool}: {results[tool]}", flush=True)
            _table(rows, results)
            if "window" not in skip and rows == 100_000:
                w = _run(sys.executable, "window", folder)
                print(f"\nServing window, 10,000 rows x {NUMERIC + CATEGORICAL} columns against a stored profile: {w}")


def _table(rows: int, results: dict[str, dict[str, float] | str]) -> None:
    ok = {k: v for k, v in results.items() if isinstance(v, dict)}
    ours = ok.get("modelyard", {}).get("cpu_seconds")
    bound = ok.get("numpy-bound", {}).get("cpu_seconds")
    print(f"\n{rows:,} rows x ({NUMERIC} numeric + {CATEGORICAL} categorical), reference and current")
    print(f"{'tool':<20}{'CPU s':>8}{'wall s':>8}{'peak MB':>9}{'CPU vs modelyard':>18}{'CPU vs numpy bound':>20}")
    for tool, v in results.items():
        if isinstance(v, str):
            print(f"{tool:<20}{v}")
            continue
        c = v["cpu_seconds"]
        print(f"{tool:<20}{c:>8.2f}{v['seconds']:>8.2f}{v['peak_mb']:>9.0f}"
              f"{(c / ours if ours else float('nan')):>17.1f}x{(c / bound if bound else float('nan')):>19.2f}x")
    if "modelyard-profile" in ok:
        p = ok["modelyard-profile"]
        print(f"(profile built once in {p['profile_cpu']:.2f} s CPU, {p['profile_bytes'] / 1e3:.0f} KB as JSON)")


if __name__ == "__main__":
    main()

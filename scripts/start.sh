#!/usr/bin/env bash
# Installs the app into .venv on a fresh machine and starts it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh ""
exec .venv/bin/localfirst "$@"

#!/usr/bin/env bash
# Set up a virtual environment (if needed) and run the demo: the bundled emulator, imported.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[emulator,files]'
.venv/bin/confluence-v2 demo "$@"

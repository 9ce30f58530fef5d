#!/usr/bin/env bash
# Set up (if needed) and run the benchmarks against llama-index-readers-confluence 0.8.0;
# writes benchmarks/RESULTS.md. The incumbent gets its own environment, benchmarks/.venv-incumbent.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[emulator,files]' markdownify
.venv/bin/python benchmarks/run.py "$@"
.venv/bin/python benchmarks/fidelity.py --baseline

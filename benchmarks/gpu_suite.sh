#!/usr/bin/env bash
# The one command a GPU window runs (see benchmarks/gpu_suite.py): from the repository root,
#     TISSUE_GIT_COMMIT=<sha> bash benchmarks/gpu_suite.sh      (with .wheels carried)
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
exec "${PYTHON:-python3}" -m benchmarks.gpu_suite --out "${OUT:-suite-out}" "$@"

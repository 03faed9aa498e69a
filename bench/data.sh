#!/usr/bin/env bash
# Pack import/read benchmark with the pyarrow peer measured in the same run.
# Usage: bench/data.sh [--tickers N] [--days D] [--repeat R]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py=$(scripts/pyenv)
exec cargo run --release -q -p quantd-bench -- data --python "$py" "$@"

#!/usr/bin/env bash
# Full-market scan benchmark with the TA-Lib and pandas peers measured in the same run.
# Usage: bench/scan.sh [--tickers N] [--days D] [--repeat R]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py=$(scripts/pyenv)
# The product binary first: the row "whole process" times the `quantd` next to quantd-bench.
cargo build --release -q -p quantd
exec cargo run --release -q -p quantd-bench -- scan --python "$py" --peers bench/scan_peers.py "$@"

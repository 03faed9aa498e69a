#!/usr/bin/env bash
# Backtest and sweep benchmarks with backtesting.py and vectorbt measured in the same run.
# Usage: bench/strategy.sh   (the vectorbt venv is created on first use by scripts/pyenv)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py=$(scripts/pyenv python/requirements-bench.txt)
goog=$("$py" -c "import backtesting, os; print(os.path.join(os.path.dirname(backtesting.__file__), 'test', 'GOOG.csv'))")
# The product binary first: `sweep` times the `quantd sweep` next to quantd-bench.
cargo build --release -q -p quantd
cargo run --release -q -p quantd-bench -- backtest --goog "$goog" --python "$py" --peers bench/strategy_peers.py
cargo run --release -q -p quantd-bench -- sweep --python "$py" --peers bench/strategy_peers.py "$@"

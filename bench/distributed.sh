#!/usr/bin/env bash
# Past one machine: the queue's throughput with 4 worker processes (SQLite and Postgres), and the
# reference sweep split across 2 `quantd worker` processes on Postgres beside the single process
# on SQLite. Needs a Postgres server (default the local one .ci/run starts); a database of its own
# is made on it for each run and dropped.
# Usage: bench/distributed.sh [postgres://USER@HOST:PORT/DB]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
url=${1:-postgres://postgres@127.0.0.1:5432/test}
cargo build --release -q -p quantd
cargo build --release -q -p quantd-bench
bench=${CARGO_TARGET_DIR:-target}/release/quantd-bench
"$bench" throughput --workers 4 --slots 16 --shards 20000 --database-url "$url"
"$bench" sweep --postgres "$url" --worker-processes 2

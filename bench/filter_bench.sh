#!/usr/bin/env bash
# Filter evaluation speed (rivus-expr) over 1M rows against the memory-bandwidth floor.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --release -p rivus-expr --example filter_bench

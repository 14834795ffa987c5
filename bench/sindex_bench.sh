#!/usr/bin/env bash
# Scalar index speed over 1M rows, scanned vs indexed: the filter alone over one chunk
# (`rivus_expr::evaluate` vs `filter_chunk`), then count(*) queries through the engine over a
# sealed segment. Extra arguments go to the engine example (--rows N, --runs N).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --quiet --release -p rivus-engine --lib filter_speed_on_a_million_rows \
    -- --ignored --nocapture 2>&1 | grep -E '^(\||[0-9]+ rows)|^$' || true
cargo run --quiet --release -p rivus-engine --example sindex_bench -- "$@"

#!/usr/bin/env bash
# Runs the whole rivus test suite: the Rust workspace tests, then the end-to-end pytest suite
# that drives the real pymilvus client against the real rivus binary.
#
# The e2e suite creates its own virtualenv (target/e2e-venv) and installs its Python
# dependencies from PyPI (tests/e2e/requirements.txt), so it works on a fresh machine.
# Extra arguments are passed to pytest (e.g. `scripts/test.sh -k alias`).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (workspace)"
cargo test --workspace --quiet

# The SIMD-dispatched kernels again with the narrower copies forced (same test binaries).
for level in baseline avx2; do
  echo "== kernels and filters with RIVUS_CPU=$level"
  RIVUS_CPU=$level cargo test --quiet -p rivus-schema -p rivus-expr -p rivus-index
done

echo "== build the rivus binary"
cargo build --quiet --bin rivus

echo "== e2e virtualenv"
venv=target/e2e-venv
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt

echo "== pytest tests/e2e"
RIVUS_BIN="$PWD/target/debug/rivus" "$venv/bin/python" -m pytest tests/e2e -q "$@"

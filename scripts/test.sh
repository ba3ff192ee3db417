#!/usr/bin/env bash
# The test command (README "The two commands"; CI runs it after fmt and
# clippy): the Rust tests, then the Python package built by maturin into a
# fresh virtual environment and its pytest suite, examples included.
# Needs only the Rust toolchain and Python ≥ 3.9 with venv; everything else
# comes from crates.io and PyPI by name.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

cargo test --workspace --release
python_start=$SECONDS
# The CLI binary the Python tests compare with: built by the tests above
# (building it alone with -p would unify features differently and rebuild
# the library).
export SYMDLNN_BIN="$CARGO_TARGET_DIR/release/symdlnn"
[[ -x $SYMDLNN_BIN ]] || cargo build --release -p symdlnn-cli

PYTHON="${PYTHON:-python3}"
VENV="$CARGO_TARGET_DIR/pytest-venv"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet maturin numpy pytest matplotlib "dask[distributed]"
# Build the wheel with maturin (release, abi3) and install it as a user would.
"$VENV/bin/maturin" build --release --quiet -m crates/symdlnn-py/Cargo.toml \
  --interpreter "$VENV/bin/python" --out "$CARGO_TARGET_DIR/wheels"
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps \
  "$(ls -t "$CARGO_TARGET_DIR"/wheels/symdlnn-*.whl | head -n 1)"
# Run from the tests' folder so that `import symdlnn` is the installed wheel.
cd crates/symdlnn-py/tests
status=0
"$VENV/bin/python" -m pytest -q -p no:cacheprovider . || status=$?
echo "Python package: build, install and tests took $((SECONDS - python_start)) s" >&2
exit "$status"

#!/usr/bin/env bash
# Usage: scripts/compare.sh [OUT_DIR]
# Trains DLNN (robust defaults) and the LNN (positions, truth, reference data)
# for 3 000 epochs, seed 0, on the paper's single-trajectory data of
# cart–pendulum and Kepler, rolls each model out from the first two points
# and prints `symdlnn evaluate`'s recreation (points 2..=N) and prediction
# errors: RMSE relative to the truth's RMS deviation from its mean.
# Build first: cargo build --release.
set -euo pipefail
S=${SYMDLNN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/symdlnn}
[ -x "$S" ] || { echo "build first: cargo build --release" >&2; exit 1; }
out=${1:-compare-out}
mkdir -p "$out" && cd "$out"
$S simulate --system cartpend --steps 200 --out cp.csv >/dev/null
$S simulate --system cartpend --steps 300 --out cp_full.csv >/dev/null
$S simulate --system kepler --steps 50 --out kp.csv >/dev/null
$S simulate --system kepler --steps 200 --out kp_full.csv >/dev/null
for sys in cartpend kepler; do
  if [ $sys = cartpend ]; then tr=cp.csv; full=cp_full.csv; N=200; else tr=kp.csv; full=kp_full.csv; N=50; fi
  for m in "dlnn -" "lnn positions" "lnn truth" "lnn reference"; do
    set -- $m
    name="$sys-$1-$2"
    args="--method $1"
    [ "$1" = lnn ] && args="$args --lnn-data $2"
    [ "$2" = truth ] || [ "$2" = reference ] && args="$args --system $sys"
    if ! $S train $args --data $tr --epochs 3000 --out "$name" >/dev/null 2>"$name.err"; then
      echo "$name: training failed: $(cat "$name.err")"; continue
    fi
    if ! $S evaluate --model "$name" --data $full --train-steps $N --system $sys --out "$name-eval" --json >"$name.json" 2>"$name.err"; then
      echo "$name: evaluation failed: $(cat "$name.err")"; continue
    fi
    python3 - "$name" <<'PY'
import json, sys
name = sys.argv[1]
m = json.load(open(name + ".json"))
f = lambda x: "–" if x is None else f"{x:.3e}"
stop = "" if m["failure"] is None else f" (rollout stopped: {m['failure']})"
print(f"{name}: recreation {f(m['recreation']['relative_rmse'])} prediction {f(m['prediction']['relative_rmse'])}{stop}")
PY
  done
done

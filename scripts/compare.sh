#!/usr/bin/env bash
# Usage: scripts/compare.sh [OUT_DIR]
# Trains DLNN (robust defaults) and the LNN (positions, truth, reference data)
# for 3 000 epochs, seed 0, on the paper's single-trajectory data of
# cart–pendulum and Kepler, rolls each model out from the first two points
# and prints recreation and prediction errors: RMSE relative to the truth's
# RMS deviation from its mean. Build first: cargo build --release.
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
  if [ $sys = cartpend ]; then tr=cp.csv; full=cp_full.csv; N=200; X=100; else tr=kp.csv; full=kp_full.csv; N=50; X=150; fi
  for m in "dlnn -" "lnn positions" "lnn truth" "lnn reference"; do
    set -- $m
    name="$sys-$1-$2"
    args="--method $1"
    [ "$1" = lnn ] && args="$args --lnn-data $2"
    [ "$2" = truth ] || [ "$2" = reference ] && args="$args --system $sys"
    if ! $S train $args --data $tr --epochs 3000 --out "$name" >/dev/null 2>"$name.err"; then
      echo "$name: training failed: $(cat "$name.err")"; continue
    fi
    if ! $S predict --model "$name" --data $tr --steps $((N + X)) --out "$name.pred.csv" >/dev/null 2>"$name.err"; then
      echo "$name: prediction failed: $(cat "$name.err")"; continue
    fi
    python3 - "$name" "$full" $N <<'PY'
import csv, math, sys
name, full, n_train = sys.argv[1], sys.argv[2], int(sys.argv[3])
pred = [list(map(float, r)) for r in list(csv.reader(open(name + ".pred.csv")))[1:]]
truth = [list(map(float, r[:3])) for r in list(csv.reader(open(full)))[1:]]
mu = [sum(r[i] for r in truth) / len(truth) for i in (1, 2)]
scale = math.sqrt(sum((r[1] - mu[0]) ** 2 + (r[2] - mu[1]) ** 2 for r in truth) / (2 * len(truth)))
def rmse(lo, hi):
    try:
        s = sum((pred[k][1] - truth[k][1]) ** 2 + (pred[k][2] - truth[k][2]) ** 2 for k in range(lo, hi))
        return f"{math.sqrt(s / (2 * (hi - lo))) / scale:.3e}"
    except OverflowError:
        return "diverged"
print(f"{name}: recreation {rmse(0, n_train + 1)} prediction {rmse(n_train + 1, len(truth))}")
PY
  done
done

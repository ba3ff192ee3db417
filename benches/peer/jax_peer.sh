#!/usr/bin/env bash
# The JAX peer of symdlnn's DLNN training step: the same step (loss, gradient,
# Adam) on the same network and data, written in JAX, timed on this machine.
#
# Usage: benches/peer/jax_peer.sh [ref|shared] [n_points=201] [steps=300]
# Output, one line: "<variant> npts=<n> ms_per_step=<x> epochs_per_s=<y>"
#
# On first use it creates a private virtual environment with a pinned JAX
# (set JAX_PEER_VENV to choose where; default $TMPDIR/symdlnn-jax-peer) and
# needs pip access to PyPI. Machines are noisy: run it just before and just
# after `cargo bench -p symdlnn --bench learn` and quote the ratio.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
venv=${JAX_PEER_VENV:-${TMPDIR:-/tmp}/symdlnn-jax-peer}
jax_version=0.4.38
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q "jax==$jax_version" "jaxlib==$jax_version" >&2
fi
exec "$venv/bin/python" "$dir/jax_dlnn_step.py" "$@"

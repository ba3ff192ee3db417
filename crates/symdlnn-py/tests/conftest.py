"""Shared fixtures: the CLI binary, small data sets."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

import symdlnn

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def cli():
    """Run the `symdlnn` command (SYMDLNN_BIN, set by scripts/test.sh, or
    the workspace's release build); returns its standard output."""
    path = os.environ.get("SYMDLNN_BIN", str(ROOT / "target" / "release" / "symdlnn"))
    if not os.path.isfile(path):
        pytest.fail(f"the symdlnn binary is not at {path}: build it (cargo build --release) or set SYMDLNN_BIN")

    def run(*args):
        r = subprocess.run([path, *map(str, args)], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"symdlnn {' '.join(map(str, args))} failed: {r.stderr}")
        return r.stdout

    return run


def read_csv(path):
    """A trajectory CSV (traj?, t, q…, v…, p…) as (t, [q of each trajectory])."""
    with open(path) as f:
        head = f.readline().strip().split(",")
    values = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    qcols = [i for i, h in enumerate(head) if h.startswith("q")]
    if head[0] == "traj":
        ids = values[:, 0]
        trajs = [values[ids == i] for i in np.unique(ids)]
        t = trajs[0][:, 1]
    else:
        trajs = [values]
        t = values[:, 0]
    return t, [np.ascontiguousarray(tr[:, qcols]) for tr in trajs]


@pytest.fixture(scope="session")
def oscillator():
    return symdlnn.simulate("oscillator", dt=0.1, steps=60, fine=10)


@pytest.fixture(scope="session")
def small_model(oscillator):
    return symdlnn.DLNN(hidden=(16, 16), epochs=200, seed=1).fit(oscillator["q"], dt=0.1)

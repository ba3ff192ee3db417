"""The examples run with small settings (SYMDLNN_EXAMPLE_SMALL=1)."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


def run(script, *args, cwd):
    env = dict(os.environ, SYMDLNN_EXAMPLE_SMALL="1")
    r = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args],
                       capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_quickstart(tmp_path):
    pytest.importorskip("matplotlib")
    out = run("quickstart.py", "--out", str(tmp_path / "q.png"), cwd=tmp_path)
    assert (tmp_path / "q.png").stat().st_size > 10_000
    rel = float(re.search(r"relative RMSE over 50 steps: (\S+)", out).group(1))
    cos = float(re.search(r"\|cos\| with the true rotation (\S+)", out).group(1))
    assert rel < 0.3, out  # measured 0.12
    assert cos > 0.99, out


def test_ensemble(tmp_path):
    pytest.importorskip("dask.distributed")
    out = run("ensemble.py", cwd=tmp_path)
    seeds = re.findall(r"seed (\d): relative RMSE (\S+),", out)
    assert [s for s, _ in seeds] == ["0", "1", "2", "3", "4"]
    errors = [float(e) for _, e in seeds]
    assert len(set(errors)) == 5  # five different models
    spread = float(re.search(r"spread across seeds: mean (\S+),", out).group(1))
    assert 0 < spread < 1, out

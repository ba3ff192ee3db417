"""The package and the command line share models: trained alike, bit for bit."""

import json
import pickle

import numpy as np
import pytest

import symdlnn
from conftest import read_csv


def _json_without_run_details(path):
    m = json.loads((path / "model.json").read_text())
    m.pop("training_seconds")
    m["data"].pop("source")
    return m


@pytest.fixture(scope="module")
def kepler_csv(cli, tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    cli("simulate", "--system", "kepler", "--trajectories", 3, "--steps", 40, "--seed", 3, "--out", d / "k.csv")
    return d / "k.csv"


@pytest.mark.parametrize(
    "cls, flags, params",
    [
        (symdlnn.DLNN, [], {}),
        (
            symdlnn.SymDLNN,
            ["--method", "symdlnn", "--sym-points", "train+box:50", "--time-reversible"],
            {"sym_points": "train+box:50", "time_reversible": True},
        ),
    ],
)
def test_python_training_equals_the_cli_bit_for_bit(cli, kepler_csv, tmp_path, cls, flags, params):
    t, q = read_csv(kepler_csv)
    # The same data from the package's own simulate.
    sim = symdlnn.simulate("kepler", trajectories=3, steps=40, seed=3)
    assert np.array_equal(np.stack(q), sim["q"])
    cli("train", "--data", kepler_csv, "--epochs", 60, "--hidden", "16,16", "--seed", 5,
        "--threads", 2, *flags, "--out", tmp_path / "cli")
    dt = (t[-1] - t[0]) / (len(t) - 1)  # the step the CLI reads off the t column
    assert json.loads((tmp_path / "cli" / "model.json").read_text())["h"] == dt
    model = cls(hidden=(16, 16), epochs=60, seed=5, threads=2, **params).fit(q, dt=dt)
    model.save(tmp_path / "py")
    for name in ("weights.safetensors", "history.csv"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert _json_without_run_details(tmp_path / "py") == _json_without_run_details(tmp_path / "cli")
    assert model.info["epochs_done"] == 60


def test_cli_model_predicts_in_python_what_the_cli_predicts(cli, kepler_csv, tmp_path):
    cli("train", "--data", kepler_csv, "--epochs", 40, "--hidden", "16,16", "--out", tmp_path / "m")
    q0, q1 = np.array([1.1, -0.01]), np.array([1.0995, 0.0501])
    cli("predict", "--model", tmp_path / "m", "--q0", ",".join(repr(float(x)) for x in q0),
        "--q1", ",".join(repr(float(x)) for x in q1), "--steps", 80, "--out", tmp_path / "p.csv")
    _, (expected,) = read_csv(tmp_path / "p.csv")
    model = symdlnn.load(tmp_path / "m")
    assert isinstance(model, symdlnn.DLNN)
    assert model.get_params()["hidden"] == (16, 16) and model.get_params()["epochs"] == 40
    got = model.predict(q0, q1, steps=80)
    assert got.shape == (81, 2)
    assert np.array_equal(got, expected)
    # And the other way: a model saved by Python, predicted by the CLI.
    model.save(tmp_path / "again")
    cli("predict", "--model", tmp_path / "again", "--q0", ",".join(repr(float(x)) for x in q0),
        "--q1", ",".join(repr(float(x)) for x in q1), "--steps", 80, "--out", tmp_path / "p2.csv")
    _, (again,) = read_csv(tmp_path / "p2.csv")
    assert np.array_equal(again, expected)


def test_save_load_and_pickle_round_trips(small_model, oscillator, tmp_path):
    q = oscillator["q"]
    before = small_model.predict(q[0], q[1], steps=100)
    from_state = small_model.predict(q[0], v0=oscillator["v"][0], steps=100)
    small_model.save(tmp_path / "m")
    for other in (symdlnn.load(tmp_path / "m"), pickle.loads(pickle.dumps(small_model))):
        assert type(other) is symdlnn.DLNN
        assert np.array_equal(other.predict(q[0], q[1], steps=100), before)
        assert np.array_equal(other.predict(q[0], v0=oscillator["v"][0], steps=100), from_state)
        assert other.info == small_model.info
        h, g = other.history, small_model.history
        assert h.keys() == g.keys() and all(np.array_equal(h[k], g[k], equal_nan=True) for k in h)
        assert len(h["epoch"]) == 200 and h["epoch"][-1] == 199
    # An unfitted estimator pickles too, and keeps its parameters.
    fresh = pickle.loads(pickle.dumps(symdlnn.SymDLNN(epochs=7, symmetries=2)))
    assert fresh.get_params()["epochs"] == 7 and fresh.get_params()["symmetries"] == 2
    with pytest.raises(ValueError, match="not fitted"):
        fresh.predict(q[0], q[1], steps=3)


def test_build_in_trains_the_cli_two_stages_bit_for_bit(cli, tmp_path):
    """``SymDLNN(build_in=True)`` is ``train --method symdlnn --build-in``:
    the same identification, the same centre refitted to the data, the same
    second model; the callback counts the second stage's epochs on."""
    cli("simulate", "--system", "kepler", "--steps", 200, "--out", tmp_path / "full.csv")
    head = (tmp_path / "full.csv").read_text().splitlines()[:52]
    (tmp_path / "k.csv").write_text("\n".join(head) + "\n")
    t, q = read_csv(tmp_path / "k.csv")
    flags = dict(hidden=(32, 32), epochs=2000, sym_solver="nullspace", time_reversible=True, threads=2)
    cli("train", "--data", tmp_path / "k.csv", "--method", "symdlnn", "--build-in", "--sym-solver", "nullspace",
        "--time-reversible", "--hidden", "32,32", "--epochs", 2000, "--threads", 2, "--out", tmp_path / "cli")
    seen = []
    model = symdlnn.SymDLNN(build_in=True, **flags).fit(q, dt=t[1] - t[0], callback=lambda e, _: seen.append(e))
    assert seen == list(range(4000))
    model.save(tmp_path / "py")
    assert (tmp_path / "py" / "weights.safetensors").read_bytes() == (tmp_path / "cli" / "weights.safetensors").read_bytes()
    py, cl = _json_without_run_details(tmp_path / "py"), _json_without_run_details(tmp_path / "cli")
    where = [m["training"]["built_in"].pop("source") for m in (py, cl)]
    assert py == cl
    assert where[0].startswith("discovered by a first model trained in memory; its halves of the data agree to ")
    assert where[1].startswith(f"discovered in {tmp_path / 'cli' / 'discovery'}; ")
    assert where[0].split("; ", 1)[1] == where[1].split("; ", 1)[1]
    assert "its centre refined by the data's angular momentum" in where[0]
    # The fitted model is the symmetric one: rotating the start rotates the rollout.
    c, s = np.cos(0.7), np.sin(0.7)
    R = np.array([[c, -s], [s, c]])
    a = model.predict(q[0][0], q[0][1], steps=20)
    b = model.predict(R @ q[0][0], R @ q[0][1], steps=20)
    # Invariance about the refitted centre (2.5e-4 off the origin, measured)
    # moves the rotated rollout by about |R − 1|·|c| ≈ 2e-4: margin 5×.
    assert np.max(np.abs(b - a @ R.T)) < 1e-3

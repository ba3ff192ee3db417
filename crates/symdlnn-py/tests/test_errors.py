"""Every input check raises the right exception with the library's message,
and a failure leaves nothing half-done."""

import json
import os

import numpy as np
import pytest

import symdlnn


def fit(q, dt=0.1, **params):
    settings = {"hidden": (8,), "epochs": 3, **params}
    return symdlnn.DLNN(**settings).fit(q, dt=dt)


@pytest.mark.parametrize(
    "q, message",
    [
        (np.zeros((10, 2), dtype=np.int64), "q has integer dtype int64: positions must be floating point"),
        (np.zeros(10), r"q has shape \(10,\): expected \(T, n\), \(M, T, n\) or a list"),
        (np.zeros((2, 2)), "q: trajectory 0: only 2 point\\(s\\): a trajectory needs at least 3"),
        (np.array([[0.0, 1], [1, 2], [2, np.nan]]), r"q: trajectory 0: non-finite value NaN at index \[2, 1\]"),
        (np.array([[0.0], [1], [np.inf]]), r"q: trajectory 0: non-finite value inf at index \[2, 0\]"),
        ([np.zeros((5, 2)), np.zeros((5, 3))], "q: trajectory 1 has dimension 3, the first 2"),
        ([np.zeros((5, 2)), np.zeros((5, 2), dtype=np.int32)], r"q\[1\] has integer dtype int32"),
        (np.zeros((4, 3), dtype=complex), "q has dtype complex128: expected floating-point numbers"),
    ],
)
def test_bad_positions_are_refused(q, message):
    with pytest.raises(ValueError, match=message):
        fit(q)


@pytest.mark.parametrize(
    "params, dt, message",
    [
        ({"epochs": 0}, 0.1, "--epochs must be at least 1"),
        ({"hidden": (8, 0)}, 0.1, "--hidden: widths must be positive"),
        ({"threads": 0}, 0.1, "--threads must be at least 1"),
        ({"recipe": "fancy"}, 0.1, "unknown recipe 'fancy' \\(robust, paper\\)"),
        ({"schedule": "wavy"}, 0.1, "schedule: unknown schedule 'wavy'"),
        ({"activation": "relu"}, 0.1, "unknown activation 'relu'"),
        ({"lr": -1.0}, 0.1, "lr must be a positive number, got -1$"),
        ({"angles": (4,)}, 0.1, "angle"),
        ({"recipe": "paper", "kinetic_prior": True}, 0.1, "--kinetic-prior on belongs to the robust recipe"),
        ({}, -0.1, "q: the step must be a positive number, got -0.1"),
        ({}, float("nan"), "q: the step must be a positive number, got NaN"),
    ],
)
def test_bad_settings_are_refused_with_the_library_message(params, dt, message):
    q = np.linspace(0, 1, 20).reshape(10, 2)
    with pytest.raises(ValueError, match=message):
        fit(q, dt=dt, **params)


def test_symdlnn_and_lnn_settings():
    q = symdlnn.simulate("kepler", steps=20)["q"]
    with pytest.raises(ValueError, match="--symmetries must be between 1 and 6 \\(the affine basis in dimension 2\\)"):
        symdlnn.SymDLNN(hidden=(8,), epochs=3, symmetries=7).fit(q, dt=0.1)
    with pytest.raises(ValueError, match="sym_init applies to sym_solver='paper' only"):
        symdlnn.SymDLNN(hidden=(8,), epochs=3, sym_init="random").fit(q, dt=0.1)
    with pytest.raises(ValueError, match="sym_basis: "):
        symdlnn.SymDLNN(hidden=(8,), epochs=3, sym_basis="cubic").fit(q, dt=0.1)
    with pytest.raises(ValueError, match="--system: unknown system"):
        symdlnn.LNN(hidden=(8,), epochs=3, lnn_data="truth", system="pendulum").fit(q, dt=0.1)
    lnn = symdlnn.LNN(hidden=(8,), epochs=3).fit(q, dt=0.1)
    assert not hasattr(lnn, "discover")
    with pytest.raises(ValueError, match="an LNN has no discrete Lagrangian to find symmetries of"):
        lnn._model.discover(1, "affine", "variational", "train", None, None)
    with pytest.raises(ValueError, match="unknown parameter 'recipe' for LNN"):
        lnn.set_params(recipe="paper")


def test_bad_calls_on_a_fitted_model(small_model, oscillator):
    m, q = small_model, oscillator["q"]
    with pytest.raises(ValueError, match="q0 has 2 values; the model has dimension 1"):
        m.predict([0.0, 1.0], [0.0, 1.0], steps=5)
    with pytest.raises(ValueError, match="give q1 or v0 \\(one of them\\)"):
        m.predict(q[0], q[1], v0=[0.0], steps=5)
    with pytest.raises(ValueError, match="give q1 or v0"):
        m.predict(q[0], steps=5)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        m.predict(q[0], q[1], steps=0)
    with pytest.raises(ValueError, match="q1 has a non-finite value at index 0"):
        m.predict(q[0], [np.nan], steps=5)
    with pytest.raises(ValueError, match="q0 has integer dtype"):
        m.predict(np.array([1]), q[1], steps=5)
    with pytest.raises(ValueError, match="q has dimension 2; the model has dimension 1"):
        m.del_residual(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="DEL residuals need at least 3"):
        m.del_residual(np.zeros((2, 1)))
    with pytest.raises(ValueError, match="q has 61 points, v 60"):
        m.energy(q, q[1:])
    with pytest.raises(ValueError, match="--symmetries must be between 1 and 2 \\(the affine basis in dimension 1\\)"):
        m.discover(k=3)
    with pytest.raises(ValueError, match="unknown solver 'magic'"):
        m.discover(solver="magic")
    with pytest.raises(ValueError, match="unknown system 'pendulum' \\(known: cartpend, kepler,"):
        m.discover()[0].agreement("pendulum")
    with pytest.raises(ValueError, match="train steps 0 must be at least 1 and at most 60"):
        symdlnn.evaluate(m, q, 0)


def test_numerical_failures_carry_what_was_reached(oscillator):
    q = oscillator["q"]
    # Positions at 1e160: the robust loss overflows at the first epoch.
    with pytest.raises(symdlnn.NumericalError, match="non-finite loss at epoch 0"):
        fit(q * 1e160)
    # An untrained sin network has many DEL solutions: Newton fails.
    m = symdlnn.DLNN(hidden=(8,), epochs=1, recipe="paper", activation="sin", seed=3).fit(q, dt=0.1)
    with pytest.raises(symdlnn.NewtonError, match="Newton did not converge at step 3") as e:
        m.predict([0.0], [0.5], steps=200)
    assert isinstance(e.value, RuntimeError) and isinstance(e.value, symdlnn.NumericalError)
    assert e.value.step == 3 and e.value.points.shape == (4, 1)
    # The points reached are the start of the rollout that failed.
    assert np.array_equal(e.value.points, m.predict([0.0], [0.5], steps=3))
    with pytest.raises(symdlnn.NewtonError) as e:
        m.predict([0.0], v0=[30.0], steps=200)
    assert e.value.step == 5 and e.value.points.shape == (6, 1)
    assert np.array_equal(e.value.points, m.predict([0.0], v0=[30.0], steps=5))


def test_failures_leave_nothing_half_done(small_model, oscillator, tmp_path):
    q = oscillator["q"]
    before = small_model.predict(q[0], q[1], steps=20)
    # A failed fit keeps the fitted model as it was.
    import copy
    m = copy.deepcopy(small_model)
    m.set_params(epochs=0)
    with pytest.raises(ValueError):
        m.fit(q, dt=0.1)
    assert np.array_equal(m.predict(q[0], q[1], steps=20), before)
    # Saving where no directory can be made: OSError, nothing written.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        small_model.save(blocker / "model")
    assert os.listdir(tmp_path) == ["file"]
    # Loading what is not a model.
    with pytest.raises(ValueError, match="not a model directory \\(it does not exist\\)"):
        symdlnn.load(tmp_path / "nothing")
    bad = tmp_path / "bad"
    small_model.save(bad)
    info = json.loads((bad / "model.json").read_text())
    info["format"] = 99
    (bad / "model.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="model format 99 was written by a newer symdlnn"):
        symdlnn.load(bad)
    with pytest.raises(ValueError, match="no 'format' field: not a symdlnn model"):
        symdlnn._core.Model.from_bytes(b"{}", b"", "")


def test_an_unidentified_generator_is_not_built_in():
    """``build_in=True`` refuses a generator whose halves of the data disagree
    (three short Kepler arcs, a small network: measured 0.46), naming what
    would identify it; nothing is fitted."""
    q = symdlnn.simulate("kepler", trajectories=3, steps=40, seed=3)["q"]
    m = symdlnn.SymDLNN(hidden=(16, 16), epochs=300, sym_solver="nullspace", time_reversible=True, seed=5,
                        build_in=True)
    with pytest.raises(ValueError, match=r"the discovered generator is not identified: the generators found on the "
                       r"two halves of the data agree only to 0\.\d+ \(at least 0\.99 is needed\); nothing was built "
                       r"in\. More trajectories.*angles=.*time_reversible=True.*sym_points="):
        m.fit(q, dt=0.1)
    with pytest.raises(ValueError, match="not fitted"):
        m.predict(q[0][0], q[0][1], steps=3)

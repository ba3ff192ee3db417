"""Numbers against the library's own: rollouts, residuals, energies,
discovery on a learned Kepler model."""

import numpy as np
import pytest

import symdlnn


def test_simulate_shapes_defaults_and_seeds():
    d = symdlnn.simulate("cartpend")  # the paper's training trajectory
    assert d["q"].shape == (201, 2) and d["v"].shape == d["p"].shape == (201, 2)
    assert d["t"][0] == 0.0 and np.isclose(d["t"][-1], 2.0) and d["dt"] == 0.01
    m = symdlnn.simulate("kepler", trajectories=4, steps=10, noise=1e-3, seed=2)
    assert m["q"].shape == (4, 11, 2)
    clean = symdlnn.simulate("kepler", trajectories=4, steps=10, seed=2)
    gap = np.abs(m["q"] - clean["q"]).max()
    assert 1e-4 < gap < 1e-2 and np.array_equal(m["v"], clean["v"])
    # float32 and non-contiguous initial conditions are converted.
    a = symdlnn.simulate("kepler", q0=np.array([1.1, -0.01], dtype=np.float32), v0=[0.0, 0.6], steps=5)
    b = symdlnn.simulate("kepler", q0=np.array([[1.1, 0], [-0.01, 0]])[:, 0].astype(np.float32), v0=[0.0, 0.6], steps=5)
    assert np.array_equal(a["q"], b["q"]) and a["q"][0, 0] == np.float32(1.1)
    names = [s["name"] for s in symdlnn.systems()]
    assert names[:2] == ["cartpend", "kepler"] and len(names) == 12 and "magnetic-trap" in names
    kepler = symdlnn.systems()[1]
    r = 2**-0.5
    assert kepler["dim"] == 2 and kepler["symmetries"][0]["M"] == pytest.approx([0.0, r, -r, 0.0], abs=1e-15)


def test_float32_and_strided_input_train_the_same_model(oscillator):
    q = oscillator["q"]
    a = symdlnn.DLNN(hidden=(8,), epochs=20).fit(q.astype(np.float32).astype(np.float64), dt=0.1)
    b = symdlnn.DLNN(hidden=(8,), epochs=20).fit(q.astype(np.float32), dt=0.1)
    wide = np.repeat(q, 2, axis=1)[:, ::2]  # a non-contiguous view of q
    assert not wide.flags["C_CONTIGUOUS"]
    c = symdlnn.DLNN(hidden=(8,), epochs=20).fit(wide, dt=0.1)
    d = symdlnn.DLNN(hidden=(8,), epochs=20).fit(q, dt=0.1)
    start = (q[0], q[1])
    assert np.array_equal(a.predict(*start, steps=10), b.predict(*start, steps=10))
    assert np.array_equal(c.predict(*start, steps=10), d.predict(*start, steps=10))
    # Unaligned memory (as unpickled out-of-band buffers can be) is copied.
    raw = bytearray(q.nbytes + 1)
    unaligned = np.frombuffer(raw, dtype=np.float64, offset=1, count=q.size).reshape(q.shape)
    unaligned[...] = q
    assert not unaligned.flags["ALIGNED"]
    u = symdlnn.DLNN(hidden=(8,), epochs=20).fit(unaligned, dt=0.1)
    assert np.array_equal(u.predict(*start, steps=10), d.predict(*start, steps=10))
    # (M, T, n) and a list of (T, n) arrays are the same data.
    k = symdlnn.simulate("kepler", trajectories=2, steps=20)["q"]
    e = symdlnn.DLNN(hidden=(8,), epochs=10).fit(k, dt=0.1)
    f = symdlnn.DLNN(hidden=(8,), epochs=10).fit([k[0], k[1]], dt=0.1)
    assert np.array_equal(e.predict(k[0][0], k[0][1], steps=5), f.predict(k[0][0], k[0][1], steps=5))


def test_a_learned_oscillator_predicts_conserves_and_solves_its_del(oscillator, small_model):
    full = symdlnn.simulate("oscillator", dt=0.1, steps=200, fine=10)
    q, v = full["q"], full["v"]
    pred = small_model.predict(q[0], q[1], steps=200)
    assert pred.shape == (201, 1) and np.array_equal(pred[:2], q[:2])
    rel = np.sqrt(np.mean((pred - q) ** 2)) / np.sqrt(np.mean(q**2))
    assert rel < 2e-2, rel
    # The prediction solves the model's DEL equations to rounding; the truth
    # only approximately.
    r_pred = np.abs(small_model.del_residual(pred)).max()
    r_true = np.abs(small_model.del_residual(q)).max()
    assert small_model.del_residual(q).shape == (199, 1)
    assert r_pred < 1e-10 * r_true * 1e4 and r_pred < 1e-9, (r_pred, r_true)
    # H_VBEA along the true states is nearly constant, and close to the
    # history's final loss being far below its first.
    e = small_model.energy(q, v)
    assert e.shape == (201,) and np.ptp(e) < 1e-2 * np.abs(e).mean()
    h = small_model.history
    assert h["loss"][-1] < h["loss"][0] - 5


def test_evaluate_gives_the_cli_metrics(small_model):
    truth = symdlnn.simulate("oscillator", dt=0.1, steps=120, fine=10)["q"]
    m = symdlnn.evaluate(small_model, truth, 60, system="oscillator")
    assert m["train_steps"] == 60 and m["total_steps"] == 120 and m["method"] == "dlnn"
    assert m["recreation"]["points"] == 61 and m["prediction"]["points_expected"] == 60
    assert 0 < m["recreation"]["relative_rmse"] < 2e-2
    assert m["newton"]["solves"] == 119 and m["failure"] is None


def test_discover_finds_keplers_rotation_in_a_learned_model():
    """As crates/symdlnn/tests/symmetry.rs: 20 Kepler trajectories, a 32 × 32
    DLNN trained 2000 epochs, the variational solver, affine basis."""
    d = symdlnn.simulate("kepler", trajectories=20, seed=1)
    model = symdlnn.DLNN(hidden=(32, 32), epochs=2000).fit(d["q"], dt=d["dt"])
    (g,) = model.discover(k=1, basis="affine", solver="variational")
    (a,) = g.agreement("kepler")
    assert a > 0.995, a
    assert g.gap > 3.0
    assert g.M.shape == (2, 2) and g.w.shape == (2,) and g.coefficients.shape == (6,)
    assert abs(np.linalg.norm(g.coefficients) - 1) < 1e-12 and g.basis == "affine"
    # The discrete Noether quantity −ξ(q_k)·D1 Ld along a trajectory: one
    # value per pair. (A learned Ld carries a gauge term that the
    # variational solver ignores, so it need not be constant.)
    i = g.conserved(d["q"][0])
    assert i.shape == (50,) and np.all(np.isfinite(i))
    assert g.description == "rotation"


def test_noise_trains_denoised_positions_as_the_cli_does(tmp_path, cli):
    """``noise=`` trains latent positions: they are closer to the clean
    truth than the data (measured 0.55–0.6 of the data's error at this size;
    bound 0.8), the model records σ, and the CLI's model from the same data
    and settings has the same denoised positions to rounding (same seed,
    threads: same bits)."""
    truth = symdlnn.simulate("kepler", steps=50)["q"]
    noisy = symdlnn.simulate("kepler", steps=50, noise=1e-3, seed=3)["q"]
    m = symdlnn.DLNN(hidden=(32, 32), epochs=1000, time_reversible=True, noise=1e-3, threads=2)
    m.fit(noisy, dt=0.1)
    (den,) = m.denoised
    assert den.shape == noisy.shape
    e_data = np.sqrt(np.mean((noisy - truth) ** 2))
    e_den = np.sqrt(np.mean((den - truth) ** 2))
    assert e_den < 0.8 * e_data, (e_den, e_data)
    assert m.info["noise"]["sigma"] == [1e-3, 1e-3]
    path = tmp_path / "k.csv"
    t = 0.1 * np.arange(len(noisy))
    np.savetxt(path, np.column_stack([t, noisy]), delimiter=",", header="t,q0,q1", comments="",
               fmt="%.17g")
    cli("train", "--data", path, "--hidden", "32,32", "--epochs", "1000", "--time-reversible",
        "--noise", "0.001", "--threads", "2", "--out", tmp_path / "m")
    cli_den = np.loadtxt(tmp_path / "m" / "denoised.csv", delimiter=",", skiprows=1)[:, 1:3]
    assert np.max(np.abs(cli_den - den)) <= 1e-12, np.max(np.abs(cli_den - den))
    # The saved model and a pickled one keep them.
    m.save(str(tmp_path / "py"))
    assert np.array_equal(symdlnn.load(str(tmp_path / "py")).denoised[0], den)
    import pickle
    assert np.array_equal(pickle.loads(pickle.dumps(m)).denoised[0], den)
    with pytest.raises(ValueError, match="noise"):
        symdlnn.DLNN(epochs=5, noise=-1.0).fit(noisy, dt=0.1)


def test_a_built_in_rotation_makes_the_model_exactly_invariant():
    """``symmetry=["rotation"]``: the learned dynamics commute with rotations
    about the origin, so the rollout from a rotated start is the rotated
    rollout (to the Newton tolerance), which a model without it does not do."""
    q = symdlnn.simulate("kepler", steps=30)["q"]
    c, s = np.cos(0.7), np.sin(0.7)
    R = np.array([[c, -s], [s, c]])
    gaps = {}
    for sym in ((), ("rotation",)):
        m = symdlnn.DLNN(hidden=(32, 32), epochs=1000, time_reversible=True, symmetry=sym)
        m.fit(q, dt=0.1)
        a = m.predict(q[0], q[1], steps=10)
        b = m.predict(R @ q[0], R @ q[1], steps=10)
        gaps[sym] = np.max(np.abs(b - a @ R.T))
    assert gaps[("rotation",)] < 1e-9, gaps
    assert gaps[()] > 1e-4, gaps
    with pytest.raises(ValueError, match="symmetry"):
        symdlnn.DLNN(epochs=5, symmetry=["spin"]).fit(q, dt=0.1)


def test_load_keeps_the_built_in_symmetry(tmp_path):
    """A loaded model's ``symmetry`` parameter is its built-in generators (as
    ``affine:M;w`` specs), and refitting with the loaded parameters builds
    in the same rotation (plane and centre)."""
    import json

    q = symdlnn.simulate("kepler", steps=30)["q"]
    m = symdlnn.DLNN(hidden=(8,), epochs=5, symmetry=["rotation:0.5,-0.25"]).fit(q, dt=0.1)
    m.save(str(tmp_path / "m"))
    back = symdlnn.load(str(tmp_path / "m"))
    specs = back.get_params()["symmetry"]
    assert len(specs) == 1 and specs[0].startswith("affine:"), specs
    again = symdlnn.DLNN(**back.get_params()).fit(q, dt=0.1)

    def rotation(est):
        info = json.loads(est._fitted().info_json())
        return info["training"]["built_in"]["symmetry"]["rotation"]

    a, b = rotation(m), rotation(again)
    for key in ("e1", "e2", "centre"):
        assert np.allclose(a[key], b[key], rtol=0, atol=1e-12), (key, a[key], b[key])
    assert np.allclose(a["centre"], [0.5, -0.25], atol=1e-12)

"""symdlnn: discrete Lagrangian neural networks with symmetry discovery.

Learn a discrete Lagrangian ``Ld(q0, q1)`` of a mechanical system from
position snapshots, predict with the exact variational integrator, and find
the system's symmetries — the Rust core of the ``symdlnn`` command, from
NumPy (Lishkova et al., IFAC 2023).

Arrays are shaped time × coordinates: one trajectory is ``(T, n)``, several
``(M, T, n)`` or a list of ``(T_i, n)`` arrays. Every estimator reads and
writes the same model directories as the command line.

>>> import symdlnn
>>> d = symdlnn.simulate("oscillator", dt=0.1, steps=60, fine=10)
>>> model = symdlnn.DLNN(hidden=(32, 32), epochs=300).fit(d["q"], dt=0.1)
>>> model.predict(d["q"][0], d["q"][1], steps=100).shape
(101, 1)
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._core import NewtonError, NumericalError

__version__: str = _core.__version__

__all__ = [
    "DLNN",
    "SymDLNN",
    "LNN",
    "Generator",
    "NewtonError",
    "NumericalError",
    "evaluate",
    "load",
    "simulate",
    "systems",
]

Generator = _core.Generator
"""A discovered generator ``ξ(q)`` (see :meth:`DLNN.discover`)."""

Positions = Union[np.ndarray, Sequence[np.ndarray]]


# ------------------------------------------------------------------ arrays


def _floats(x: Any, name: str) -> np.ndarray:
    """``x`` as a C-contiguous float64 array; integer and other dtypes refused."""
    a = np.asarray(x)
    if a.dtype.kind in "iub":
        raise ValueError(
            f"{name} has integer dtype {a.dtype}: positions must be floating point "
            f"(e.g. {name}.astype(float))"
        )
    if a.dtype.kind != "f":
        raise ValueError(f"{name} has dtype {a.dtype}: expected floating-point numbers")
    # C order and aligned (arrays unpickled from out-of-band buffers may not be).
    return np.require(a, dtype=np.float64, requirements=["C", "A"])


def _trajectories(q: Positions, name: str = "q") -> List[np.ndarray]:
    """``(T, n)``, ``(M, T, n)`` or a list of ``(T_i, n)`` arrays → a list of ``(T_i, n)``."""
    if isinstance(q, (list, tuple)) and len(q) > 0 and all(
        isinstance(t, np.ndarray) for t in q
    ):
        out = [_floats(t, f"{name}[{i}]") for i, t in enumerate(q)]
        for i, t in enumerate(out):
            if t.ndim != 2:
                raise ValueError(
                    f"{name}[{i}] has shape {t.shape}: each trajectory must be (T, n)"
                )
        return out
    a = _floats(q, name)
    if a.ndim == 2:
        return [a]
    if a.ndim == 3:
        return list(a)
    raise ValueError(
        f"{name} has shape {a.shape}: expected (T, n), (M, T, n) or a list of (T_i, n) arrays"
    )


def _path(q: Any, name: str) -> np.ndarray:
    a = _floats(q, name)
    if a.ndim != 2:
        raise ValueError(f"{name} has shape {a.shape}: expected (T, n)")
    return a


def _point(x: Any, name: str) -> np.ndarray:
    a = _floats(x, name)
    if a.ndim != 1:
        raise ValueError(f"{name} has shape {a.shape}: expected (n,)")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has a non-finite value at index {int(np.argmin(np.isfinite(a)))}")
    return a


# ------------------------------------------------------------------ simulate


def simulate(
    system: str,
    q0: Optional[Any] = None,
    v0: Optional[Any] = None,
    dt: Optional[float] = None,
    steps: Optional[int] = None,
    fine: Optional[int] = None,
    trajectories: int = 1,
    noise: float = 0.0,
    seed: int = 0,
) -> Dict[str, np.ndarray]:
    """Ground-truth trajectories of a built-in system (``symdlnn.systems()``).

    The paper's protocol: a fine midpoint variational integrator with
    ``fine`` steps per kept step ``dt``; ``steps + 1`` points are kept.
    Defaults are the system's (the paper's training trajectory). With
    ``trajectories=M > 1`` the initial conditions are drawn from the system's
    box (seed ``seed``); Gaussian noise of standard deviation ``noise`` is
    added to the positions.

    Returns a dict: ``t`` ``(T,)``; ``q``, ``v``, ``p`` ``(T, n)`` for one
    trajectory or ``(M, T, n)`` for several; ``dt``.
    """
    a = None if q0 is None else _point(q0, "q0")
    b = None if v0 is None else _point(v0, "v0")
    return _core.simulate(system, a, b, dt, steps, fine, trajectories, noise, seed)


def systems() -> List[Dict[str, Any]]:
    """The built-in systems: name, dimension, description, coordinates,
    parameters, true symmetries (``M``, ``w``) and default settings."""
    return json.loads(_core.systems_json())


# ------------------------------------------------------------------ progress


class _Progress:
    """A progress bar on standard error: tqdm when installed, else plain text."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.bar: Any = None
        self.began = time.monotonic()

    def start(self, total: int) -> None:
        """Called once the run's epochs are known (before the first epoch)."""
        self.total = total
        self.began = time.monotonic()
        try:
            from tqdm.auto import tqdm  # type: ignore

            self.bar = tqdm(total=total, unit="epoch")
        except ImportError:
            self.bar = None

    def __call__(self, done: int, losses: Dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(done - self.done)
            self.bar.set_postfix(loss=f"{losses['loss']:.4e}")
        else:
            rate = done / max(time.monotonic() - self.began, 1e-9)
            sys.stderr.write(
                f"\repoch {done}/{self.total}  loss {losses['loss']:.4e}  {rate:.0f} epochs/s"
            )
            sys.stderr.flush()
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            sys.stderr.write("\n")


# ------------------------------------------------------------------ estimators


class _Estimator:
    """What DLNN, SymDLNN and LNN share: fit, predict, save, history, pickling."""

    _method = ""
    _model: Optional[Any]

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """The constructor's arguments (scikit-learn convention)."""
        return dict(self._params)

    def set_params(self, **params: Any) -> "_Estimator":
        """Change constructor arguments; unknown names raise ``ValueError``."""
        for k, v in params.items():
            if k not in self._params:
                raise ValueError(f"unknown parameter '{k}' for {type(self).__name__}")
            self._params[k] = v
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"

    def _settings(self) -> Dict[str, Any]:
        p = dict(self._params)
        p["hidden"] = [int(w) for w in p["hidden"]]
        for key in ("angles",):
            if key in p and p[key] is not None:
                p[key] = [int(i) for i in p[key]]
        if "symmetry" in p:
            sym = p["symmetry"]
            p["symmetry"] = [sym] if isinstance(sym, str) else [str(x) for x in sym]
        if p.get("jacobian_every") is not None:
            p["jacobian_every"] = str(p["jacobian_every"])
        noise = p.get("noise")
        if noise is not None and not isinstance(noise, str):
            values = np.atleast_1d(np.asarray(noise, dtype=np.float64))
            p["noise"] = ",".join(repr(float(x)) for x in values)
        return p

    def fit(
        self,
        q: Positions,
        dt: float,
        *,
        callback: Optional[Callable[[int, Dict[str, float]], Optional[bool]]] = None,
        verbose: bool = False,
    ) -> "_Estimator":
        """Learn from positions ``q``: ``(T, n)``, ``(M, T, n)`` or a list of
        ``(T_i, n)`` arrays sampled with step ``dt``. Returns ``self``.

        ``callback(epoch, losses)`` is called after every epoch (``losses``:
        ``loss``, its terms, ``lr``); returning ``False`` stops training.
        ``verbose=True`` draws a progress bar (tqdm when installed). Ctrl-C
        stops within a second: the model is kept as after the last completed
        epoch and ``KeyboardInterrupt`` is raised. Bad input raises
        ``ValueError``; a non-finite loss ``NumericalError``. The GIL is
        released while training.
        """
        qs = _trajectories(q)
        progress = _Progress() if verbose else None
        try:
            model, stop = _core.fit(
                self._method, qs, float(dt), self._settings(), callback, progress
            )
        finally:
            if progress is not None:
                progress.close()
        self._model = model
        if stop is not None:
            raise stop
        return self

    def _fitted(self) -> Any:
        if self._model is None:
            raise ValueError(f"this {type(self).__name__} is not fitted: call fit() or load()")
        return self._model

    @property
    def info(self) -> Dict[str, Any]:
        """``model.json`` as a dict (method, n, h, architecture, training
        configuration, epochs_done, final losses, det J, symmetries…)."""
        return json.loads(self._fitted().info_json())

    @property
    def history(self) -> Dict[str, np.ndarray]:
        """The loss history, one float64 array per ``history.csv`` column
        (``epoch``, ``lr``, ``loss``, its terms, det J statistics; NaN where
        a value is absent)."""
        text = self._fitted().history_csv.strip().splitlines()
        if not text:
            return {}
        names = text[0].split(",")
        rows = [line.split(",") for line in text[1:]]
        return {
            name: np.array(
                [float(r[i]) if i < len(r) and r[i] != "" else np.nan for r in rows],
                dtype=np.float64,
            )
            for i, name in enumerate(names)
        }

    def predict(
        self,
        q0: Any,
        q1: Optional[Any] = None,
        *,
        v0: Optional[Any] = None,
        steps: int,
    ) -> np.ndarray:
        """Roll the model out with the variational integrator: from two
        positions ``q0``, ``q1`` ``(n,)`` one step apart, or from the state
        ``(q0, v0)`` (momentum of the model's modified Lagrangian).
        Returns ``(steps + 1, n)`` positions, ``q0`` first. A failed Newton
        solve raises ``NewtonError`` (``.step``, ``.points`` reached)."""
        a = _point(q0, "q0")
        b = None if q1 is None else _point(q1, "q1")
        c = None if v0 is None else _point(v0, "v0")
        return self._fitted().predict(a, b, c, int(steps))

    def energy(self, q: Any, v: Any) -> np.ndarray:
        """``H_VBEA(q_k, v_k)``, the energy of the model's modified
        Lagrangian, at positions and velocities ``(T, n)``: ``(T,)``."""
        return self._fitted().energy(_path(q, "q"), _path(v, "v"))

    def del_residual(self, q: Any) -> np.ndarray:
        """Discrete Euler–Lagrange residuals ``D2 Ld(q_{k-1}, q_k) +
        D1 Ld(q_k, q_{k+1})`` along positions ``(T, n)``: ``(T - 2, n)``."""
        return self._fitted().del_residual(_path(q, "q"))

    def save(self, path: str) -> None:
        """Write the model directory ``path`` (``model.json``,
        ``weights.safetensors``, ``history.csv``): what ``symdlnn train``
        writes, usable by every CLI command."""
        self._fitted().save(str(path))

    def __getstate__(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {"params": self._params, "model": None}
        if self._model is not None:
            state["model"] = self._model.to_bytes()
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self._params = dict(state["params"])
        m = state["model"]
        self._model = None if m is None else _core.Model.from_bytes(*m)


class _Discrete(_Estimator):
    @property
    def denoised(self) -> Optional[List[np.ndarray]]:
        """A model fitted with ``noise``: its latent (denoised) positions of
        the training trajectories, one ``(T_i, n)`` array each (kept by
        ``save``/``load`` and by pickling); ``None`` otherwise."""
        return self._fitted().denoised()

    def discover(
        self,
        k: int = 1,
        basis: str = "affine",
        solver: str = "variational",
        *,
        q: Optional[Positions] = None,
        points: str = "train+box:200",
        seed: Optional[int] = None,
    ) -> List[Any]:
        """Discover ``k`` symmetry generators of the learned ``Ld``.

        ``basis``: ``affine`` (ξ = M q + w), ``translations``, ``linear``,
        ``rotations`` or ``polynomial:D``. ``solver``: ``variational``
        (gauge-invariant, from the linearised DEL equations at the data's
        triples) or ``nullspace`` (ξ·∇Ld = 0 at ``points``: ``train``,
        ``box:N`` or ``train+box:N``, box pairs drawn with ``seed``, default
        the model's). ``q``: the trajectories to discover on (default: the
        training data). Returns :class:`Generator` objects, best first.
        """
        qs = None if q is None else _trajectories(q)
        return self._fitted().discover(int(k), basis, solver, points, seed, qs)


class DLNN(_Discrete):
    """Discrete Lagrangian neural network: ``Ld(q0, q1)`` learned from positions.

    Parameters (the CLI's ``train`` flags): ``hidden`` layer widths;
    ``recipe`` ``"robust"`` (scale-invariant, standardised inputs, kinetic
    prior) or ``"paper"``; ``epochs`` (default: 20 000 optimiser steps'
    worth, as the CLI's ``train``); ``lr`` (initial learning rate);
    ``schedule`` (``cosine``, ``constant``, ``reference``,
    ``steps:E1=LR1,…``; default by recipe); ``activation`` (softplus, tanh,
    sin, silu); ``angles`` (indices of angle coordinates: ``Ld`` periodic in
    them); ``time_reversible``; ``kinetic_prior``; ``jacobian_every``;
    ``degeneracy_weight`` and ``degeneracy_power`` (paper recipe); ``noise``
    (``"auto"``, σ or one σ per coordinate: train latent denoised positions,
    see :attr:`denoised`; default none); ``symmetry`` (specs as the CLI's
    ``--symmetry``: ``"rotation"``, ``"rotation:cx,cy"``,
    ``"so3"``, ``"so3:cx,cy,cz"``, ``"translation:a,b"``, ``"affine:M;w"``: built into ``Ld`` exactly);
    ``seed``;
    ``threads`` (default 2, as the CLI: results depend on it through
    summation order).
    """

    _method = "dlnn"

    def __init__(
        self,
        hidden: Sequence[int] = (128, 128, 128),
        recipe: str = "robust",
        epochs: Optional[int] = None,
        lr: float = 3e-3,
        angles: Sequence[int] = (),
        time_reversible: bool = False,
        seed: int = 0,
        threads: Optional[int] = None,
        schedule: Optional[str] = None,
        activation: str = "softplus",
        kinetic_prior: Optional[bool] = None,
        jacobian_every: Optional[Union[int, str]] = None,
        degeneracy_weight: float = 1.0,
        degeneracy_power: int = 1,
        noise: Optional[Union[str, float, Sequence[float]]] = None,
        symmetry: Sequence[str] = (),
    ) -> None:
        self._params = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self._model = None


class SymDLNN(_Discrete):
    """DLNN plus discovery of ``symmetries`` generators after (or, with
    ``sym_weight > 0``, while) training: ``sym_basis``, ``sym_solver``
    (``variational``, ``nullspace`` or ``paper``), ``sym_points``,
    ``sym_weight``, ``sym_warmup`` (default 30 % of the epochs),
    ``sym_init``/``sym_alpha``/``sym_beta`` (paper solver). The generators
    found are :attr:`generators`. ``build_in=True`` (the CLI's
    ``--build-in``) trains in two stages: this model, discovery, and, when
    the two halves of the data give the same generators, a second model
    with them built into ``Ld`` exactly (a rotation's centre refitted to the
    data's angular momentum); the fitted model is the second, and
    ``info["training"]["built_in"]["source"]`` says what was built in. An
    unidentified generator raises ``ValueError`` saying what would identify
    it. ``callback`` and the progress bar count the second stage's epochs
    on from the first's. Other parameters as :class:`DLNN`.
    """

    _method = "symdlnn"

    def __init__(
        self,
        hidden: Sequence[int] = (128, 128, 128),
        recipe: str = "robust",
        epochs: Optional[int] = None,
        lr: float = 3e-3,
        angles: Sequence[int] = (),
        time_reversible: bool = False,
        seed: int = 0,
        threads: Optional[int] = None,
        symmetries: int = 1,
        sym_basis: str = "affine",
        sym_solver: str = "variational",
        sym_points: str = "train+box:200",
        sym_weight: Optional[float] = None,
        sym_warmup: Optional[int] = None,
        sym_init: Optional[str] = None,
        sym_alpha: Optional[float] = None,
        sym_beta: Optional[float] = None,
        schedule: Optional[str] = None,
        activation: str = "softplus",
        kinetic_prior: Optional[bool] = None,
        jacobian_every: Optional[Union[int, str]] = None,
        degeneracy_weight: float = 1.0,
        degeneracy_power: int = 1,
        noise: Optional[Union[str, float, Sequence[float]]] = None,
        symmetry: Sequence[str] = (),
        build_in: bool = False,
    ) -> None:
        self._params = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self._model = None

    @property
    def generators(self) -> List[Any]:
        """The generators found when the model trained (best first)."""
        return self._fitted().stored_generators()


class LNN(_Estimator):
    """Lagrangian neural network baseline ``L(q, q̇)`` trained on
    accelerations: ``lnn_data`` ``"positions"`` (central differences),
    ``"truth"`` or ``"reference"`` (need ``system``), ``standardise``,
    ``kinetic_prior``. Other parameters as :class:`DLNN`."""

    _method = "lnn"

    def __init__(
        self,
        hidden: Sequence[int] = (128, 128, 128),
        epochs: Optional[int] = None,
        lr: float = 3e-3,
        seed: int = 0,
        threads: Optional[int] = None,
        lnn_data: str = "positions",
        system: Optional[str] = None,
        standardise: bool = True,
        kinetic_prior: Optional[bool] = None,
        schedule: Optional[str] = None,
        activation: str = "softplus",
    ) -> None:
        self._params = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self._model = None


_CLASSES = {"dlnn": DLNN, "symdlnn": SymDLNN, "lnn": LNN}


def load(path: str) -> _Estimator:
    """Read a model directory written by ``symdlnn train`` or ``save``: a
    fitted :class:`DLNN`, :class:`SymDLNN` or :class:`LNN`, its parameters
    (network, epochs, seed, threads, recipe, built-in symmetries as
    ``affine:M;w`` specs) from ``model.json``."""
    model = _core.Model.load(str(path))
    info = json.loads(model.info_json())
    cls = _CLASSES[info["method"]]
    est = cls()
    t = info["training"]
    est._params.update(hidden=tuple(t["hidden"]), epochs=t["epochs"], seed=t["seed"],
                       threads=t["threads"], activation=t["activation"])
    if cls is not LNN:
        est._params.update(recipe=t["recipe"], angles=tuple(t.get("angles", ())),
                           time_reversible=t["time_reversible"], noise=t.get("noise"),
                           symmetry=tuple(model.built_in_specs()))
    est._model = model
    return est


def evaluate(
    model: _Estimator,
    q_truth: Any,
    train_steps: int,
    *,
    system: Optional[str] = None,
    generators: str = "auto",
) -> Dict[str, Any]:
    """The metrics of ``symdlnn evaluate`` (``metrics.json``) of a fitted
    model against a true trajectory ``q_truth`` ``(T, n)`` sampled at the
    model's step: the rollout from its first two points, recreation over
    points ``0..=train_steps``, prediction after (relative RMSE, energy and
    symmetry drift), Newton statistics. ``system`` (a built-in name) adds
    the true generators and agreement; ``generators``: ``auto``, ``true``
    or ``learned``."""
    m = model._fitted()
    return json.loads(
        m.evaluate_json(_path(q_truth, "q_truth"), int(train_steps), system, generators)
    )

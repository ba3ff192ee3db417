"""Type stubs of the extension module (see symdlnn/__init__.py for the API)."""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

Array = npt.NDArray[np.float64]

class NumericalError(RuntimeError):
    """A numerical failure (non-finite loss, a solve that did not converge)."""

class NewtonError(NumericalError):
    """Newton did not converge on the DEL equations."""

    step: Optional[int]
    """The failing step: the points reached are q_0 … q_step."""
    points: Optional[Array]
    """The (step + 1, n) points reached before the failure, or None."""

class Generator:
    """A discovered generator ξ(q) of a learned Ld."""

    @property
    def M(self) -> Array:
        """(n, n): M of the affine part M q + w."""
    @property
    def w(self) -> Array:
        """(n,): w of the affine part."""
    @property
    def coefficients(self) -> Array:
        """(basis size,): unit-norm coefficients in the basis."""
    @property
    def basis(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def singular_value(self) -> float: ...
    @property
    def gap(self) -> Optional[float]: ...
    def agreement(self, truth: str) -> List[float]:
        """|cos| with a built-in system's symmetry (principal angles in
        degrees against several)."""
    def conserved(self, q: Array) -> Array:
        """(T - 1,): −ξ(q_k)·D1 Ld(q_k, q_{k+1}) along positions (T, n)."""

class Model:
    @staticmethod
    def from_bytes(json: bytes, weights: bytes, history: str, denoised: Optional[str] = None) -> "Model": ...
    def to_bytes(self) -> Tuple[bytes, bytes, str, Optional[str]]: ...
    @staticmethod
    def load(path: str) -> "Model": ...
    def save(self, path: str) -> None: ...
    def built_in_specs(self) -> List[str]: ...
    def info_json(self) -> str: ...
    @property
    def history_csv(self) -> str: ...
    def denoised(self) -> Optional[List[Array]]: ...
    def predict(self, q0: Array, q1: Optional[Array], v0: Optional[Array], steps: int) -> Array: ...
    def energy(self, q: Array, v: Array) -> Array: ...
    def del_residual(self, q: Array) -> Array: ...
    def discover(
        self, k: int, basis: str, solver: str, points: str, seed: Optional[int],
        q: Optional[List[Array]],
    ) -> List[Generator]: ...
    def stored_generators(self) -> List[Generator]: ...
    def evaluate_json(
        self, q_truth: Array, train_steps: int, system: Optional[str] = None,
        generators: str = "auto",
    ) -> str: ...

def simulate(
    system: str, q0: Optional[Array] = None, v0: Optional[Array] = None,
    dt: Optional[float] = None, steps: Optional[int] = None, fine: Optional[int] = None,
    trajectories: int = 1, noise: float = 0.0, seed: int = 0,
) -> Dict[str, Any]: ...
def systems_json() -> str: ...
def fit(
    method: str, q: Sequence[Array], dt: float, settings: Dict[str, Any],
    callback: Optional[Callable[[int, Dict[str, float]], Optional[bool]]] = None,
    progress: Optional[Callable[[int, Dict[str, float]], None]] = None,
    source: str = "python",
) -> Tuple[Model, Optional[BaseException]]: ...

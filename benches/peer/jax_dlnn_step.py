"""Time one full-batch DLNN training step in JAX (float64, CPU).

The step symdlnn's `learn` bench measures, done the paper's way: a discrete
Lagrangian Ld(q0, q1) = MLP(q0, q1) with layers 4-128-128-128-1 and softplus,
on a two-dimensional trajectory of n points,

    q_k = (sin(2 x_k), cos(3 x_k)),  x_k = k / (n - 1),

loss = mean_k |D2 Ld(q_{k-1}, q_k) + D1 Ld(q_k, q_{k+1})|^2
     + mean_k (1 - sigmoid(0.01 det J_k)),  J_k = d(D1 Ld)/dq1 at (q_k, q_{k+1}),

then one Adam update (lr 3e-3, beta 0.9 / 0.999, eps 1e-8; JAX's own
example-library Adam, as the published code uses), all under jit.

Variants:
  ref     the published code's layout: per triple, two input gradients and a
          reverse-over-reverse mixed Hessian (each pair evaluated twice);
  shared  each pair evaluated once: one batch of input gradients serves D1 of
          one triple and D2 of the next, forward-over-reverse for J.

Usage: python3 jax_dlnn_step.py [ref|shared] [n_points=201] [steps=300]
Prints: "<variant> npts=<n> ms_per_step=<x> epochs_per_s=<y>"
"""
import sys
import time

import jax
import jax.numpy as jnp
from jax.example_libraries import optimizers

jax.config.update("jax_enable_x64", True)

variant = sys.argv[1] if len(sys.argv) > 1 else "ref"
npts = int(sys.argv[2]) if len(sys.argv) > 2 else 201
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 300
if variant not in ("ref", "shared"):
    sys.exit(f"unknown variant {variant!r}: ref or shared")

WIDTHS = [4, 128, 128, 128, 1]


def init_params(key):
    """Glorot-normal weights, N(0, 1e-6^2) biases (as symdlnn initialises)."""
    params = []
    for fan_in, fan_out in zip(WIDTHS[:-1], WIDTHS[1:]):
        key, kw, kb = jax.random.split(key, 3)
        std = jnp.sqrt(2.0 / (fan_in + fan_out))
        params.append((std * jax.random.normal(kw, (fan_in, fan_out)),
                       1e-6 * jax.random.normal(kb, (fan_out,))))
    return params


def ld(params, q0, q1):
    h = jnp.concatenate([q0, q1])
    for w, b in params[:-1]:
        h = jax.nn.softplus(h @ w + b)
    w, b = params[-1]
    return (h @ w + b)[0]


d1 = jax.grad(ld, 1)  # D1 Ld
d2 = jax.grad(ld, 2)  # D2 Ld


def degeneracy(det):
    return jnp.mean(1.0 - jax.nn.sigmoid(0.01 * det))


def loss_ref(params, triples):
    def one(t):
        r = d2(params, t[0], t[1]) + d1(params, t[1], t[2])
        jac = jax.jacrev(d1, 2)(params, t[1], t[2])
        return r @ r, jnp.linalg.det(jac)

    res, det = jax.vmap(one)(triples)
    return jnp.mean(res) + degeneracy(det)


def loss_shared(params, q):
    q0, q1 = q[:-1], q[1:]
    g1, g2 = jax.vmap(jax.grad(ld, (1, 2)), (None, 0, 0))(params, q0, q1)
    r = g2[:-1] + g1[1:]
    # J at every pair (the first pair's is not used: kept so that the work
    # matches the measurements quoted in docs/measurements.md).
    jac = jax.vmap(jax.jacfwd(d1, 2), (None, 0, 0))(params, q0, q1)[1:]
    return jnp.mean(jnp.sum(r * r, axis=1)) + degeneracy(jnp.linalg.det(jac))


x = jnp.linspace(0.0, 1.0, npts)
traj = jnp.stack([jnp.sin(2.0 * x), jnp.cos(3.0 * x)], axis=1)
if variant == "ref":
    data, loss = jnp.stack([traj[:-2], traj[1:-1], traj[2:]], axis=1), loss_ref
else:
    data, loss = traj, loss_shared

opt_init, opt_update, get_params = optimizers.adam(3e-3)


@jax.jit
def step(t, state):
    return opt_update(t, jax.grad(loss)(get_params(state), data), state)


state = step(0, opt_init(init_params(jax.random.PRNGKey(0))))  # compile outside the timing
jax.block_until_ready(state)
start = time.perf_counter()
for t in range(1, steps + 1):
    state = step(t, state)
jax.block_until_ready(state)
dt = (time.perf_counter() - start) / steps
print(f"{variant} npts={npts} ms_per_step={dt * 1e3:.3f} epochs_per_s={1 / dt:.1f}")

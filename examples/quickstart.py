"""symdlnn from Python: simulate → fit → predict → plot → discover.

    python examples/quickstart.py            # the paper-sized run (minutes)
    python examples/quickstart.py --small    # seconds (or SYMDLNN_EXAMPLE_SMALL=1)

Learns Kepler's discrete Lagrangian from the positions of 20 orbits, predicts
an orbit it has not seen, plots truth against model (quickstart.png, or the
path given with --out) and finds the rotation symmetry without being told.
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import symdlnn  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", help="CI-sized settings")
parser.add_argument("--out", default="quickstart.png", help="figure file")
args = parser.parse_args()
small = args.small or os.environ.get("SYMDLNN_EXAMPLE_SMALL") == "1"

# 1. Ground truth: 20 Kepler orbits from the system's box; positions only are used.
train = symdlnn.simulate("kepler", trajectories=20, seed=1)
print("training positions:", train["q"].shape, "(trajectories, time, coordinates)")

# 2. Learn Ld(q0, q1).
model = symdlnn.DLNN(hidden=(32, 32) if small else (64, 64, 64), epochs=2000 if small else 3000)
model.fit(train["q"], dt=train["dt"], verbose=not small)
print("final loss:", model.history["loss"][-1])

# 3. Predict an orbit it has not seen (another draw from the box), from its
#    first two positions.
steps = 50 if small else 200
q = symdlnn.simulate("kepler", trajectories=2, seed=7, steps=steps)["q"][0]
pred = model.predict(q[0], q[1], steps=steps)
rel = np.sqrt(np.mean((pred - q) ** 2)) / np.sqrt(np.mean((q - q.mean(0)) ** 2))
print(f"relative RMSE over {steps} steps: {rel:.3e}")

# 4. Plot truth against model.
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot(q[:, 0], q[:, 1], "k-", lw=2, label="truth")
ax.plot(pred[:, 0], pred[:, 1], "C1--", lw=1.5, label="DLNN")
ax.set_xlabel("$q_0$")
ax.set_ylabel("$q_1$")
ax.set_aspect("equal")
ax.legend()
fig.tight_layout()
fig.savefig(args.out, dpi=120)
print("wrote", args.out)

# 5. Discover the symmetry: one affine generator ξ(q) = M q + w.
(g,) = model.discover(k=1, basis="affine", solver="variational")
(agreement,) = g.agreement("kepler")
print(f"discovered: {g.description}; |cos| with the true rotation {agreement:.4f}")
print("M =", np.round(g.M, 3).tolist(), "w =", np.round(g.w, 3).tolist())

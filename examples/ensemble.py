"""Train five seeds in parallel processes with dask.distributed and report
the spread of their predictions.

    python examples/ensemble.py            # full size
    python examples/ensemble.py --small    # seconds (or SYMDLNN_EXAMPLE_SMALL=1)

The same code runs on a cluster: replace LocalCluster by the address of a
dask scheduler (Client("tcp://scheduler:8786")). Models travel between
processes by pickling (their model-directory bytes).
"""

import argparse
import os

import numpy as np

import symdlnn


def train_one(seed, q, dt, hidden, epochs):
    """One seed: runs in a worker process, returns the fitted model."""
    return symdlnn.DLNN(hidden=hidden, epochs=epochs, seed=seed, threads=1).fit(q, dt=dt)


def main():
    from dask.distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI-sized settings")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    small = args.small or os.environ.get("SYMDLNN_EXAMPLE_SMALL") == "1"
    hidden, epochs = ((16, 16), 200) if small else ((64, 64, 64), 3000)

    train = symdlnn.simulate("cartpend")  # the paper's training trajectory
    test = symdlnn.simulate("cartpend", steps=300)
    seeds = [0, 1, 2, 3, 4]
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        futures = client.map(train_one, seeds, q=train["q"], dt=train["dt"],
                             hidden=hidden, epochs=epochs, pure=False)
        models = client.gather(futures)

    q = test["q"]
    preds = np.stack([m.predict(q[0], q[1], steps=300) for m in models])  # (5, 301, 2)
    scale = np.sqrt(np.mean((q - q.mean(0)) ** 2))
    for seed, p in zip(seeds, preds):
        rel = np.sqrt(np.mean((p - q) ** 2)) / scale
        print(f"seed {seed}: relative RMSE {rel:.3e}, final loss {models[seed].history['loss'][-1]:.3f}")
    spread = preds.std(axis=0)  # (301, 2): across seeds
    print(f"spread across seeds: mean {spread.mean():.3e}, at the last point {spread[-1].tolist()}")
    print(f"spread over the training span {spread[:201].mean():.3e}, beyond it {spread[201:].mean():.3e}")


if __name__ == "__main__":
    main()

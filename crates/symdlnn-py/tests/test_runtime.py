"""The GIL is released while training; Ctrl-C and callbacks stop it."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np

import symdlnn


def _count_for(seconds):
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
    return n


def test_another_thread_runs_while_fit_trains():
    q = symdlnn.simulate("kepler", trajectories=4, steps=50)["q"]
    baseline = _count_for(0.5)
    model = symdlnn.DLNN(hidden=(32, 32), epochs=10**6, threads=1)
    stop = threading.Event()
    started = threading.Event()

    def callback(epoch, losses):
        started.set()
        return not stop.is_set()

    worker = threading.Thread(target=model.fit, args=(q, 0.1), kwargs={"callback": callback})
    worker.start()
    assert started.wait(10)
    during = _count_for(0.5)
    stop.set()
    worker.join(10)
    assert not worker.is_alive()
    # Holding the GIL through training would leave this thread a few per
    # cent of the time; released, it keeps most of its pace (one core each).
    assert during > 0.3 * baseline, (during, baseline)
    assert 0 < model.info["epochs_done"] < 10**6


def test_callback_sees_every_epoch_and_false_stops():
    q = symdlnn.simulate("oscillator", dt=0.1, steps=40, fine=10)["q"]
    seen = []

    def callback(epoch, losses):
        seen.append(epoch)
        assert set(losses) >= {"loss", "lr", "del"} and np.isfinite(losses["loss"])
        return epoch < 9  # False after epoch 9: stop

    m = symdlnn.DLNN(hidden=(8,), epochs=100).fit(q, dt=0.1, callback=callback)
    assert seen == list(range(10))
    assert m.info["epochs_done"] == 10 and len(m.history["loss"]) == 10
    # A callback that raises stops training and the exception propagates;
    # the model is kept at the completed epochs.
    def boom(epoch, losses):
        if epoch == 4:
            raise KeyError("stop here")

    m2 = symdlnn.DLNN(hidden=(8,), epochs=100)
    try:
        m2.fit(q, dt=0.1, callback=boom)
        raise AssertionError("no exception")
    except KeyError:
        pass
    assert m2.info["epochs_done"] == 5
    # verbose draws a bar on stderr and changes nothing.
    a = symdlnn.DLNN(hidden=(8,), epochs=30).fit(q, dt=0.1, verbose=True)
    b = symdlnn.DLNN(hidden=(8,), epochs=30).fit(q, dt=0.1)
    assert np.array_equal(a.predict(q[0], q[1], steps=5), b.predict(q[0], q[1], steps=5))


CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import symdlnn
    q = symdlnn.simulate("kepler", trajectories=4, steps=50)["q"]
    model = symdlnn.DLNN(hidden=(32, 32), epochs=10**7, threads=1)
    print("ready", flush=True)
    try:
        model.fit(q, dt=0.1)
        print(json.dumps({"error": "not interrupted"}), flush=True)
    except KeyboardInterrupt:
        caught = time.monotonic()
        pred = model.predict(q[0][0], q[0][1], steps=20)
        print(json.dumps({
            "caught": caught,
            "epochs_done": model.info["epochs_done"],
            "history": len(model.history["loss"]),
            "finite": bool(np.all(np.isfinite(pred))),
        }), flush=True)
    """
)


def test_ctrl_c_stops_fit_within_a_second_and_keeps_the_model():
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.5)  # well into training
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out = json.loads(child.stdout.readline())
        child.wait(30)
    finally:
        child.kill()
    assert "error" not in out, out
    assert out["caught"] - sent < 1.0, out["caught"] - sent
    assert 0 < out["epochs_done"] < 10**7
    assert out["history"] == out["epochs_done"] and out["finite"]

"""gen.work.FairPool: fair shares by weight, cancelling, errors, waits; and the playground's Play on it."""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch  # noqa: F401 - imported here, not in the pool's first slice (one_thread imports it: seconds)

from gen.work import FairPool


def spin(seconds: float) -> None:
    """Use `seconds` of this thread's CPU."""
    t = time.thread_time()
    while time.thread_time() - t < seconds:
        pass


def busy(ms: float = 1.0, log: list | None = None, name: str = ""):
    while True:
        spin(ms / 1000)
        if log is not None:
            log.append(name)
        yield


def run_for(pool: FairPool, jobs: list, seconds: float) -> None:
    time.sleep(seconds)
    for j in jobs:
        pool.cancel(j)
    for j in jobs:
        assert j.finished.wait(2)


def test_equal_jobs_get_equal_shares():
    pool = FairPool(workers=1)
    jobs = [pool.submit(busy()) for _ in range(3)]
    run_for(pool, jobs, 0.4)
    counts = [j.slices for j in jobs]
    assert min(counts) >= 20, counts
    assert max(counts) <= 1.3 * min(counts) + 2, counts
    assert pool.active == 0 and pool.cancelled == 3


def test_weight_two_gets_about_twice():
    pool = FairPool(workers=1)
    one, two = pool.submit(busy()), pool.submit(busy(), weight=2)
    run_for(pool, [one, two], 0.4)
    assert 1.5 <= two.slices / one.slices <= 2.6, (one.slices, two.slices)
    assert two.cpu == pytest.approx(2 * one.cpu, rel=0.35)


def test_new_job_starts_within_a_slice():
    pool = FairPool(workers=1)
    old = [pool.submit(busy(2.0)) for _ in range(4)]
    time.sleep(0.2)  # they have run for a while: a new job does not wait for them to catch up, nor them for it
    started = threading.Event()

    def new():
        started.set()
        yield from busy(2.0)
    t0 = time.perf_counter()
    job = pool.submit(new())
    assert started.wait(1)
    assert time.perf_counter() - t0 < 0.1
    time.sleep(0.2)
    run_for(pool, [*old, job], 0)
    assert job.slices <= 1.5 * min(j.slices for j in old[:1]) + 5  # no catch-up burst


def test_cancelled_job_runs_no_more_slices_and_its_finally_runs():
    pool = FairPool(workers=2)
    closed = threading.Event()

    def job_slices():
        try:
            yield from busy()
        finally:
            closed.set()
    job = pool.submit(job_slices())
    time.sleep(0.05)
    pool.cancel(job)
    assert job.finished.wait(2) and closed.is_set() and job.cancelled
    n = job.slices
    time.sleep(0.05)
    assert job.slices == n and pool.active == 0


def test_a_jobs_exception_is_reported():
    pool = FairPool(workers=1)

    def failing():
        yield
        raise RuntimeError("boom")
    job = pool.submit(failing())
    assert job.finished.wait(2)
    assert isinstance(job.error, RuntimeError) and str(job.error) == "boom" and job.slices == 2
    ok = pool.submit(iter([None, None]))  # the pool goes on
    assert ok.finished.wait(2) and ok.error is None and ok.slices == 3


def test_a_waiting_job_holds_no_worker():
    pool = FairPool(workers=1)

    def sleeper():
        while True:
            yield 0.05  # nothing to do for 50 ms
    waiting = pool.submit(sleeper())
    worker = pool.submit(busy())
    run_for(pool, [waiting, worker], 0.3)
    assert waiting.slices <= 8  # about 0.3 / 0.05, not thousands
    assert worker.slices > 10 * waiting.slices  # the worker thread spent the time on the other job


def test_close_cancels_every_job_and_stops_the_workers():
    pool = FairPool(workers=2)
    jobs = [pool.submit(busy()) for _ in range(3)]
    time.sleep(0.05)
    pool.close()
    assert all(j.finished.is_set() and j.cancelled for j in jobs)
    assert not any(t.is_alive() for t in pool._threads)
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(busy())


EXIT_MID_SLICE = """
import sys, time
sys.path.insert(0, {root!r})
import torch
from gen.work import FairPool

def train():  # a toy training job: forward and backward in every slice
    w = torch.randn(64, 64, requires_grad=True)
    while True:
        (w @ w).tanh().sum().backward()
        yield

pool = FairPool(2)
pool.submit(train()), pool.submit(train())
time.sleep(0.3)  # then the interpreter exits with both workers inside torch
"""


def test_the_process_exits_cleanly_while_workers_are_inside_torch(tmp_path):
    # without the pools closed at exit this aborted every time ("terminate called without an active exception")
    script = tmp_path / "exit_mid_slice.py"
    script.write_text(EXIT_MID_SLICE.format(root=str(Path(__file__).resolve().parent.parent)))
    for _ in range(3):
        r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert r.returncode == 0 and "terminate" not in r.stderr, (r.returncode, r.stderr[-1000:])

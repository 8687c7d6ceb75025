"""Fair CPU sharing between many small jobs: a class of 40 on 2 cores, and cost that grows with distinct work.

A job is an iterator: each next() does one small slice of work (a few denoising steps, a few training steps,
a few ms to a few tens of ms) and the iterator ends when the job is done; a slice that yields a number of
seconds asks not to run again before they have passed (a job waiting for its next frame time holds no worker).
`FairPool` runs slices on a fixed number of worker threads (one per core, one torch thread each, niced below the
server's own threads so that a slider's event never waits for the CPU) and always runs
the job that has had the least CPU per unit of weight so far, as Linux's CFS does for threads: N jobs get about
1/N of the machine each, a new job's first slice runs within one slice of any other, and a cancelled job (its
visitors left) never runs again.
No Gradio here.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

# The nice value of background compute (the pool's workers, the film engine's process): below the server's own
# threads, so that a slider's event gets the CPU first
BACKGROUND_NICE = 10


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None  # not glibc: nothing to tune


def limit_malloc_arenas(n: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena; on a 2-vCPU Space two keep memory from creeping
    up (as MALLOC_ARENA_MAX=2 would)."""
    with contextlib.suppress(AttributeError):
        if (lib := _libc()) is not None:
            lib.mallopt(-8, n)  # M_ARENA_MAX


def trim_heap() -> None:
    """Give the heap's free pages back to the system: glibc keeps them resident (100-170 MiB after a busy few
    minutes of images and tensors, measured)."""
    with contextlib.suppress(AttributeError):
        if (lib := _libc()) is not None:
            lib.malloc_trim(0)


def keep_heap_lean(every: float = 15.0) -> None:
    """For a worker process (the film engine, the playground): two malloc arenas, and the heap trimmed every `every`
    s by a daemon thread, as the server's housekeeping does for its own process."""
    limit_malloc_arenas()

    def trim() -> None:
        while True:
            time.sleep(every)
            trim_heap()
    threading.Thread(target=trim, name="trim-heap", daemon=True).start()


@functools.lru_cache(maxsize=1)
def _libgomp() -> ctypes.CDLL | None:
    """The OpenMP runtime torch uses (found among the loaded libraries), or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libgomp" in line and "/" in line}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            if hasattr(lib, "omp_set_num_threads"):
                return lib
    except OSError:
        pass
    return None


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch ops of the calling thread on that thread alone; other threads keep torch.get_num_threads().

    Small tensors (a 28x28 U-Net step, a toy MLP) gain little from a second core, and while the CPU is busy
    waiting for a second OpenMP thread can make a 0.3 ms step take 20 ms. OpenMP's thread count is per calling
    thread, so this touches no one else."""
    import torch

    lib = _libgomp()
    if lib is None:
        yield
        return
    torch.get_num_threads()  # let torch initialise this thread's OpenMP settings first
    before = lib.omp_get_max_threads()
    lib.omp_set_num_threads(1)
    try:
        yield
    finally:
        lib.omp_set_num_threads(before)


class Job:
    """One piece of work in a FairPool: its slices, its share (weight) and what it has used."""

    def __init__(self, slices: Iterator[Any], weight: float, vtime: float):
        self._slices = slices
        self.weight = weight  # its share of the CPU relative to other jobs (e.g. how many visitors wait on it)
        self.vtime = vtime  # CPU seconds used / weight: the pool runs the smallest
        self.cpu = 0.0  # CPU seconds used
        self.slices = 0
        self.error: BaseException | None = None
        self.cancelled = False
        self.finished = threading.Event()  # set when it ended: done, failed or cancelled
        self._running = False
        self._wake = 0.0  # time.monotonic() before which it does not run (its last slice yielded a wait)

    @property
    def done(self) -> bool:
        return self.finished.is_set()


class FairPool:
    """Worker threads that share the CPU fairly between jobs (see the module docstring)."""

    def __init__(self, workers: int | None = None, nice: int = BACKGROUND_NICE):
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.nice = nice  # the workers' priority below the server's own threads: a slider's event never waits
        self._jobs: list[Job] = []
        self._cv = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.ran = self.cancelled = 0  # slices run and jobs cancelled, for tests and benchmarks
        _pools.add(self)

    def submit(self, slices: Iterator[Any], weight: float = 1.0) -> Job:
        """Start a job; it joins at the least virtual time of the running jobs, so it neither waits for them to
        catch up nor takes over the CPU to catch up with them."""
        with self._cv:
            if self._closed:
                raise RuntimeError("this FairPool is closed")
            job = Job(iter(slices), weight, min((j.vtime for j in self._jobs), default=0.0))
            self._jobs.append(job)
            while len(self._threads) < self.workers:  # started on first use: importing costs no threads
                t = threading.Thread(target=self._work, name=f"fairpool-{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()
            self._cv.notify()
        return job

    def cancel(self, job: Job) -> None:
        """Stop a job: it runs no further slice (one already running completes)."""
        with self._cv:
            if job.done or job.cancelled:
                return
            job.cancelled = True
            self.cancelled += 1
            if job._running:
                return  # its worker ends it after the slice
            self._jobs.remove(job)
        self._end(job)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel every job and stop the workers (a slice already running completes first)."""
        with self._cv:
            self._closed = True
            jobs = list(self._jobs)
            self._cv.notify_all()
        for job in jobs:
            self.cancel(job)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout)

    @property
    def active(self) -> int:
        with self._cv:
            return len(self._jobs)

    def _end(self, job: Job) -> None:
        close = getattr(job._slices, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()  # a generator's finally blocks run now
        job.finished.set()

    def _work(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: a thread has its own nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        with one_thread():
            while True:
                with self._cv:
                    while True:
                        if self._closed:
                            return
                        now = time.monotonic()
                        idle = [j for j in self._jobs if not j._running]
                        if ready := [j for j in idle if j._wake <= now]:
                            break
                        self._cv.wait(min((j._wake for j in idle), default=now + 60) - now)
                    job = min(ready, key=lambda j: j.vtime)
                    if job._wake:  # back from a wait: no credit for the time asleep beyond one slice's worth
                        floor = min((j.vtime for j in self._jobs if j is not job), default=job.vtime)
                        job.vtime, job._wake = max(job.vtime, floor - 0.01 / max(job.weight, 1e-9)), 0.0
                    job._running = True
                start, ended = time.thread_time(), False
                try:
                    wait = next(job._slices)
                    if isinstance(wait, int | float) and wait > 0:
                        job._wake = time.monotonic() + wait
                except StopIteration:
                    ended = True
                except BaseException as e:  # noqa: BLE001 - the job's owner sees it in job.error
                    job.error, ended = e, True
                used = time.thread_time() - start
                with self._cv:
                    job._running = False
                    job.cpu += used
                    job.vtime += used / max(job.weight, 1e-9)
                    job.slices += 1
                    self.ran += 1
                    if ended or job.cancelled:
                        self._jobs.remove(job)
                    else:
                        continue
                self._end(job)


_pools: weakref.WeakSet[FairPool] = weakref.WeakSet()


@atexit.register
def _close_pools() -> None:
    # Python 3.11 ends daemon threads with pthread_exit at shutdown: a worker caught inside torch's C++ then aborts
    # the process ("terminate called without an active exception"), so the workers stop before that
    for pool in list(_pools):
        pool.close()

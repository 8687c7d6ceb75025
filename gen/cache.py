"""Same input, one computation: results of pure functions shared by every visitor of the app.

A class of 40 pressing the same button with the same seed asks for the same grid 40 times. `SharedCache` computes
it once: finished results are kept in a least-recently-used store bounded in bytes, and a request that arrives
while the same computation is running waits for that one instead of starting its own. No Gradio here.
"""
from __future__ import annotations

import functools
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T")


def nbytes(v: Any) -> int:
    """About how much memory a result holds (arrays, tensors, strings and containers of them)."""
    if isinstance(v, np.ndarray):
        return v.nbytes
    if isinstance(v, torch.Tensor):
        return v.numel() * v.element_size()
    if isinstance(v, (str, bytes)):
        return len(v)
    if isinstance(v, dict):
        return sum(nbytes(k) + nbytes(x) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return sum(nbytes(x) for x in v)
    return sys.getsizeof(v)


class SharedCache:
    """A thread-safe LRU of finished results, at most `max_bytes` in all, that joins identical requests in flight."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.size = max_bytes, 0
        self._done: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._running: dict[Hashable, Future] = {}
        self._lock = threading.Lock()
        self.computed = self.hits = self.joined = 0  # counters, for tests and benchmarks

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                self.hits += 1
                return self._done[key][0]
            fut, owner = self._running.get(key), False
            if fut is None:
                fut, owner = Future(), True
                self._running[key] = fut
                self.computed += 1
            else:
                self.joined += 1
        if not owner:
            return fut.result()  # the same computation is running for someone else: wait for it
        try:
            value = compute()
        except BaseException as e:
            with self._lock:
                self._running.pop(key, None)
            fut.set_exception(e)  # everyone waiting sees the same error; nothing is stored
            raise
        self._store(key, value)
        fut.set_result(value)
        return value

    def peek(self, key: Hashable) -> Any | None:
        """A kept result, or None; nothing is computed."""
        with self._lock:
            if key not in self._done:
                return None
            self._done.move_to_end(key)
            self.hits += 1
            return self._done[key][0]

    def put(self, key: Hashable, value: Any, size: int | None = None) -> None:
        """Keep a result computed elsewhere (e.g. by a pool job), within the same bound; `size` if nbytes can't tell."""
        self._store(key, value, size)

    def _store(self, key: Hashable, value: Any, size: int | None = None) -> None:
        size = nbytes(value) if size is None else size
        with self._lock:
            self._running.pop(key, None)
            if size > self.max_bytes:
                return  # larger than the whole cache: served, not kept
            self._done[key] = (value, size)
            self.size += size
            while self.size > self.max_bytes:
                _, (_, s) = self._done.popitem(last=False)  # the least recently used goes first
                self.size -= s

    def __len__(self) -> int:
        return len(self._done)

    def clear(self) -> None:
        with self._lock:
            self._done.clear()
            self.size = 0


def shared(cache: SharedCache) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator: fn(*args) computed once per distinct (fn, args) in `cache`; args must be hashable values."""
    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def cached(*args: Hashable) -> T:
            return cache.get((fn.__qualname__, *args), lambda: fn(*args))
        return cached
    return wrap

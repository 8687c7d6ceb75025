"""gen.cache: a result computed once for everyone, identical requests joining the one in flight, a bounded store."""
import threading
import time

import numpy as np
import pytest

from gen.cache import SharedCache, nbytes, shared


def test_identical_requests_are_computed_once():
    cache, calls = SharedCache(10**6), []

    @shared(cache)
    def grid(ds: str, seed: int) -> np.ndarray:
        calls.append((ds, seed))
        return np.full((28, 28), seed, np.uint8)

    a, b, c = grid("mnist", 42), grid("mnist", 42), grid("mnist", 7)
    assert a is b and not np.array_equal(a, c)
    assert calls == [("mnist", 42), ("mnist", 7)] and cache.hits == 1 and cache.computed == 2


def test_concurrent_identical_requests_join_the_one_in_flight():
    cache, started, calls = SharedCache(10**6), threading.Event(), []

    def slow():
        calls.append(1)
        started.set()
        time.sleep(0.3)
        return np.arange(10)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(8)]
    threads[0].start()
    started.wait(5)
    for th in threads[1:]:
        th.start()
    for th in threads:
        th.join(5)
    assert len(calls) == 1 and len(results) == 8 and all(r is results[0] for r in results)
    assert cache.computed == 1 and cache.joined + cache.hits == 7


def test_the_store_is_bounded_and_forgets_the_least_recently_used():
    cache = SharedCache(max_bytes=3000)
    for k in range(3):
        cache.get(k, lambda: np.zeros(1000, np.uint8))
    cache.get(0, lambda: pytest.fail("0 is cached"))  # 0 is now the most recently used
    cache.get(3, lambda: np.zeros(1000, np.uint8))  # over the bound: 1, the least recently used, goes
    assert len(cache) == 3 and cache.size <= 3000
    cache.get(1, lambda: np.ones(1000, np.uint8))
    assert cache.computed == 5
    big = cache.get("big", lambda: np.zeros(5000, np.uint8))  # larger than the whole cache: served, not kept
    assert big.shape == (5000,) and "big" not in cache._done and cache.size <= 3000


def test_errors_reach_every_waiter_and_are_not_kept():
    cache = SharedCache(10**6)

    def bad():
        raise ValueError("no such class")

    for _ in range(2):
        with pytest.raises(ValueError, match="no such class"):
            cache.get("k", bad)
    assert cache.computed == 2 and len(cache) == 0


def test_nbytes_counts_arrays_strings_and_containers():
    assert nbytes((np.zeros((10, 10), np.uint8), "abc", {"k": np.zeros(4, np.float32)})) == 100 + 3 + 1 + 16


def test_put_keeps_a_result_computed_elsewhere_within_the_bound():
    cache = SharedCache(max_bytes=100)
    cache.put("a", "x", size=60)
    assert cache.peek("a") == "x" and cache.peek("b") is None
    cache.put("b", "y", size=60)  # over the bound: the least recently used goes
    assert cache.peek("a") is None and cache.peek("b") == "y" and cache.size == 60

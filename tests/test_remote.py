"""gen.remote: calls and streams served by a child process, errors, closing a stream early, the child's death."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from gen.remote import Remote, RemoteError
from tests.conftest import run_async


@pytest.fixture(scope="module")
def remote():
    r = Remote("tests.remote_target", threads=2, name="test-remote")
    r.start()
    yield r
    if r.pid:
        os.kill(r.pid, signal.SIGKILL)


def test_a_call_runs_in_the_child_and_returns(remote):
    assert remote.call("add", 2, 3).result(timeout=60) == 5
    assert remote.call("pid").result(timeout=10) == remote.pid != os.getpid()

    async def awaited():
        return await asyncio.wrap_future(remote.call("add", 20, 22))
    assert run_async(awaited()) == 42


def test_an_exception_in_the_child_comes_back_by_type_and_message(remote):
    with pytest.raises(RemoteError, match="^boom$") as e:
        remote.call("fail", "boom").result(timeout=10)
    assert e.value.kind == "ValueError"
    assert remote.call("add", 1, 1).result(timeout=10) == 2  # the child goes on


def test_a_stream_delivers_every_item_in_order(remote):
    async def collect():
        return [i async for i in remote.stream("count", 5)]
    assert run_async(collect()) == [0, 1, 2, 3, 4]


def test_closing_a_stream_early_stops_the_childs_generator(remote):
    async def three_then_close():
        agen = remote.stream("ticks", "t1")
        got = [await agen.__anext__() for _ in range(3)]
        await agen.aclose()  # what Gradio does on Pause or when the page goes away
        return got
    assert run_async(three_then_close()) == [0, 1, 2]
    t0 = time.monotonic()
    while not remote.call("was_stopped", "t1").result(timeout=10):
        assert time.monotonic() - t0 < 5, "the child's generator kept running"
        time.sleep(0.02)


def test_the_childs_death_fails_what_is_pending_and_the_next_call_starts_a_new_child(remote):
    old = remote.pid
    pending = remote.call("sleep", 30)
    time.sleep(0.2)
    os.kill(old, signal.SIGKILL)
    with pytest.raises(RemoteError, match="stopped") as e:
        pending.result(timeout=10)
    assert e.value.kind == "ProcessDied"
    assert remote.call("add", 1, 2).result(timeout=60) == 3 and remote.pid != old


def test_tell_never_starts_a_child():
    r = Remote("tests.remote_target", name="idle")
    r.tell("add", 1, 2)  # e.g. a finaliser dropping a session: no child, nothing to drop
    assert r.pid is None

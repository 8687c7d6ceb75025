"""Calls into a child process, so that the server's event loop keeps its interpreter lock while the child computes.

A class of 40 training toy models in the server's own threads kept its GIL busy: Gradio's event loop, which sends
every Play message and answers every slider, waited behind Python-level training steps (measured: light events
waited seconds). `Remote("some.module")` starts a child process (spawn) that imports the module and serves:

- `call(fn, *args)`: `module.fn(*args)` on one of the child's threads; an awaitable (or `.result()`) Future;
- `stream(fn, *args)`: an async generator `module.fn(*args)` run on the child's event loop, its items delivered
  as they come (one pipe message each); closing the server's side closes the child's generator (its finally runs);
- `tell(fn, *args)`: a call nobody waits for.

An exception in the child comes back as `RemoteError` (its type's name and message). If the child dies, what was
pending fails with a RemoteError and the next call starts a new child. No Gradio here.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import itertools
import multiprocessing as mp
import os
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any


class RemoteError(Exception):
    """An exception raised in the child (`kind`: its type's name), or the child's death (`kind` "ProcessDied")."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Remote:
    """A child process serving calls to one module's functions (see the module docstring)."""

    def __init__(self, module: str, threads: int = 4, init: str | None = None, name: str = "remote"):
        self.module, self.threads, self.init, self.name = module, threads, init, name
        self._lock = threading.Lock()  # the child, the pending table and the pipe's sending end
        self._child: tuple[Any, Any] | None = None  # (Process, Connection)
        self._ids = itertools.count(1)
        self._pending: dict[int, Callable[[str, Any], None]] = {}  # request id -> what to do with its replies

    @property
    def pid(self) -> int | None:
        child = self._child
        return child[0].pid if child else None

    def start(self) -> None:
        """Start the child now (it imports torch and the module: seconds), not at the first call."""
        with self._lock:
            self._ensure()

    def call(self, fn: str, *args: Any) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def reply(kind: str, value: Any) -> None:
            if fut.done():
                return
            if kind == "error":
                fut.set_exception(RemoteError(*value))
            else:
                fut.set_result(value)
        self._request("call", fn, args, reply)
        return fut

    def tell(self, fn: str, *args: Any) -> None:
        """Call without waiting for (or keeping) the answer; never raises (e.g. from a finaliser), and starts no child
        (a dropped session's models went with a child that died)."""
        with contextlib.suppress(Exception):
            self._request("call", fn, args, lambda kind, value: None, start=False)

    async def stream(self, fn: str, *args: Any) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        q: asyncio.Queue = asyncio.Queue()

        def reply(kind: str, value: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is listening
                loop.call_soon_threadsafe(q.put_nowait, (kind, value))
        rid, ended = self._request("stream", fn, args, reply), False
        try:
            while True:
                kind, value = await q.get()
                if kind == "item":
                    yield value
                    continue
                ended = True
                if kind == "error":
                    raise RemoteError(*value)
                return
        finally:
            with self._lock:
                self._pending.pop(rid, None)
                if not ended:  # closed early (Pause, a closed page): the child's generator stops too
                    self._send(("close", rid, "", ()))

    # --- the server's side of the pipe ---------------------------------------------------------------------------

    def _request(self, kind: str, fn: str, args: tuple, reply: Callable[[str, Any], None], start: bool = True) -> int:
        with self._lock:
            if start:
                self._ensure()
            rid = next(self._ids)
            self._pending[rid] = reply
            if not self._send((kind, rid, fn, args)):
                self._pending.pop(rid)
                reply("error", ("ProcessDied", f"the {self.name} process is not running"))
        return rid

    def _send(self, msg: tuple) -> bool:
        """(Under the lock.)"""
        if self._child is None:
            return False
        try:
            self._child[1].send(msg)
            return True
        except (OSError, ValueError):
            return False

    def _ensure(self) -> None:
        """(Under the lock.) A running child: the one there is, or a new one."""
        if self._child is not None and self._child[0].is_alive():
            return
        ctx = mp.get_context("spawn")  # not fork: the server has threads, torch has OpenMP state
        conn, child_conn = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child_conn, self.module, self.threads, self.init), name=self.name,
                           daemon=True)
        proc.start()
        child_conn.close()
        self._child = (proc, conn)
        threading.Thread(target=self._receive, args=(conn,), name=f"{self.name}-receiver", daemon=True).start()

    def _receive(self, conn) -> None:
        while True:
            try:
                kind, rid, value = conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                reply = self._pending.get(rid)
                if kind != "item":
                    self._pending.pop(rid, None)
            if reply is not None:
                reply(kind, value)
        with self._lock:  # the child died: everything pending fails; the next request starts a new child
            if self._child is not None and self._child[1] is conn:
                self._child = None
            pending, self._pending = self._pending, {}
        for reply in pending.values():
            reply("error", ("ProcessDied", f"the {self.name} process stopped"))


# --- the child's side ------------------------------------------------------------------------------------------------

def _error(e: BaseException) -> tuple[str, str]:
    return type(e).__name__, str(e)


def _serve(conn, module: str, threads: int, init: str | None) -> None:
    """The child: calls run on `threads` threads, streams on one event loop; replies go back as they are ready."""
    from gen.work import keep_heap_lean

    keep_heap_lean()
    mod = importlib.import_module(module)
    lock = threading.Lock()

    def send(msg: tuple) -> None:
        with lock, contextlib.suppress(OSError, ValueError):
            conn.send(msg)

    def run(rid: int, fn: str, args: tuple) -> None:
        try:
            send(("result", rid, getattr(mod, fn)(*args)))
        except BaseException as e:  # noqa: BLE001 - the caller gets it as a RemoteError
            send(("error", rid, _error(e)))

    async def pump(rid: int, fn: str, args: tuple) -> None:
        agen = getattr(mod, fn)(*args)
        try:
            async for item in agen:
                send(("item", rid, item))
            send(("end", rid, None))
        except asyncio.CancelledError:
            raise  # the server closed it: nobody to tell
        except BaseException as e:  # noqa: BLE001
            send(("error", rid, _error(e)))
        finally:
            streams.pop(rid, None)
            await agen.aclose()

    if init:
        getattr(mod, init)()
    calls = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="remote-call")
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="remote-streams", daemon=True).start()
    streams: dict[int, concurrent.futures.Future] = {}
    while True:
        try:
            kind, rid, fn, args = conn.recv()
        except (EOFError, OSError):
            os._exit(0)  # the server is gone
        if kind == "call":
            calls.submit(run, rid, fn, args)
        elif kind == "stream":
            streams[rid] = asyncio.run_coroutine_threadsafe(pump(rid, fn, args), loop)
        elif kind == "close" and (fut := streams.pop(rid, None)) is not None:
            fut.cancel()  # the generator gets CancelledError where it waits, then runs its finally

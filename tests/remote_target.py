"""Functions tests/test_remote.py calls in a child process (gen.remote imports this module there)."""
from __future__ import annotations

import asyncio
import os
import time

stopped: set[str] = set()


def add(a: int, b: int) -> int:
    return a + b


def fail(message: str) -> None:
    raise ValueError(message)


def pid() -> int:
    return os.getpid()


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


async def count(n: int):
    for i in range(n):
        yield i
        await asyncio.sleep(0)


async def ticks(token: str):
    """Forever, until closed: then `token` is recorded as stopped."""
    try:
        i = 0
        while True:
            yield i
            i += 1
            await asyncio.sleep(0.01)
    finally:
        stopped.add(token)


def was_stopped(token: str) -> bool:
    return token in stopped

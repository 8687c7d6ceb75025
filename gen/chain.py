"""The reverse chain as a visitor plays it: a typed state, and films computed ahead and shared by every viewer.

Algorithm 2 is deterministic given (model, x_t, t, the seed of each step's z, sigma_t): 20 students who press Play on
the lecturer's seed ask for the same 1,000 steps. A `Film` is the frames of one such chain, computed ahead as fast
as the CPU allows by a `gen.work.FairPool` job and read by every player watching it: cost grows with distinct
chains, not with viewers, and the browser paces the animation. A film nobody watches any more is cancelled; a
finished one is kept (bounded in bytes) for the next viewer. No Gradio here.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from gen.cache import SharedCache, nbytes
from gen.work import FairPool, Job


@dataclass(frozen=True, eq=False)
class Chain:
    """One visitor's reverse chain: x_t at step t, drawn from x_T ~ N(0, I) by `seed`, with its filmstrip
    (x_t every few steps, uint8) and the frame the player shows. `film`/`shot` name where in a played film it is."""
    ds: str
    seed: int
    t: int
    x: torch.Tensor
    strip: tuple[np.ndarray, ...] = ()
    frame: dict = field(default_factory=dict)
    film: Film | None = None
    shot: int = -1

    def digest(self) -> str:
        """Identifies x_t exactly: two chains at the same t with the same digest continue identically."""
        return hashlib.sha1(self.x.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Shot:
    """One frame of a film: where the chain is after it (t, x_t, filmstrip length) and what the player paints."""
    t: int
    x: torch.Tensor
    strip_len: int
    view: dict


class Film:
    """The shots of one reverse chain, appended by a pool job while any number of players read them."""

    def __init__(self, key: Hashable, start: Chain):
        self.key, self.start = key, start
        self.shots: list[Shot] = []
        self.strip: list[np.ndarray] = list(start.strip)
        self.watchers = 0
        self.job: Job | None = None

    @property
    def done(self) -> bool:
        return self.job is not None and self.job.done and self.job.error is None and not self.job.cancelled

    @property
    def error(self) -> BaseException | None:
        return self.job.error if self.job is not None else None

    def at(self, i: int) -> Chain:
        """The chain after shot i, as a visitor's state (to step, jump or play on from it)."""
        s = self.shots[i]
        return replace(self.start, t=s.t, x=s.x, strip=tuple(self.strip[:s.strip_len]), frame=s.view, film=self,
                       shot=i)

    def find(self, t: int) -> int | None:
        """The index of the shot at step t, if the film has reached it."""
        for i in range(len(self.shots) - 1, -1, -1):
            if self.shots[i].t == t:
                return i
        return None


class Films:
    """Running and finished films by key: a second Play of the same chain watches the first one's film."""

    def __init__(self, pool: FairPool, max_bytes: int):
        self.pool = pool
        self._running: dict[Hashable, Film] = {}
        self._kept = SharedCache(max_bytes)  # finished films, least recently watched dropped first
        self._lock = threading.Lock()
        self.started = self.shared = 0  # counters, for tests and benchmarks

    def watch(self, key: Hashable, start: Chain, shots: Callable[[Film], Iterator[Shot]]) -> Film:
        """The film for `key`: a finished or running one, else a new one whose `shots(film)` the pool computes.
        Each watch must be matched by one leave()."""
        with self._lock:
            self._collect()
            film = self._kept.peek(key)
            if film is None and key in self._running:
                film = self._running[key]
            elif film is None:
                film = self._running[key] = Film(key, start)
                film.job = self.pool.submit(self._append(film, shots(film)), weight=1)
                self.started += 1
                film.watchers = 1
                return film
            self.shared += 1
            film.watchers += 1
            if film.job is not None:
                film.job.weight = film.watchers  # a chain 20 students watch gets 20 students' share of the CPU
            return film

    def leave(self, film: Film) -> None:
        """A viewer is gone (Pause, a closed page): a running film nobody watches stops computing."""
        with self._lock:
            film.watchers -= 1
            if film.job is not None:
                film.job.weight = max(1, film.watchers)
            abandoned = film.watchers <= 0 and not film.job.done and self._running.get(film.key) is film
            if abandoned:
                del self._running[film.key]
        if abandoned:
            self.pool.cancel(film.job)

    @property
    def size(self) -> int:
        """Bytes of the finished films kept."""
        return self._kept.size

    @property
    def running(self) -> int:
        with self._lock:
            self._collect()
            return len(self._running)

    @staticmethod
    def _append(film: Film, shots: Iterator[Shot]) -> Iterator[None]:
        for shot in shots:  # each slice of the pool job computes one shot (a few denoising steps)
            film.shots.append(shot)
            yield

    def _collect(self) -> None:
        """Move finished films to the bounded store (failed or cancelled ones are forgotten)."""
        for key, film in list(self._running.items()):
            if film.job.done:
                del self._running[key]
                if film.done:
                    size = sum(nbytes(s.view) + nbytes(s.x) for s in film.shots) + nbytes(film.strip)
                    self._kept.put(key, film, size)


def key(chain: Chain, *params: Any) -> tuple:
    """The identity of a film: where it starts (dataset, seed, t, x_t exactly) and how it is played."""
    return (chain.ds, chain.seed, chain.t, chain.digest(), *params)

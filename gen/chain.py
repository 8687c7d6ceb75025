"""The reverse chain as a visitor plays it: a typed state, and films computed ahead and shared by every viewer.

Algorithm 2 is deterministic given (model, x_t, t, the seed of each step's z, sigma_t): 20 students who press Play on
the lecturer's seed ask for the same 1,000 steps. A `Film` is the frames of one such chain, computed ahead as fast
as the CPU allows and read by every player watching it: cost grows with distinct chains, not with viewers, and
the browser paces the animation. All running films are stepped together by one `gen.work.FairPool` job: before each
step a film yields the U-Net calls it needs (a `Need` each: eps_theta, and autoguidance's eps_weak), and in each round
the calls of all films of one model run as one batch (on a CPU a batch of 20 costs a fraction of 20 calls of one).
A film nobody watches any more stops; a finished one is kept (bounded in bytes) for the next viewer. No Gradio here.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import multiprocessing as mp
import os
import threading
from collections.abc import Callable, Generator, Hashable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import torch

from gen.cache import SharedCache, nbytes
from gen.work import BACKGROUND_NICE, FairPool, Job, keep_heap_lean


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


class Need(NamedTuple):
    """A film's request to the engine: eps_theta(x, t[, y]) of `model` for these rows; the output is sent back."""
    model: Callable[..., torch.Tensor]
    x: torch.Tensor
    t: torch.Tensor
    y: torch.Tensor | None = None


class _Deferred:
    """A noise predictor that records its call and answers with a given output: lets the engine run a step's U-Net
    call elsewhere (batched) while the step itself stays diffusion.p_sample, unchanged."""

    def __init__(self, model: Callable[..., torch.Tensor]):
        self.model, self.need, self.out = model, None, None

    def __call__(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.out is None:
            self.need = Need(self.model, x, t, y)
            return torch.zeros_like(x)
        out, self.out = self.out, None
        return out


def batched_steps(wrap: Callable, sch, x: torch.Tensor, seed: int, t_start: int,
                  var: str = "beta") -> Generator[list[Need] | Any, list[torch.Tensor] | None, None]:
    """diffusion.sample_steps for a film: Algorithm 2 from x at t_start, with the same noise z per (seed, t); before
    each step it yields the model calls the step needs (a list of Needs: the U-Net's, and autoguidance's weak one's
    where it guides) and is sent their outputs, then yields the Step. `wrap(defer)` builds the step's noise predictor
    with `defer(model)` in place of each model whose calls the engine batches (the U-Net alone, or inside guidance)."""
    from gen import diffusion
    deferred: list[_Deferred] = []

    def defer(model: Callable[..., torch.Tensor]) -> _Deferred:
        deferred.append(_Deferred(model))
        return deferred[-1]
    eps = wrap(defer)
    for t in range(t_start, 0, -1):
        z = diffusion.noise(tuple(x.shape), seed, t).to(x)
        diffusion.p_sample(eps, x, t, sch, z, var)  # records the calls (its result is discarded)
        calls = [d for d in deferred if d.need is not None]
        outs = yield [d.need for d in calls]  # one engine round: each model's calls of all films as one batch
        for d, out in zip(calls, outs):
            d.out, d.need = out, None
        step = diffusion.p_sample(eps, x, t, sch, z, var)
        yield step
        x = step.prev_sample


class Film:
    """The shots of one reverse chain, appended by a pool job while any number of players read them."""

    def __init__(self, key: Hashable, start: Chain):
        self.key, self.start = key, start
        self.shots: list[Shot] = []
        self.strip: list[np.ndarray] = list(start.strip)
        self.watchers = 0
        self.credit = 1.0  # step_round's share counter
        self.shot_once = False  # made its first shot: until then it takes part in every round (a first frame fast)
        self.job: Job | None = None  # the engine's pool job (shared by all running films)
        self.ended = threading.Event()  # computed to the end, failed or stopped
        self.error: BaseException | None = None
        self.cancelled = False
        self._shots: Generator | None = None
        self._sent: torch.Tensor | list | None = None  # the output(s) for its pending Need(s)
        self.id = 0  # its number in the engine's process

    @property
    def done(self) -> bool:
        """Computed to the end."""
        return self.ended.is_set() and self.error is None and not self.cancelled

    def _end(self, error: BaseException | None = None) -> None:
        self.error = error
        if self._shots is not None:
            self._shots.close()
        self.ended.set()

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
    """Running and finished films by key: a second Play of the same chain watches the first one's film. One pool job
    (the engine) steps every running film, a round at a time; its weight is the number of viewers of all films."""

    def __init__(self, pool: FairPool, max_bytes: int, batch: int = 64, process: bool = False):
        self.pool, self.batch = pool, batch  # U-Net rows per call at most (64 stay in a CPU's cache)
        # process: the engine runs in a child process (its own interpreter and GIL), so the server's process keeps
        # its GIL for events and the playground; `shots` must then be picklable (a functools.partial)
        self.process = process
        self._child: Any = None  # (Process, Connection) while it runs
        self._by_id: dict[int, Film] = {}
        self._ids = itertools.count(1)
        self._running: dict[Hashable, Film] = {}
        self._kept = SharedCache(max_bytes)  # finished films, least recently watched dropped first
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._dropped: list[Film] = []  # films whose last viewer left, for the engine to close
        self.started = self.shared = 0  # counters, for tests and benchmarks
        self.rounds = self.calls = 0  # engine rounds, and batched U-Net calls in them

    def watch(self, key: Hashable, start: Chain, shots: Callable[[Film], Iterator[Shot | Need]]) -> Film:
        """The film for `key`: a finished or running one, else a new one whose `shots(film)` the engine steps (a
        generator of Shots that may yield a Need, or a list of Needs, before each step and is sent the output(s)). Each
        watch must be matched by one leave()."""
        with self._lock:
            self._collect()
            film = self._kept.peek(key)
            if film is None and key in self._running:
                film = self._running[key]
            elif film is None:
                film = self._running[key] = Film(key, start)
                self.started += 1
                film.watchers = 1
                if self.process:
                    self._send_start(film, shots)
                    return film
                film._shots = shots(film)
                self._engine()
                film.job = self._job
                return film
            self.shared += 1
            film.watchers += 1
            self._weigh()
        self._tell_watchers(film)
        return film

    def leave(self, film: Film) -> None:
        """A viewer is gone (Pause, a closed page): a running film nobody watches stops computing (at the engine's
        next round, a few ms; the engine ends when no film is left, freeing its worker)."""
        with self._lock:
            film.watchers -= 1
            abandoned = film.watchers <= 0 and not film.ended.is_set() and self._running.get(film.key) is film
            if abandoned:
                del self._running[film.key]
                film.cancelled = True
                engine_alive = not self.process and self._job is not None and not self._job.done
                if engine_alive:
                    self._dropped.append(film)  # its generator may be running: the engine closes it
            self._weigh()
        if abandoned and not engine_alive:
            film._end()
        if abandoned and self.process:
            self._send(("stop", film.id))
        elif not abandoned:
            self._tell_watchers(film)

    @property
    def size(self) -> int:
        """Bytes of the finished films kept."""
        return self._kept.size

    @property
    def running(self) -> int:
        with self._lock:
            self._collect()
            return len(self._running)

    def _engine(self) -> None:
        """Start the engine's pool job unless it is running (under the lock)."""
        if self._job is None or self._job.done:
            self._job = self.pool.submit(self._rounds(), weight=1)
        self._weigh()

    def _weigh(self) -> None:
        if self._job is not None:  # the films' viewers' share of the CPU, beside each playground visitor's
            self._job.weight = max(1, sum(f.watchers for f in self._running.values() if not f.ended.is_set()))

    def _rounds(self) -> Iterator[None]:
        """The engine: each slice advances every running film to its next U-Net call (keeping the shots it makes on
        the way), then runs those calls, one batch per model. Ends when no film is left to step."""
        finished = False
        try:
            while True:
                with self._lock:
                    dropped, self._dropped = self._dropped, []
                    films = [f for f in self._running.values() if not f.ended.is_set()]
                    if not films:
                        self._job, finished = None, True  # the next watch() starts a new engine
                for f in dropped:
                    f._end()
                if finished:
                    return
                self.calls += step_round(films, self.batch)
                self.rounds += 1
                yield
        finally:
            if not finished:  # a failed engine (only then: a finished one may already have a successor)
                with self._lock:
                    left = [f for f in self._running.values() if not f.ended.is_set()] + self._dropped
                    self._dropped, self._job = [], None
                for f in left:
                    f._end(f.error or (None if f.cancelled else RuntimeError("the film engine stopped")))

    # --- the engine in a child process --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the engine's process now (it takes a few seconds to import torch and load models), not at the
        first Play."""
        if self.process:
            with self._lock:
                self._ensure_child()

    def _ensure_child(self) -> None:
        if self._child is not None and self._child[0].is_alive():
            return
        ctx = mp.get_context("spawn")  # not fork: the server has threads, torch has OpenMP state
        conn, child_conn = ctx.Pipe()
        proc = ctx.Process(target=_engine_process, args=(child_conn, self.batch), name="film-engine", daemon=True)
        proc.start()
        child_conn.close()
        self._child = (proc, conn, threading.Lock())
        threading.Thread(target=self._receive, args=(conn,), name="film-engine-receiver", daemon=True).start()

    def _send_start(self, film: Film, shots: Callable[[Film], Iterator[Shot | Need]]) -> None:
        """(Under the lock.) Hand a new film to the engine's process."""
        self._ensure_child()
        film.id = next(self._ids)
        self._by_id[film.id] = film
        self._send(("start", film.id, film.start, shots))

    def _tell_watchers(self, film: Film) -> None:
        """The engine's process weighs films by their viewers: tell it how many this one has now."""
        if self.process and film.id and not film.ended.is_set():
            self._send(("watchers", film.id, film.watchers))

    def _send(self, msg: tuple) -> None:
        child = self._child
        if child is None:
            return
        with child[2], contextlib.suppress(OSError, ValueError):  # a dead child: the receiver fails its films
            child[1].send(msg)

    def _receive(self, conn) -> None:
        """Shots and ends from the engine's process, into the films the players read."""
        while True:
            try:
                kind, fid, *rest = conn.recv()
            except (EOFError, OSError):
                break
            film = self._by_id.get(fid)
            if film is None:
                continue
            if kind == "shots" and not film.ended.is_set():
                film.strip.extend(rest[0])  # before the shots that refer to it
                film.shots.extend(rest[1])
            elif kind == "end":
                del self._by_id[fid]
                if not film.ended.is_set():
                    film._end(RuntimeError(rest[0]) if rest[0] else None)
        with self._lock:  # the process died: its films fail, and the next Play starts a new one
            films, self._by_id = list(self._by_id.values()), {}
            self._child = None
        for film in films:
            if not film.ended.is_set():
                film._end(RuntimeError("the film engine's process stopped"))

    def _collect(self) -> None:
        """Move finished films to the bounded store (failed or cancelled ones are forgotten)."""
        for key, film in list(self._running.items()):
            if film.ended.is_set():
                del self._running[key]
                if film.done:
                    size = sum(nbytes(s.view) + nbytes(s.x) for s in film.shots) + nbytes(film.strip)
                    self._kept.put(key, film, size)


def step_round(films: list[Film], batch: int) -> int:
    """One engine round: advance films to their next U-Net call (keeping the shots they make on the way), then run
    those calls, one batch of at most `batch` rows per model. Returns the number of calls.

    Every viewer gets an equal share: a film takes part in a round as often as its viewers are to the most-watched
    film's (the lecturer's seed with 20 viewers every round, a student's own seed every 20th), so the film half the
    class watches plays smoothly instead of every film crawling at the pace of all of them together. A film that has
    not made its first shot yet takes part in every round: every Play's first frame comes fast."""
    top = max((f.watchers for f in films), default=1)
    chosen = []
    for f in films:
        f.credit += max(f.watchers, 1) / max(top, 1) if f.shot_once else 1
        if f.credit >= 1:
            f.credit -= 1
            chosen.append(f)
    asked = {f: n for f in chosen if (n := _advance(f)) is not None}
    needs = {f: [n] if isinstance(n, Need) else n for f, n in asked.items()}
    outs: dict[Film, list] = {f: [None] * len(ns) for f, ns in needs.items()}
    by_model: dict[int, list[tuple[Film, int]]] = {}
    for f, ns in needs.items():
        for i, n in enumerate(ns):
            by_model.setdefault(id(n.model), []).append((f, i))
    calls = sum(_run([needs[f][i] for f, i in group], group, outs, batch) for group in by_model.values())
    for f, o in outs.items():
        f._sent = o[0] if isinstance(asked[f], Need) else o
    return calls


def _advance(film: Film) -> Need | list[Need] | None:
    """Run a film's generator to its next Need(s) (None: it ended), appending its shots."""
    try:
        while True:
            item = film._shots.send(film._sent)
            film._sent = None
            if isinstance(item, (Need, list)):
                return item
            if item is not None:
                film.shots.append(item)
                film.shot_once = True
    except StopIteration:
        film._end()
    except Exception as e:  # noqa: BLE001 - the players see it in film.error
        film._end(e)
    return None


@torch.no_grad()
def _run(needs: list[Need], where: list[tuple[Film, int]], outs: dict[Film, list], batch: int) -> int:
    """One model's calls of a round as batches of at most `batch` rows; each film's rows go to outs[film][i]."""
    model = needs[0].model
    x, t = torch.cat([n.x for n in needs]), torch.cat([n.t for n in needs])
    y = torch.cat([n.y for n in needs]) if needs[0].y is not None else None
    try:
        out = torch.cat([model(x[i:i + batch], t[i:i + batch], *(() if y is None else (y[i:i + batch],)))
                         for i in range(0, len(x), batch)])
    except Exception as e:  # noqa: BLE001 - these films fail (their players say why); the others go on
        for f, _ in where:
            f._end(e)
        return 0
    k = 0
    for n, (f, i) in zip(needs, where):
        outs[f][i], k = out[k:k + len(n.x)], k + len(n.x)
    return -(-len(x) // batch)


def _engine_process(conn, batch: int) -> None:
    """The engine's child process: films start and stop by message; each round's new shots (and filmstrip images)
    go back to the server's process, then the film's end."""
    with contextlib.suppress(OSError):
        os.nice(BACKGROUND_NICE)  # below the server's threads, as the pool's workers
    torch.set_num_threads(1)
    keep_heap_lean()
    films: dict[int, tuple[Film, int]] = {}  # id -> (film, filmstrip images sent)
    while True:
        try:
            while conn.poll(0 if films else None):
                msg = conn.recv()
                if msg[0] == "start":
                    film = Film(msg[1], msg[2])
                    film._shots = msg[3](film)
                    films[msg[1]] = (film, len(film.strip))
                elif msg[0] == "watchers" and msg[1] in films:
                    films[msg[1]][0].watchers = msg[2]
                elif msg[0] == "stop" and msg[1] in films:  # its last viewer left
                    films.pop(msg[1])[0]._end()
        except (EOFError, OSError):
            return  # the server is gone
        step_round([f for f, _ in films.values()], batch)
        for fid, (film, sent) in list(films.items()):
            if film.shots:
                conn.send(("shots", fid, film.strip[sent:], film.shots))
                film.shots, films[fid] = [], (film, len(film.strip))
            if film.ended.is_set():
                conn.send(("end", fid, None if film.error is None else f"{type(film.error).__name__}: {film.error}"))
                del films[fid]


def key(chain: Chain, *params: Any) -> tuple:
    """The identity of a film: where it starts (dataset, seed, t, x_t exactly) and how it is played."""
    return (chain.ds, chain.seed, chain.t, chain.digest(), *params)

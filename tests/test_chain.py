"""The reverse chain as visitors play it (gen/chain.py, ddpm_tab's Play): shared films, cancellation, Pause."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from gen.chain import Chain, Film, Films, Need, Shot, batched_steps, key, step_round
from gen.work import FairPool
from tests.conftest import run_async


def plus_one(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    return x + 1


def counting_shots(c: Chain, n: int, calls: list, gate: threading.Event | None = None, model=plus_one):
    """A stand-in for Algorithm 2: n shots of a chain that counts how many it computed; each step asks the engine
    for one call of `model` (a Need) and takes its output as the next x."""
    def shots(film):
        x = c.x
        for i in range(n):
            if gate is not None:
                gate.wait(5)
            x = yield Need(model, x, torch.full((1,), c.t - i))
            calls.append(i)
            yield Shot(c.t - i - 1, x, len(film.strip), {"t": c.t - i - 1})
    return shots


def chain(seed: int = 0) -> Chain:
    return Chain("MNIST", seed, 10, torch.full((1, 1, 2, 2), float(seed)))


def wait(cond, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def test_same_chain_is_computed_once_for_all_viewers():
    films, calls, gate = Films(FairPool(2), max_bytes=2**20), [], threading.Event()
    c = chain()
    # held at its first step until the second visitor is in: 10 quick steps could end it before (a finished film
    # is shared from the kept ones, no longer weighing on the engine)
    a = films.watch(key(c, "beta", 1), c, counting_shots(c, 10, calls, gate))
    b = films.watch(key(chain(), "beta", 1), chain(), counting_shots(c, 10, calls))  # an equal chain, another visitor
    assert a is b and a.watchers == 2 and a.job.weight == 2
    gate.set()
    wait(lambda: a.done)
    films.leave(a), films.leave(b)
    late = films.watch(key(c, "beta", 1), c, counting_shots(c, 10, calls))  # finished: kept for the next viewer
    assert late is a and len(calls) == 10 and films.started == 1 and films.shared == 2
    other = films.watch(key(chain(1), "beta", 1), chain(1), counting_shots(chain(1), 3, []))
    assert other is not a  # another x_T is another chain


def test_a_film_nobody_watches_stops_computing():
    pool, gate, calls = FairPool(1), threading.Event(), []
    films = Films(pool, max_bytes=2**20)
    c = chain()
    film = films.watch(key(c), c, counting_shots(c, 1000, calls, gate))
    gate.set()
    wait(lambda: len(calls) >= 3)
    films.leave(film)
    wait(lambda: film.ended.is_set() and film.job.done)  # the film stops, and the engine with no film left
    n = len(calls)
    time.sleep(0.1)
    assert len(calls) == n < 1000 and film.cancelled and not film.done and pool.active == 0 and films.running == 0


def test_running_films_share_one_batched_call_per_step():
    pool, gate, seen = FairPool(1), threading.Event(), []

    def model(x, t, y=None):
        seen.append(len(x))
        return x + 1
    films = Films(pool, max_bytes=2**20)
    a, b, c = chain(0), chain(1), chain(2)
    fa, fb, fc = (films.watch(key(ch), ch, counting_shots(ch, 20, [], gate, model)) for ch in (a, b, c))
    gate.set()
    wait(lambda: fa.done and fb.done and fc.done)
    assert max(seen) == 3 and sum(seen) == 60 and films.calls < 60  # 3 chains' steps in one call, not three
    for f, ch in ((fa, a), (fb, b), (fc, c)):  # each film got its own rows back
        assert torch.equal(f.shots[-1].x, ch.x + 20) and [s.t for s in f.shots] == list(range(9, -11, -1))
    assert fa.job is fb.job  # one engine job steps them all


def test_films_advance_in_proportion_to_their_viewers():
    """Each viewer an equal share: the lecturer's film with 4 viewers steps 4 times as often as a student's own."""
    films = []
    for seed, viewers in ((0, 4), (1, 1)):
        c = chain(seed)
        f = Film(key(c), c)
        f.watchers, f._shots = viewers, counting_shots(c, 100, [])(f)
        films.append(f)
    step_round(films, 64)
    assert all(len(f.shots) == 0 and f._sent is not None for f in films)  # a new film takes part at once
    for _ in range(39):
        step_round(films, 64)
    assert len(films[0].shots) == 39 and 9 <= len(films[1].shots) <= 11


def test_film_at_gives_the_chain_after_a_shot():
    films, c = Films(FairPool(1), max_bytes=2**20), chain()
    film = films.watch(key(c), c, counting_shots(c, 5, []))
    wait(lambda: film.done)
    at = film.at(film.find(7))
    assert at.t == 7 and torch.equal(at.x, c.x + 3) and at.film is film and at.frame == {"t": 7}
    assert film.find(100) is None


# ---- the DDPM tab's Play, called as Gradio calls it (an async generator) --------------------------

@pytest.fixture(scope="module")
def tab():
    pytest.importorskip("gradio")
    from gen.ui import ddpm_tab
    return ddpm_tab


def test_cancelled_play_stops_its_work(tab):
    _, c = tab.reset("MNIST", 11)

    async def first_chunk_then_leave():
        stream = tab.play(c, "beta", 1)
        view, state = await stream.__anext__()
        await stream.aclose()  # what Gradio does when Pause cancels the event or the page goes away
        return view, state

    view, state = run_async(first_chunk_then_leave())
    assert view["fps"] > 0 and state.t < 1000
    film = state.film
    wait(lambda: film.ended.is_set())
    n = len(film.shots)
    time.sleep(0.2)
    assert film.cancelled and len(film.shots) == n < 1000 and tab.FILMS.running == 0


def test_pause_and_step_go_on_from_the_frame_on_screen(tab):
    _, c = tab.reset("MNIST", 12)

    async def play_all():
        return [x async for x in tab.play(c, "beta", 5)]

    out = run_async(play_all())
    last = out[-1][1]
    assert last.t == 0  # the whole film was computed and sent, far ahead of the animation
    _, paused = tab.pause(last, shown=600)  # the page was showing t = 600 when Pause was pressed
    assert paused.t == 600 and torch.equal(paused.x, last.film.shots[last.film.find(600)].x)
    _, stepped = tab.step_n(last, 1, "beta", shown=600)
    _, direct = tab.step_n(paused, 1, "beta")
    assert stepped.t == direct.t == 599 and torch.equal(stepped.x, direct.x)
    # and the same as stepping by hand from x_T all the way: one chain, however it was driven
    _, by_hand = tab.step_n(c, 401, "beta")
    assert torch.allclose(by_hand.x, stepped.x, atol=1e-5)


def test_pool_workers_run_below_the_servers_priority():
    import os

    mine, seen = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), []

    def slices():
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        yield

    FairPool(1, nice=5).submit(slices()).finished.wait(5)
    assert seen == [min(19, mine + 5)]


def test_autoguided_films_batch_the_weak_model_too_and_step_as_algorithm_2():
    """Two autoguided films, guided while t <= 3: a guided step is one engine round, in which each model's calls
    run as one batch (the weak one's too, once per step), and each film's steps equal diffusion.sample_steps."""
    from gen import diffusion
    sch, calls = diffusion.make_schedule("linear", 6), []

    def net(name, scale):
        def f(x, t):
            calls.append((name, len(x), int(t.max())))
            return scale * x
        return f
    good, weak = net("good", 0.3), net("weak", 0.5)

    def shots(x, seed):
        def film(_):
            ag = diffusion.AutoGuidance(good, weak, 0.7, t_max=3)

            def wrap(defer):
                ag.model, ag.weak = defer(ag.model), defer(ag.weak)
                return ag
            steps, sent = batched_steps(wrap, sch, x, seed, 6), None
            for _ in range(6 + 6):  # each step's Needs (eps_theta's, and eps_weak's where guided), then the Step
                s = steps.send(sent)
                sent = (yield s) if isinstance(s, list) else (yield Shot(s.t - 1, s.prev_sample, 0, {}))
        return film

    x_T = [diffusion.noise((1, 1, 2, 2), k) for k in (0, 1)]
    films = [Film(k, chain(k)) for k in (0, 1)]
    for f, x, k in zip(films, x_T, (0, 1)):
        f._shots = shots(x, k)(f)
    rounds = 0
    while not all(f.ended.is_set() for f in films):
        rounds += step_round(films, batch=64) > 0
    assert all(f.done for f in films) and rounds == 6
    assert [c for c in calls if c[0] == "weak"] == [("weak", 2, t) for t in (3, 2, 1)]  # batched, guided steps only
    assert [c for c in calls if c[0] == "good"] == [("good", 2, t) for t in range(6, 0, -1)]
    for f, x, k in zip(films, x_T, (0, 1)):
        ref = [s.prev_sample for s in diffusion.sample_steps(diffusion.AutoGuidance(good, weak, 0.7, t_max=3), sch, x,
                                                             k, t_start=6)]
        assert len(f.shots) == 6 and all(torch.allclose(a.x, b) for a, b in zip(f.shots, ref))


"""A class of N students on one app at once: the lecturer says "set seed 42, press Play", and they all do.

python bench/classroom.py [--students 40] [--sliders 10] [--seconds 30] [--pages 3] [--lecturer-first]
                          [--url URL --pid PID]

Without --url it starts `python app.py` on a free port (as tests do) and stops it after. Each student is a
session speaking Gradio's HTTP protocol as the page does (see Session): it opens the app, presses Reset + Play
on the DDPM chain (half on the lecturer's seed 42, half on their own) and Play in the playground, both at once;
--sliders more visitors move sliders meanwhile (VAE decode, GAN seed, DDPM forward t). During the load, --pages
real Chromium pages play the DDPM chain and their painted frames/s are counted. Then everyone leaves, and the app
is asked what it is still computing. --lecturer-first: the lecturer plays seed 42 on the projector before the class
does (the warm-up plays it to the end instead of seed 1), as in a lecture; without it nobody has played it yet.

Prints per Play: time to first frame (median, p95, max); the DDPM animation each student would see (frames/s of a
player painting at 25/s from the frames as they arrived) and the playground's updates/s; light events' round trip
(p50, p95) during the load; errors; requests over 30 s; work still running after the class left; RSS warm, peak
and after. A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import queue
import resource
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402 - only to name each endpoint's parameters
from gradio_client.utils import apply_diff  # noqa: E402

from bench.load import Stats, fmt_mb, pct, pid_on_port, rss_mb  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, chromium_page, launch_app  # noqa: E402

LECTURER_SEED, EVERY, PLAY_FPS = 42, 5, 25
LIGHT = {"/vae_decode": lambda i, k: {"z1": (k % 11 - 5) / 2, "z2": (i % 7 - 3) / 2, "ds": "MNIST"},
         "/gan_sample": lambda i, k: {"seed": 1000 * i + k, "ds": "MNIST"},
         "/ddpm_forward": lambda i, k: {"ds": "MNIST", "index": k % 100, "upload": None,
                                              "t": float((37 * k + i) % 1001)}}


class App:
    """What every visitor's client needs to know of the app, fetched once: each endpoint's fn_index, its inputs
    (gr.State ones are filled in by the server) and its parameters by name (as gradio_client names them)."""

    def __init__(self, url: str):
        self.url = url
        config = httpx.get(url + "/config", timeout=120).json()
        api = Client(url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
        kinds = {c["id"]: c.get("type") for c in config["components"]}
        self.endpoints, self.direct = {}, set()
        for d in config["dependencies"]:
            name = "/" + str(d.get("api_name"))
            if name in api:
                states = [kinds.get(i) == "state" for i in d["inputs"]]
                self.endpoints[name] = (d["id"], states, api[name]["parameters"])
                if d.get("queue") is False:  # common.FAST: the page posts these directly, outside the queue
                    self.direct.add(name)

    def data(self, name: str, chosen: dict) -> tuple[int, list]:
        """(fn_index, the inputs' values): the chosen values by parameter name, defaults for the rest, None for
        gr.State inputs."""
        fn, states, params = self.endpoints[name]
        values = iter(chosen.get(p["parameter_name"], p.get("parameter_default")) for p in params)
        return fn, [None if state else next(values) for state in states]


class Session:
    """One visitor, talking to the server as the page does: a session hash; events joined with POST /queue/join;
    every event's messages read from the session's one SSE stream (GET /queue/data), re-opened while events are
    pending. A plain HTTP client: 50 gradio_client instances on this 2-core machine cost the app most of a core and
    added seconds to the round trips they timed (measured against this client: 1.7 s vs 74 ms at the median)."""

    def __init__(self, app: App):
        self.app, self.hash = app, uuid.uuid4().hex[:12]
        self.http = httpx.Client(base_url=app.url, timeout=httpx.Timeout(120, read=None))
        self.queues: dict[str, queue.Queue] = {}
        # messages for an event whose join has not returned yet: the stream can run ahead of the POST's reply
        # (as in gradio_client's pending_messages_per_event, they wait for their event rather than being dropped)
        self.early: dict[str, list[dict]] = {}
        self.cv = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def open(self) -> None:
        """What the page does first: load the app's config, and keep a heartbeat open while it stays (its end is how
        the server learns that the tab closed, and drops the session's state a little later)."""
        self.http.get("/config").raise_for_status()
        self.beat = httpx.Client(base_url=self.app.url, timeout=httpx.Timeout(30, read=None))

        def heartbeat() -> None:
            with contextlib.suppress(Exception):  # closed by close(): the tab is gone
                with self.beat.stream("GET", f"/gradio_api/heartbeat/{self.hash}") as r:
                    for _ in r.iter_lines():
                        pass
        threading.Thread(target=heartbeat, daemon=True).start()

    def join(self, name: str, chosen: dict) -> tuple[str, queue.Queue]:
        fn, data = self.app.data(name, chosen)
        r = self.http.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn, "session_hash": self.hash,
                                                            "event_data": None, "trigger_id": None})
        r.raise_for_status()
        eid, q = r.json()["event_id"], queue.Queue()
        with self.cv:
            for m in self.early.pop(eid, []):
                q.put(m)
            if not (q.qsize() and q.queue[-1]["msg"] == "process_completed"):
                self.queues[eid] = q
            self.cv.notify()
        return eid, q

    def call(self, name: str, chosen: dict, timeout: float = 120) -> list:
        """An event's outputs, once it completed (RuntimeError with the app's message if it failed)."""
        if name in self.app.direct:  # outside the queue: one POST, its outputs in the reply
            fn, data = self.app.data(name, chosen)
            r = self.http.post("/gradio_api/run/predict", json={"data": data, "fn_index": fn, "session_hash": self.hash,
                                                                 "event_data": None, "trigger_id": None})
            return _outputs({"output": r.json(), "success": r.is_success})
        _, q = self.join(name, chosen)
        while True:
            m = q.get(timeout=timeout)
            if m["msg"] == "process_completed":
                return _outputs(m)

    def cancel(self, name: str, eid: str) -> None:
        with contextlib.suppress(httpx.HTTPError):
            fn = self.app.endpoints[name][0]
            self.http.post("/gradio_api/cancel", json={"session_hash": self.hash, "fn_index": fn, "event_id": eid})

    def close(self) -> None:
        with self.cv:
            self.closed = True
            self.cv.notify()
        if getattr(self, "beat", None) is not None:
            self.beat.close()

    def _read(self) -> None:
        while True:
            with self.cv:
                while not self.queues and not self.closed:
                    self.cv.wait()
                if self.closed:
                    return
            try:
                with self.http.stream("GET", f"/gradio_api/queue/data?session_hash={self.hash}") as r:
                    for line in r.iter_lines():
                        if not line.startswith("data:"):
                            continue
                        m = json.loads(line[5:])
                        if m.get("msg") == "close_stream":
                            break
                        with self.cv:
                            eid = m.get("event_id")
                            q = self.queues.get(eid)
                            if q is None and eid is not None:
                                self.early.setdefault(eid, []).append(m)
                            elif m.get("msg") == "process_completed":
                                self.queues.pop(eid, None)
                        if q is not None:
                            q.put(m)
            except httpx.HTTPError:
                time.sleep(0.1)


def _outputs(m: dict) -> list:
    out = m.get("output") or {}
    if not m.get("success", True) or out.get("error"):
        raise RuntimeError(str(out.get("error") or "failed"))
    return out.get("data") or []


def connect(app: App, stats: Stats) -> Session | None:
    for _ in range(5):  # 40 clients at once: the config can take longer than a client's patience
        t = time.perf_counter()
        try:
            s = Session(app)
            s.open()
            return s
        except Exception as e:  # noqa: BLE001 - counted, then tried again
            stats.add("(open the app)", time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:150]}")
            time.sleep(1)
    return None


def join_class(app: App, stats: Stats, go: threading.Barrier) -> Session | None:
    """Open the app, then wait until everyone has (the lecturer's "now")."""
    s = connect(app, stats)
    try:
        go.wait(timeout=300)
    except threading.BrokenBarrierError:
        return None
    return s


def animation_fps(arrivals: list[float], fps: float = PLAY_FPS) -> float:
    """Frames/s a player painting at most `fps` a second shows, given when each frame arrived (from the first)."""
    shown = arrivals[0]
    for a in arrivals[1:]:
        shown = max(a, shown + 1 / fps)
    return (len(arrivals) - 1) / max(shown - arrivals[0], 1e-9) if len(arrivals) > 1 else 0.0


def stream(s: Session, name: str, chosen: dict, seconds: float, stats: Stats, out: dict, frames_of,
           seed: int | None = None) -> None:
    """Join a streaming endpoint; record the time to its first output and when each frame arrived (the messages'
    diffs applied, as the page does); leave after `seconds` (cancel, as Pause or a closed page does)."""
    t0 = time.perf_counter()
    arrivals, first, error, last, eid = [], None, None, None, None
    try:
        eid, q = s.join(name, chosen)
        while (left := seconds - (time.perf_counter() - t0)) > 0:
            try:
                m = q.get(timeout=left)
            except queue.Empty:
                break
            if m["msg"] == "process_generating":
                data = m["output"]["data"]
                last = data if last is None else [apply_diff(o, d) for o, d in zip(last, data)]
                now = time.perf_counter() - t0
                first = now if first is None else first
                arrivals += [now] * frames_of(last)
            elif m["msg"] == "process_completed":
                _outputs(m)  # raises the app's error, if any
                eid = None
                break
    except Exception as e:  # noqa: BLE001 - counted
        error = f"{type(e).__name__}: {' '.join(str(e).split())[:150]}"
    if eid is not None:
        s.cancel(name, eid)
    stats.add(name, first if first is not None else time.perf_counter() - t0, error)
    out.setdefault(name, []).append({"first": first, "arrivals": arrivals, "seed": seed})


def toy_frames(o) -> int:
    """Visual updates in one playground message: the frames of its view (painted one by one in the page)."""
    for v in o if isinstance(o, (list, tuple)) else [o]:
        if isinstance(v, str) and v.startswith('{"frames":'):
            try:
                return len(json.loads(v)["frames"])
            except (ValueError, KeyError):
                return 1
    return 1


def play_args(ds: str) -> dict:
    """A DDPM Play on dataset ds as the page sends it: its chain's shipped autoguidance w (Fashion-MNIST: guided
    at the last steps, a weak U-Net pass more per step there)."""
    from gen import sample
    name = "ddpm-fashion" if ds == "Fashion-MNIST" else "ddpm-mnist"
    return {"v": "beta", "every": EVERY, "ag": sample.shipped_guidance(name, "ddpm")[0]}


def student(i: int, app: App, a, stats: Stats, out: dict, go: threading.Barrier) -> None:
    s = join_class(app, stats, go)
    if s is None:
        return
    seed = LECTURER_SEED if i % 2 == 0 else 1000 + i
    t = time.perf_counter()
    try:
        s.call("/ddpm_reset", {"ds": a.ds, "seed": seed})
        stats.add("/ddpm_reset", time.perf_counter() - t, None)
    except Exception as e:  # noqa: BLE001
        stats.add("/ddpm_reset", time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:150]}")
        return
    ddpm = threading.Thread(target=stream, args=(s, "/ddpm_play", play_args(a.ds), a.seconds, stats,
                                                 out, lambda o: len(o[0]["frames"]), seed))
    toy = threading.Thread(target=stream, args=(s, a.toy, {}, a.seconds, stats, out, toy_frames))
    ddpm.start(), toy.start()
    ddpm.join(), toy.join()
    s.close()


def slider(i: int, app: App, stop: threading.Event, stats: Stats, go: threading.Barrier) -> None:
    s = join_class(app, stats, go)
    if s is None:
        return
    k = 0
    while not stop.is_set():
        for name, make in LIGHT.items():
            if name not in app.endpoints:
                continue
            t = time.perf_counter()
            try:
                s.call(name, make(i, k))
                stats.add(name, time.perf_counter() - t, None)
            except Exception as e:  # noqa: BLE001
                stats.add(name, time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:150]}")
            k += 1
            time.sleep(0.2)  # a hand on a slider: a few events a second
    s.close()


def browser_pages(url: str, n: int, seconds: float, result: list, ready: threading.Event, now: Future) -> None:
    """n real Chromium pages open the DDPM tab and set their seed (lecturer's seed and own seeds) before the class
    starts, as its students' pages do (`ready` then), and press Play with the class (when `now` has its start
    time); painted frames/s, and how long after the class's Play each page's came."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = []
        for k in range(n):
            p = b.new_page(viewport={"width": 1280, "height": 720})
            p.goto(url)
            p.get_by_role("tab", name="DDPM diffusion").click()
            p.wait_for_selector("#ddpm-xt img", timeout=120_000)
            # the lecturer's seed (the film half the class watches), every other page on its own
            p.get_by_label("seed of x_T").fill(str(5000 + k if k % 2 else LECTURER_SEED))
            p.get_by_label("seed of x_T").press("Enter")
            p.wait_for_timeout(1500)
            pages.append(p)
        ready.set()
        start = now.result(timeout=600)
        t0, cpu0 = time.perf_counter(), named_cpu_seconds("chrom")  # from the class's start
        record = """(ms) => { window.__fps = null; const el = () => document.querySelector('#ddpm-t');
              const start = +el().textContent; let n = 0, last = el().textContent, first = null;
              const t0 = performance.now();
              const tick = () => {
                const v = el().textContent, now = performance.now();
                if (v !== last) { n++; last = v; if (first === null) first = now; }
                if (+v === 0 || now - t0 > ms) {
                  window.__fps = [first === null ? null : (first - t0) / 1000,
                                  first === null ? 0 : n / Math.max((now - first) / 1000, 1e-3), start, +v];
                } else requestAnimationFrame(tick);
              };
              requestAnimationFrame(tick); }"""
        played = []
        for p in pages:  # all pages play and are watched at once (one after another, the last would be done)
            p.locator("#ddpm-play").click()
            played.append(time.perf_counter() - start)
            p.evaluate(record, seconds * 1000)
        for k, p in enumerate(pages):
            p.wait_for_function("window.__fps !== null", timeout=(seconds + 30) * 1000)
            fps = p.evaluate("window.__fps")
            result.append({"page": k, "seed": "own" if k % 2 else LECTURER_SEED, "first_s": fps[0], "fps": fps[1],
                           "from_t": fps[2], "to_t": fps[3], "played_at": played[k]})
        result.append({"chromium_cores": (named_cpu_seconds("chrom") - cpu0) / (time.perf_counter() - t0)})
        b.close()


def visitors(k: int, a, app: App, go, stop, results) -> None:
    """One process's share of the class (students k, k + procs, ...; process `procs` has the sliders): opens the app,
    waits for the lecturer's "now" (the shared barrier), plays, then reports its figures."""
    if k < a.procs:  # the students' clients (parsing 80 streams) below the app; the sliders' client is light, and
        os.nice(10)  # starved of the CPU it would time this machine's scheduler instead of the app's answers
    stats, out = Stats(), {}
    students = range(k, a.students, a.procs) if k < a.procs else range(0)
    sliders = range(a.sliders) if k == a.procs else range(0)  # their own process: no students' streams to parse
    # this process's visitors have opened the app, then wait for every other process's (and the pages): the lecturer's
    # "now" releases them all at once
    mine = threading.Barrier(len(students) + len(sliders) + 1, action=lambda: go.wait(timeout=600))
    local_stop = threading.Event()
    threads = [threading.Thread(target=student, args=(i, app, a, stats, out, mine)) for i in students]
    sliders = [threading.Thread(target=slider, args=(i, app, local_stop, stats, mine)) for i in sliders]
    for t in threads + sliders:
        t.start()
    mine.wait(timeout=600)
    for t in threads:
        t.join()
    stop.wait(timeout=600 if sliders else 0)  # sliders go on until every student is done
    local_stop.set()
    for t in sliders:
        t.join()
    results.put(({"latency": dict(stats.latency), "errors": dict(stats.errors), "messages": dict(stats.messages)},
                 out))


def _proc_stat(path: Path) -> tuple[str, list[str]]:
    """A process's /proc/PID/stat: its name and the fields after it (state, ppid, ...; utime and stime at 11, 12)."""
    head, tail = path.read_text().rsplit(")", 1)
    return head.split("(", 1)[1], tail.split()


def _cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, name, stat fields) of every process still there."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = _proc_stat(stat)
        except (OSError, IndexError, ValueError):
            continue
        yield int(stat.parent.name), name, fields


def cpu_seconds(pid: int | None, children: bool = False) -> float:
    """CPU time (user + system) a process has used so far: the app's, or this benchmark's own (pid None); with
    `children`, its live child processes' too (the app's film engine)."""
    if pid is None:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    total = 0.0
    for p in [pid] + (_children(pid) if children else []):
        try:
            total += _cpu(_proc_stat(Path(f"/proc/{p}/stat"))[1])
        except (OSError, IndexError, ValueError):
            return float("nan") if p == pid else total
    return total


def named_cpu_seconds(name: str) -> float:
    """CPU time used so far by every process whose name contains `name` (the Chromium pages': on this machine they
    take the app's CPU, where a real class's browsers run on the students' own laptops)."""
    return sum(_cpu(fields) for _, comm, fields in _processes() if name in comm)


def _children(pid: int) -> list[int]:
    return [p for p, _, fields in _processes() if int(fields[1]) == pid]


def sample_peak(pid: int | None, stop: threading.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid)[0] or 0.0)
        time.sleep(1)


def status(s: Session) -> dict:
    return s.call("/lab_status", {})[0]


def summary(name: str, xs: list[float], unit: str = "s") -> str:
    if not xs:
        return f"{name}: none"
    return (f"{name}: median {statistics.median(xs):.2f} {unit}, p95 {pct(xs, 95):.2f}, max {max(xs):.2f} "
            f"(n={len(xs)})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=40)
    p.add_argument("--ds", default="MNIST", choices=["MNIST", "Fashion-MNIST"], help="the students' DDPM chain's "
                   "dataset (the real --pages play the page's default)")
    p.add_argument("--sliders", type=int, default=10)
    p.add_argument("--seconds", type=float, default=30, help="how long each student stays on each Play")
    p.add_argument("--pages", type=int, default=3, help="real Chromium pages playing during the load (0: none)")
    p.add_argument("--settle", type=float, default=150, help="seconds after the class left before RSS is read "
                   "(the app drops closed sessions after common.CLOSED_SESSION_TTL)")
    p.add_argument("--toy", default="/toy_ddpm_play", help="the playground's Play endpoint")
    p.add_argument("--procs", type=int, default=4, help="processes the simulated students run in (the sliders have "
                   "one more of their own)")
    p.add_argument("--lecturer-first", action="store_true", help="the lecturer plays seed 42 to the end before the "
                   "class presses Play (default: a seed nobody plays)")
    p.add_argument("--url")
    p.add_argument("--pid", type=int)
    a = p.parse_args()
    proc, url = (None, a.url) if a.url else launch_app()
    url = url.rstrip("/")  # launch_app gives "http://host:port/"; paths are appended with their own "/"
    # 40 students bring 40 machines; here their clients and browsers share the app's 2 cores. Run them below the
    # app's priority (its pool's workers are at nice 5), so the figures are the app's, not the load generator's.
    os.nice(10)
    pid = a.pid or (proc.pid if proc else pid_on_port(url))
    try:
        run(a, url, pid)
    finally:
        if proc:
            proc.terminate()


def run(a, url: str, pid: int | None) -> None:
    stats, out, pages = Stats(), {}, []
    # warm up as one visitor: models loaded, one chain and one playground Play, as before a lecture
    app = App(url)
    warm = Session(app)
    warm.call("/ddpm_reset", {"ds": a.ds, "seed": LECTURER_SEED if a.lecturer_first else 1})
    stream(warm, "/ddpm_play", play_args(a.ds), 60, Stats(), {}, lambda o: 1)
    stream(warm, a.toy, {}, 5, Stats(), {}, lambda o: 1)
    if a.pages:  # the lecturer's browser opened the page before the class: a real page's first visit warms too
        with chromium_page(url) as p:
            p.get_by_role("tab", name="DDPM diffusion").click()
            p.wait_for_selector("#ddpm-xt img", timeout=120_000)
            p.locator("#ddpm-play").click()
            p.wait_for_timeout(5000)
    time.sleep(20)  # the app's housekeeping trims the heap every 15 s
    rss_warm, _ = rss_mb(pid)
    engine_warm = sum(rss_mb(c)[0] or 0.0 for c in _children(pid)) if pid else 0.0
    print(f"{a.students} students (half on seed {LECTURER_SEED}"
          f"{', which the lecturer played first' if a.lecturer_first else ''}), {a.sliders} on sliders, "
          f"{a.pages} browser pages, {a.seconds:g} s on each Play; RSS warm {fmt_mb(rss_warm)}")
    # The students run in --procs processes (threads in each), the sliders in one more: 50 clients in one process
    # would share one GIL, and the light events' round trips would measure the benchmark's own queue for it (parsing
    # the students' frames), not the app's.
    ctx = mp.get_context("spawn")
    go, stop, results = ctx.Barrier(a.procs + 2), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=visitors, args=(k, a, app, go, stop, results)) for k in range(a.procs + 1)]
    for pr in procs:
        pr.start()
    page_thread, ready, now = None, threading.Event(), Future()
    if a.pages:  # the pages are students too: open before the lecturer's "now", Play with the class
        page_thread = threading.Thread(target=browser_pages, args=(url, a.pages, min(a.seconds, 20), pages, ready,
                                                                   now))
        page_thread.start()
        ready.wait(timeout=600)
    go.wait(timeout=600)
    t0, app_cpu, server_cpu = time.perf_counter(), cpu_seconds(pid, children=True), cpu_seconds(pid)
    now.set_result(t0)
    own_cpu = sum(cpu_seconds(pr.pid) for pr in procs)
    peak, peak_stop = [0.0], threading.Event()
    sampler = threading.Thread(target=sample_peak, args=(pid, peak_stop, peak))
    sampler.start()
    if page_thread is not None:
        page_thread.join()
    reports = []
    for _ in range(a.procs):  # each students' process reports when its students are done
        reports.append(results.get(timeout=600))
    own_cpu = sum(cpu_seconds(pr.pid) for pr in procs) - own_cpu
    stop.set()  # now the sliders stop, and report
    reports.append(results.get(timeout=600))
    for pr in procs:
        pr.join(timeout=60)
    peak_stop.set()
    sampler.join()
    for r_stats, r_out in reports:
        for name, xs in r_stats["latency"].items():
            stats.latency[name] += xs
        stats.errors.update(r_stats["errors"]), stats.messages.update(r_stats["messages"])
        for name, runs in r_out.items():
            out.setdefault(name, []).extend(runs)
    wall = time.perf_counter() - t0
    app_cpu = cpu_seconds(pid, children=True) - app_cpu
    server_cpu = cpu_seconds(pid) - server_cpu
    left = status(warm)
    time.sleep(5)
    left5 = status(warm)
    time.sleep(max(0.0, a.settle - 5))
    rss_after, _ = rss_mb(pid)
    engine_after = sum(rss_mb(c)[0] or 0.0 for c in _children(pid)) if pid else 0.0

    print(f"class done in {wall:.0f} s; CPU used meanwhile: the app {app_cpu / wall:.2f} cores (its server process "
          f"{server_cpu / wall:.2f}, its film engine's and playground's processes the rest), the simulated class "
          f"(gradio_client, {a.procs} processes) {own_cpu / wall:.2f} "
          f"cores, of {os.cpu_count()}")
    for name in ("/ddpm_play", a.toy):
        runs = out.get(name, [])
        firsts = [r["first"] for r in runs if r["first"] is not None]
        print(summary(f"{name} first frame", firsts) + f"; {len(runs) - len(firsts)} saw no frame")
        if name == "/ddpm_play":
            fps = [animation_fps(r["arrivals"]) for r in runs if len(r["arrivals"]) > 1]
            print(summary("  DDPM animation a 25 fps player shows", fps, "frames/s"))
            for who, mine in (("the lecturer's seed", True), ("their own seed", False)):
                xs = [animation_fps(r["arrivals"]) for r in runs
                      if len(r["arrivals"]) > 1 and (r["seed"] == LECTURER_SEED) == mine]
                print(summary(f"  ... of which students on {who}", xs, "frames/s"))
        else:
            ups = [(len(r["arrivals"]) - 1) / max(r["arrivals"][-1] - r["arrivals"][0], 1e-9)
                   for r in runs if len(r["arrivals"]) > 1]
            print(summary("  playground visual updates (frames) per student", ups, "/s"))
    for name in LIGHT:
        xs = stats.latency.get(name, [])
        if xs:
            print(f"{name} round trip during the load: p50 {pct(xs, 50) * 1000:.0f} ms, p95 {pct(xs, 95) * 1000:.0f} "
                  f"ms, max {max(xs) * 1000:.0f} ms (n={len(xs)})")
    for pg in pages:
        if "chromium_cores" in pg:
            print(f"the {a.pages} Chromium pages used {pg['chromium_cores']:.2f} cores of this machine meanwhile (a "
                  "class's browsers run on its laptops: here they take the app's CPU)")
            continue
        print(f"browser page {pg['page']} (seed {pg['seed']}): first frame after {pg['first_s']:.2f} s, "
              f"{pg['fps']:.1f} frames/s painted, t {pg['from_t']} -> {pg['to_t']}; pressed Play "
              f"{pg['played_at']:.0f} s after the class did (whose Plays lasted {a.seconds:g} s)")
    over = sum(1 for xs in stats.latency.values() for x in xs if x > 30)
    print(f"errors: {sum(stats.errors.values())} {dict(stats.errors) or ''}; requests over 30 s: {over}")
    for m, n in list(stats.messages.items())[:5]:
        print(f"  {n} x {m}")
    print(f"still computing after the class left: at once {left}, 5 s later {left5}")
    print(f"RSS: warm {fmt_mb(rss_warm)}, peak {fmt_mb(peak[0])}, {a.settle:g} s after the class left "
          f"{fmt_mb(rss_after)}; the app's child processes (film engine, playground): warm {fmt_mb(engine_warm)}, "
          f"after "
          f"{fmt_mb(engine_after)}")


if __name__ == "__main__":
    main()

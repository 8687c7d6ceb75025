"""A class of N students on one app at once: the lecturer says "set seed 42, press Play", and they all do.

python bench/classroom.py [--students 40] [--sliders 10] [--seconds 30] [--pages 3] [--url URL --pid PID]

Without --url it starts `python app.py` on a free port (as tests do) and stops it after. Each student is a
gradio_client session: it opens the app, presses Reset + Play on the DDPM chain (half on the lecturer's seed 42,
half on their own) and Play in the playground, both at once; --sliders more visitors move sliders meanwhile (VAE
decode, GAN seed, DDPM forward t). During the load, --pages real Chromium pages play the DDPM chain and their
painted frames/s are counted. Then everyone leaves, and the app is asked what it is still computing.

Prints per Play: time to first frame (median, p95, max); the DDPM animation each student would see (frames/s of a
player painting at 25/s from the frames as they arrived) and the playground's updates/s; light events' round trip
(p50, p95) during the load; errors; requests over 30 s; work still running after the class left; RSS warm, peak
and after. A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gradio_client import Client  # noqa: E402

from bench.load import Stats, args_for, fmt_mb, pct, pid_on_port, rss_mb  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, launch_app  # noqa: E402

LECTURER_SEED, EVERY, PLAY_FPS = 42, 5, 25
LIGHT = {"/vae_decode": lambda i, k: {"z1": (k % 11 - 5) / 2, "z2": (i % 7 - 3) / 2, "ds": "MNIST"},
         "/gan_sample": lambda i, k: {"seed": 1000 * i + k, "ds": "MNIST"},
         "/ddpm_forward": lambda i, k: {"ds": "MNIST", "index": k % 100, "upload": None,
                                              "t": float((37 * k + i) % 1001)}}


def connect(url: str, stats: Stats) -> tuple[Client, dict] | None:
    for _ in range(5):  # 40 clients at once: the config can take longer than the client's own timeout
        t = time.perf_counter()
        try:
            c = Client(url, verbose=False)
            return c, c.view_api(return_format="dict", print_info=False)
        except Exception as e:  # noqa: BLE001 - counted, then tried again
            stats.add("(open the app)", time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:150]}")
            time.sleep(1)
    return None


def join_class(url: str, stats: Stats, go: threading.Barrier) -> tuple[Client, dict] | None:
    """Open the app, then wait until everyone has (the lecturer's "now")."""
    conn = connect(url, stats)
    try:
        go.wait(timeout=300)
    except threading.BrokenBarrierError:
        return None
    return conn


def animation_fps(arrivals: list[float], fps: float = PLAY_FPS) -> float:
    """Frames/s a player painting at most `fps` a second shows, given when each frame arrived (from the first)."""
    shown = arrivals[0]
    for a in arrivals[1:]:
        shown = max(a, shown + 1 / fps)
    return (len(arrivals) - 1) / max(shown - arrivals[0], 1e-9) if len(arrivals) > 1 else 0.0


def stream(client: Client, api: dict, name: str, chosen: dict, seconds: float, stats: Stats, out: dict,
           frames_of) -> None:
    """Submit a streaming endpoint; record the time to its first output and when each frame arrived; leave after
    `seconds` (cancel, as a closed page or Pause does)."""
    t0 = time.perf_counter()
    arrivals, first, error = [], None, None
    try:
        job = client.submit(**args_for(api, name, chosen), api_name=name)
        seen = 0
        while time.perf_counter() - t0 < seconds:
            outs = job.outputs()
            for o in outs[seen:]:
                now = time.perf_counter() - t0
                first = now if first is None else first
                arrivals += [now] * frames_of(o)
            seen = len(outs)
            if job.done() and len(job.outputs()) == seen:
                job.result()  # raises the app's error, if any
                break
            time.sleep(0.05)  # 80 streams polled more often would cost this machine's CPU, not the app's
        job.cancel()
    except Exception as e:  # noqa: BLE001 - counted
        error = f"{type(e).__name__}: {' '.join(str(e).split())[:150]}"
    stats.add(name, first if first is not None else time.perf_counter() - t0, error)
    out.setdefault(name, []).append({"first": first, "arrivals": arrivals})


def toy_frames(o) -> int:
    """Visual updates in one playground message: the frames of its view (painted one by one in the page)."""
    for v in o if isinstance(o, (list, tuple)) else [o]:
        if isinstance(v, str) and v.startswith('{"frames":'):
            try:
                return len(json.loads(v)["frames"])
            except (ValueError, KeyError):
                return 1
    return 1


def student(i: int, url: str, a, stats: Stats, out: dict, go: threading.Barrier) -> None:
    conn = join_class(url, stats, go)
    if conn is None:
        return
    c, api = conn
    seed = LECTURER_SEED if i % 2 == 0 else 1000 + i
    t = time.perf_counter()
    try:
        c.predict(**args_for(api, "/ddpm_reset", {"ds": "MNIST", "seed": seed}), api_name="/ddpm_reset")
        stats.add("/ddpm_reset", time.perf_counter() - t, None)
    except Exception as e:  # noqa: BLE001
        stats.add("/ddpm_reset", time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:150]}")
        return
    ddpm = threading.Thread(target=stream, args=(c, api, "/ddpm_play", {"v": "beta", "every": EVERY}, a.seconds,
                                                 stats, out, lambda o: len(o["frames"])))
    toy = threading.Thread(target=stream, args=(c, api, a.toy, {}, a.seconds, stats, out, toy_frames))
    ddpm.start(), toy.start()
    ddpm.join(), toy.join()


def slider(i: int, url: str, stop: threading.Event, stats: Stats, go: threading.Barrier) -> None:
    conn = join_class(url, stats, go)
    if conn is None:
        return
    c, api, k = *conn, 0
    while not stop.is_set():
        for name, make in LIGHT.items():
            if name not in api["named_endpoints"]:
                continue
            t = time.perf_counter()
            try:
                c.predict(**args_for(api, name, make(i, k)), api_name=name)
                stats.add(name, time.perf_counter() - t, None)
            except Exception as e:  # noqa: BLE001
                stats.add(name, time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:150]}")
            k += 1
            time.sleep(0.2)  # a hand on a slider: a few events a second


def browser_pages(url: str, n: int, seconds: float, result: list) -> None:
    """n real Chromium pages press Play on the DDPM chain (lecturer's seed and own seeds); painted frames/s."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = []
        for k in range(n):
            p = b.new_page(viewport={"width": 1280, "height": 720})
            p.goto(url)
            p.get_by_role("tab", name="DDPM diffusion").click()
            p.wait_for_selector("#ddpm-xt img", timeout=120_000)
            if k % 2:  # every other page on its own seed
                p.get_by_label("seed of x_T").fill(str(5000 + k))
                p.get_by_label("seed of x_T").press("Enter")
                p.wait_for_timeout(1500)
            pages.append(p)
        for p in pages:
            p.locator("#ddpm-play").click()
        for k, p in enumerate(pages):
            fps = p.evaluate("""async (ms) => {
              const el = () => document.querySelector('#ddpm-t'); const start = +el().textContent;
              let n = 0, last = el().textContent; const t0 = performance.now(); let first = null;
              while (performance.now() - t0 < ms) {
                const v = el().textContent;
                if (v !== last) { n++; last = v; if (first === null) first = performance.now(); }
                if (+v === 0) break;
                await new Promise(r => requestAnimationFrame(r));
              }
              return [first === null ? null : (first - t0) / 1000, first === null ? 0 :
                      n / Math.max((performance.now() - first) / 1000, 1e-3), start, +el().textContent];
            }""", seconds * 1000)
            result.append({"page": k, "seed": "own" if k % 2 else LECTURER_SEED, "first_s": fps[0], "fps": fps[1],
                           "from_t": fps[2], "to_t": fps[3]})
        b.close()


def visitors(k: int, a, url: str, go, stop, results) -> None:
    """One process's share of the class (students k, k + procs, ...; process `procs` has the sliders): opens the app,
    waits for the lecturer's "now" (the shared barrier), plays, then reports its figures."""
    os.nice(10)
    stats, out = Stats(), {}
    students = range(k, a.students, a.procs) if k < a.procs else range(0)
    sliders = range(a.sliders) if k == a.procs else range(0)  # their own process: no students' streams to parse
    mine = threading.Barrier(len(students) + len(sliders) + 1)
    local_stop = threading.Event()
    threads = [threading.Thread(target=student, args=(i, url, a, stats, out, mine)) for i in students]
    sliders = [threading.Thread(target=slider, args=(i, url, local_stop, stats, mine)) for i in sliders]
    for t in threads + sliders:
        t.start()
    mine.wait(timeout=600)  # this process's visitors have opened the app
    go.wait(timeout=600)  # ... and so have the others': now
    for t in threads:
        t.join()
    stop.wait(timeout=600 if sliders else 0)  # sliders go on until every student is done
    local_stop.set()
    for t in sliders:
        t.join()
    results.put(({"latency": dict(stats.latency), "errors": dict(stats.errors), "messages": dict(stats.messages)},
                 out))


def cpu_seconds(pid: int | None, children: bool = False) -> float:
    """CPU time (user + system) a process has used so far: the app's, or this benchmark's own (pid None); with
    `children`, its live child processes' too (the app's film engine)."""
    if pid is None:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    total = 0.0
    for p in [pid] + (_children(pid) if children else []):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan") if p == pid else total
    return total


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def sample_peak(pid: int | None, stop: threading.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid)[0] or 0.0)
        time.sleep(1)


def status(client: Client) -> dict:
    return json.loads(json.dumps(client.predict(api_name="/lab_status")))


def summary(name: str, xs: list[float], unit: str = "s") -> str:
    if not xs:
        return f"{name}: none"
    return (f"{name}: median {statistics.median(xs):.2f} {unit}, p95 {pct(xs, 95):.2f}, max {max(xs):.2f} "
            f"(n={len(xs)})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=40)
    p.add_argument("--sliders", type=int, default=10)
    p.add_argument("--seconds", type=float, default=30, help="how long each student stays on each Play")
    p.add_argument("--pages", type=int, default=3, help="real Chromium pages playing during the load (0: none)")
    p.add_argument("--settle", type=float, default=150, help="seconds after the class left before RSS is read "
                   "(the app drops closed sessions after common.CLOSED_SESSION_TTL)")
    p.add_argument("--toy", default="/toy_ddpm_play", help="the playground's Play endpoint")
    p.add_argument("--procs", type=int, default=4, help="processes the simulated students run in (the sliders have "
                   "one more of their own)")
    p.add_argument("--url")
    p.add_argument("--pid", type=int)
    a = p.parse_args()
    proc, url = (None, a.url) if a.url else launch_app()
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
    warm = Client(url, verbose=False)
    warm_api = warm.view_api(return_format="dict", print_info=False)
    warm.predict(**args_for(warm_api, "/ddpm_reset", {"ds": "MNIST", "seed": 1}), api_name="/ddpm_reset")
    stream(warm, warm_api, "/ddpm_play", {"v": "beta", "every": EVERY}, 60, Stats(), {}, lambda o: 1)
    stream(warm, warm_api, a.toy, {}, 5, Stats(), {}, lambda o: 1)
    time.sleep(20)  # the app's housekeeping trims the heap every 15 s
    rss_warm, _ = rss_mb(pid)
    engine_warm = sum(rss_mb(c)[0] or 0.0 for c in _children(pid)) if pid else 0.0
    print(f"{a.students} students (half on seed {LECTURER_SEED}), {a.sliders} on sliders, {a.pages} browser pages, "
          f"{a.seconds:g} s on each Play; RSS warm {fmt_mb(rss_warm)}")
    # The students run in --procs processes (threads in each), the sliders in one more: 50 clients in one process
    # would share one GIL, and the light events' round trips would measure the benchmark's own queue for it (parsing
    # the students' frames), not the app's.
    ctx = mp.get_context("spawn")
    go, stop, results = ctx.Barrier(a.procs + 2), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=visitors, args=(k, a, url, go, stop, results)) for k in range(a.procs + 1)]
    for pr in procs:
        pr.start()
    go.wait(timeout=600)
    t0, app_cpu = time.perf_counter(), cpu_seconds(pid, children=True)
    own_cpu = sum(cpu_seconds(pr.pid) for pr in procs)
    peak, peak_stop = [0.0], threading.Event()
    sampler = threading.Thread(target=sample_peak, args=(pid, peak_stop, peak))
    sampler.start()
    if a.pages:
        time.sleep(2)  # the class has pressed Play: now the pages open and play
        browser_pages(url, a.pages, min(a.seconds, 20), pages)
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
    left = status(warm)
    time.sleep(5)
    left5 = status(warm)
    time.sleep(max(0.0, a.settle - 5))
    rss_after, _ = rss_mb(pid)
    engine_after = sum(rss_mb(c)[0] or 0.0 for c in _children(pid)) if pid else 0.0

    print(f"class done in {wall:.0f} s; CPU used meanwhile: the app (with its film engine's process) "
          f"{app_cpu / wall:.2f} cores, the simulated class (gradio_client, {a.procs} processes) {own_cpu / wall:.2f} "
          f"cores, of {os.cpu_count()}")
    for name in ("/ddpm_play", a.toy):
        runs = out.get(name, [])
        firsts = [r["first"] for r in runs if r["first"] is not None]
        print(summary(f"{name} first frame", firsts) + f"; {len(runs) - len(firsts)} saw no frame")
        if name == "/ddpm_play":
            fps = [animation_fps(r["arrivals"]) for r in runs if len(r["arrivals"]) > 1]
            print(summary("  DDPM animation a 25 fps player shows", fps, "frames/s"))
            own = [animation_fps(r["arrivals"]) for i, r in enumerate(runs) if len(r["arrivals"]) > 1 and i % 2]
            print(summary("  ... of which students on their own seed (order of finishing, approx.)", own,
                          "frames/s"))
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
        print(f"browser page {pg['page']} (seed {pg['seed']}): first frame after {pg['first_s']} s, "
              f"{pg['fps']:.1f} frames/s painted, t {pg['from_t']} -> {pg['to_t']}")
    over = sum(1 for xs in stats.latency.values() for x in xs if x > 30)
    print(f"errors: {sum(stats.errors.values())} {dict(stats.errors) or ''}; requests over 30 s: {over}")
    for m, n in list(stats.messages.items())[:5]:
        print(f"  {n} x {m}")
    print(f"still computing after the class left: at once {left}, 5 s later {left5}")
    print(f"RSS: warm {fmt_mb(rss_warm)}, peak {fmt_mb(peak[0])}, {a.settle:g} s after the class left "
          f"{fmt_mb(rss_after)}; the app's child processes (film engine): warm {fmt_mb(engine_warm)}, after "
          f"{fmt_mb(engine_after)}")


if __name__ == "__main__":
    main()

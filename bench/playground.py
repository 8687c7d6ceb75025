"""Training-playground figures on this CPU: python bench/playground.py [--url URL] [--seconds 8] [--no-browser]

1. updates per second of each family's trainer (one thread per session, as in the app), also two sessions at once,
   and the server CPU of one streamed frame (every output of a Play frame: the view as JSON numbers, the text, the
   loss curves);
2. frames per second a real browser shows while Play runs (headless Chromium, 1280x720), per family, against
   a launched `python app.py` (or --url);
3. the time until the 8-Gaussians GAN and the swiss-roll DDPM look right, with the criteria printed, and the
   high-learning-rate mode collapse;
4. a class: --sessions N (default 40) gradio_client sessions press Play on the GAN at once against a launched app:
   time to each session's first frame (median / p95 / max), view updates per second per session (frames delivered:
   a Play message carries a film of several frames, which the page paints one by one; each frame counts, not each
   message), messages per second, and the app process's CPU per delivered frame. `--class-only` runs only this;
   `--app-dir DIR` launches app.py from another checkout (e.g. `git archive HEAD | tar -x -C DIR` for a
   before/after comparison).

These are benchmark figures, not tests. The machine's load average is printed first: on a shared CPU every
figure moves with it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from gen import toy
from gen.ui import playground_tab as pg

VIEW = 420
CHUNK = 20  # updates (GAN: iterations) per timed call


def rate(fn, seconds: float) -> float:
    """Calls of fn per second over `seconds` (after one warm-up call)."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def cpu_ms(fn, seconds: float) -> float:
    """This thread's CPU ms per call of fn (one torch thread, as in the app's pool)."""
    from gen.work import one_thread

    with one_thread():
        fn()
        n, t0, c0 = 0, time.perf_counter(), time.thread_time()
        while time.perf_counter() - t0 < seconds:
            fn()
            n += 1
        return 1000 * (time.thread_time() - c0) / max(n, 1)


def trainers() -> dict[str, toy.Trainer]:
    return {"GAN (8 Gaussians)": toy.GANTrainer(toy.make_data("ring", 2000, 0)),
            "DDPM (swiss roll, T = 100)": toy.DDPMTrainer(toy.make_data("spiral", 2000, 0)),
            "VAE (two moons, 2-D latent)": toy.VAETrainer(toy.make_data("moons", 2000, 0))}


def frame(tr: toy.Trainer) -> dict:
    """Every output of one Play frame, as the app computes it (the view as JSON numbers, text, loss curves)."""
    box = pg.Playground()
    box.models[tr.family] = tr
    return pg.FAMILIES[tr.family].frame(box, tr, pg.ALL, "", False)


def compute(seconds: float) -> None:
    print("\n## 1. Training speed (updates per second) and server CPU per frame (every output of a Play frame)")
    print(f"{'family':30s} {'updates/s':>10s} {'frame ms':>9s}  notes")
    for name, tr in trainers().items():
        ups = rate(lambda tr=tr: tr.step(CHUNK), seconds) * CHUNK
        if isinstance(tr, toy.GANTrainer):
            ups *= tr.k + 1  # step(n) runs n iterations of k D steps + 1 G step
        if isinstance(tr, toy.DDPMTrainer):
            ms = cpu_ms(lambda tr=tr: frame(tr), seconds / 2)
            chain = cpu_ms(lambda tr=tr: (setattr(tr, "_chain", None), tr.chain()), seconds / 2)
            note = f"+ {chain:.1f} ms when Algorithm 2 reruns ({tr.T} steps x 400 points; <= 30% of a Play's CPU)"
        else:
            ms = cpu_ms(lambda tr=tr: frame(tr), seconds / 2)
            note = ""
        print(f"{name:30s} {ups:10.0f} {ms:9.1f}  {note}")
    # two visitors training at once, each in its own thread as Gradio runs them
    trs = [toy.GANTrainer(toy.make_data("ring", 2000, s), seed=s) for s in (0, 1)]
    stop = time.perf_counter() + seconds

    def train(tr: toy.GANTrainer) -> None:
        while time.perf_counter() < stop:
            tr.step(10)
    threads = [threading.Thread(target=train, args=(tr,)) for tr in trs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    each = [tr.updates / seconds for tr in trs]
    print(f"two GAN sessions at once: {each[0]:.0f} + {each[1]:.0f} = {sum(each):.0f} updates/s")


def time_to_good(max_seconds: float) -> None:
    print("\n## 3. Time until it looks right (training time only; checks are not counted)")
    tr = toy.GANTrainer(toy.make_data("ring", 2000, 0))
    while tr.elapsed < max_seconds:
        tr.step(50)
        c = toy.ring_coverage(tr.fakes())
        if c.modes == 8 and c.good >= 0.8:
            print(f"GAN, 8 Gaussians, defaults (non-saturating, Adam 1e-3, k = 1): 8/8 modes and "
                  f"{100 * c.good:.0f}% of samples within 3 std of a mode after {tr.iterations} iterations, "
                  f"{tr.elapsed:.1f} s")
            break
    else:
        print(f"GAN: not 8/8 modes with >= 80% on a mode within {max_seconds:.0f} s ({tr.iterations} iterations)")
    d = toy.make_data("spiral", 2000, 0)
    tr = toy.DDPMTrainer(d)
    floor = toy.chamfer(toy.make_data("spiral", 400, 99).x, d.x[tr.view_idx])
    while tr.elapsed < max_seconds:
        tr.step(100)
        dist = toy.chamfer(tr.chain()[0], d.x[tr.view_idx])
        if dist <= 1.5 * floor:
            print(f"DDPM, swiss roll, defaults (T = 100 linear, Adam 3e-3, batch 256): Algorithm 2's samples within "
                  f"1.5x the data's own nearest-neighbour distance ({dist:.3f} vs {floor:.3f}) after {tr.updates} "
                  f"updates, {tr.elapsed:.1f} s")
            break
    else:
        print(f"DDPM: not within 1.5x of the data's spread within {max_seconds:.0f} s ({tr.updates} updates)")
    for loss in ("non-saturating", "minimax"):
        tr = toy.GANTrainer(toy.make_data("ring", 2000, 0), lr_d=0.03, lr_g=0.03, loss=loss)
        modes = []
        for _ in range(6):
            tr.step(250)
            modes.append(toy.ring_coverage(tr.fakes()).modes)
        print(f"GAN, 8 Gaussians, {loss}, learning rates 0.03: modes covered at iterations 250..1500: {modes}")


def browser(url: str | None, seconds: float) -> None:

    from tests.conftest import chromium_page, launch_app

    print("\n## 2. Frames per second in headless Chromium while Play runs")
    proc = None
    if url is None:
        proc, url = launch_app()
    try:
        with chromium_page(url.rstrip("/") + "/playground") as page:  # the playground's own page
            page.wait_for_selector("button[role=tab]", timeout=120_000)
            for sub, fam in (("GAN", "gan"), ("DDPM", "ddpm"), ("VAE", "vae")):
                page.get_by_role("tab", name=sub, exact=True).click()
                page.wait_for_selector(f"#toy-{fam}-view canvas", timeout=120_000)
                drawn = f"() => +document.querySelector('#toy-{fam}-view .pg').dataset.frames"  # playground.js counts
                count = page.locator(f"#toy-{fam}-updates input")
                page.locator(f"#toy-{fam}-play").click()
                page.wait_for_timeout(2000)  # warm-up: the first frames, the plot's first draw
                f0, u0, t0 = page.evaluate(drawn), int(count.input_value()), time.perf_counter()
                page.wait_for_timeout(int(seconds * 1000))
                f1, u1, dt = page.evaluate(drawn), int(count.input_value()), time.perf_counter() - t0
                page.locator(f"#toy-{fam}-pause").click()
                print(f"{sub:5s}: {(f1 - f0) / dt:5.1f} frames/s shown, {(u1 - u0) / dt:6.0f} updates/s while playing")
                page.wait_for_timeout(500)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process so far, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pool_cpu(pid: int) -> float:
    """CPU seconds so far of the app's fair-pool workers (gen.work.FairPool: the threads niced to 5; training and
    frames); the rest of the process is Gradio serving the messages (and the event loop)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[16]) == 5:  # nice
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def frames_in(view: str) -> int:
    """How many frames one view output carries: a film ({"frames": [...]}) several, a single view one."""
    if not view.startswith('{"frames":'):
        return 1
    return len(json.loads(view)["frames"])


def a_class(sessions: int, seconds: float, url: str | None, pid: int | None, app_dir: Path | None) -> None:
    """N visitors press Play on the GAN at the same moment; each is its own gradio_client session."""
    from gradio_client import Client

    from tests.conftest import ROOT, launch_app

    print(f"\n## 4. A class: {sessions} sessions press Play (GAN, 8 Gaussians) at once, {seconds:.0f} s")
    proc = None
    if url is None:
        proc, url = launch_app(cwd=app_dir or ROOT)
        pid = proc.pid
    try:
        from concurrent.futures import ThreadPoolExecutor

        def connect(_: int):  # each Client is its own session (gr.State); connecting is not timed
            for attempt in range(5):
                try:
                    return Client(url, verbose=False, download_files=False)
                except Exception:  # noqa: BLE001 - a busy machine: try again
                    time.sleep(1 + attempt)
            raise RuntimeError("could not connect")
        with ThreadPoolExecutor(4) as ex:
            clients = list(ex.map(connect, range(sessions)))
        hp = ["ring", 2000, 0, 2, 0.001, 0.001, "Adam", 1, "non-saturating", 5]
        cpu0 = proc_cpu(pid) if pid else None
        pool0 = pool_cpu(pid) if pid else None
        own0 = time.process_time()
        t0 = time.perf_counter()
        jobs = [c.submit(*hp, api_name="/toy_gan_play") for c in clients]
        first: list[float | None] = [None] * sessions
        views = [0] * sessions  # frames received (inside the films of distinct view messages)
        messages = [0] * sessions  # view messages received
        seen = [0] * sessions
        last = [None] * sessions
        while time.perf_counter() - t0 < seconds:
            now = time.perf_counter() - t0
            for i, j in enumerate(jobs):
                comm = j.communicator
                with comm.lock:
                    outs = comm.job.outputs
                    for k in range(seen[i], len(outs)):
                        v = outs[k][0] if isinstance(outs[k], list | tuple) else outs[k]
                        if v is not None and v != last[i]:
                            views[i] += frames_in(v)
                            messages[i] += 1
                            last[i] = v
                            if first[i] is None:
                                first[i] = now
                        outs[k] = None  # keep the client's memory flat
                    seen[i] = len(outs)
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        cpu = proc_cpu(pid) - cpu0 if pid else None
        pool = pool_cpu(pid) - pool0 if pid else None
        own = time.process_time() - own0
        for j in jobs:
            j.cancel()
        got = [f for f in first if f is not None]
        rates = [(views[i] - 1) / (elapsed - first[i]) for i in range(sessions) if first[i] is not None
                 and elapsed - first[i] > 1]
        q = statistics.quantiles(got, n=20) if len(got) >= 2 else got * 19
        msg_rates = [(messages[i] - 1) / (elapsed - first[i]) for i in range(sessions) if first[i] is not None
                     and elapsed - first[i] > 1]
        print(f"sessions with a first frame within {seconds:.0f} s: {len(got)}/{sessions}")
        if got:
            print(f"time to first frame: median {statistics.median(got):.2f} s, p95 {q[18]:.2f} s, "
                  f"max {max(got):.2f} s")
        if rates:
            print(f"view updates per second per session (frames delivered, after its first frame): median "
                  f"{statistics.median(rates):.1f}, min {min(rates):.1f}, max {max(rates):.1f}; in "
                  f"{statistics.median(msg_rates):.1f} messages per second (median)")
        total = sum(views)
        if cpu is not None:
            print(f"app process CPU: {cpu:.1f} s in {elapsed:.1f} s ({cpu / elapsed:.2f} cores), {total} frames "
                  f"delivered in {sum(messages)} messages: {1000 * cpu / max(total, 1):.1f} ms of server CPU per "
                  f"delivered frame, {1000 * cpu / max(sum(messages), 1):.1f} ms per message (training included)")
            print(f"  of which the pool (training and frames): {pool:.1f} s, {1000 * pool / max(total, 1):.1f} ms per "
                  f"frame; the rest (Gradio, the event loop): {cpu - pool:.1f} s, "
                  f"{1000 * (cpu - pool) / max(sum(messages), 1):.1f} ms per message")
        print(f"this benchmark's own CPU (the {sessions} clients): {own:.1f} s ({own / elapsed:.2f} cores); load "
              f"average now {os.getloadavg()[0]:.1f}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="a running app (default: launch python app.py on a free port)")
    p.add_argument("--seconds", type=float, default=8.0, help="length of each speed measurement")
    p.add_argument("--max-train", type=float, default=120.0, help="give up 'looks right' after this many s")
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--sessions", type=int, default=40, help="section 4: this many sessions press Play at once")
    p.add_argument("--class-seconds", type=float, default=20.0, help="section 4: how long they play")
    p.add_argument("--class-only", action="store_true", help="run section 4 only")
    p.add_argument("--pid", type=int, help="with --url: the app's process id, for its CPU time")
    p.add_argument("--app-dir", type=Path, help="launch app.py from this directory (another checkout)")
    a = p.parse_args()
    load = os.getloadavg()
    print(f"torch {torch.__version__}, torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    if a.class_only:
        a_class(a.sessions, a.class_seconds, a.url, a.pid, a.app_dir)
        return
    compute(a.seconds)
    if not a.no_browser:
        browser(a.url, a.seconds)
    time_to_good(a.max_train)
    if a.sessions:
        a_class(a.sessions, a.class_seconds, a.url, a.pid, a.app_dir)
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


if __name__ == "__main__":
    main()

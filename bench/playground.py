"""Training-playground figures on this CPU: python bench/playground.py [--url URL] [--seconds 8] [--no-browser]

1. updates per second of each family's trainer (one thread per session, as in the app), also two sessions at once,
   and the cost of one streamed frame (view + JPEG);
2. frames per second a real browser shows while Play runs (headless Chromium, 1280x720), per family, against
   a launched `python app.py` (or --url);
3. the time until the 8-Gaussians GAN and the swiss-roll DDPM look right, with the criteria printed, and the
   high-learning-rate mode collapse.

These are benchmark figures, not tests. The machine's load average is printed first: on a shared CPU every
figure moves with it.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from gen import toy

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


def trainers() -> dict[str, toy.Trainer]:
    return {"GAN (8 Gaussians)": toy.GANTrainer(toy.make_data("ring", 2000, 0)),
            "DDPM (swiss roll, T = 100)": toy.DDPMTrainer(toy.make_data("spiral", 2000, 0)),
            "VAE (two moons, 2-D latent)": toy.VAETrainer(toy.make_data("moons", 2000, 0))}


def frame(tr: toy.Trainer) -> str:
    if isinstance(tr, toy.GANTrainer):
        return toy.data_url(toy.gan_view(tr, VIEW))
    if isinstance(tr, toy.DDPMTrainer):
        return toy.data_url(toy.ddpm_view(tr, 0, tr.chain(), VIEW))
    return "".join(toy.data_url(a) for a in toy.vae_view(tr, 400, 280))


def compute(seconds: float) -> None:
    print("\n## 1. Training speed (updates per second) and frame cost")
    print(f"{'family':30s} {'updates/s':>10s} {'frame ms':>9s}  notes")
    for name, tr in trainers().items():
        ups = rate(lambda tr=tr: tr.step(CHUNK), seconds) * CHUNK
        if isinstance(tr, toy.GANTrainer):
            ups *= tr.k + 1  # step(n) runs n iterations of k D steps + 1 G step
        if isinstance(tr, toy.DDPMTrainer):
            ms = 1000 / rate(lambda tr=tr: (setattr(tr, "_chain", None), frame(tr)), seconds / 2)
            note = f"a frame with a fresh Algorithm 2 chain ({tr.T} steps x 400 points)"
        else:
            ms = 1000 / rate(lambda tr=tr: frame(tr), seconds / 2)
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
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS, launch_app

    print("\n## 2. Frames per second in headless Chromium while Play runs")
    proc = None
    if url is None:
        proc, url = launch_app()
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = b.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url)
            page.wait_for_selector("button[role=tab]", timeout=120_000)
            page.get_by_role("tab", name="Training playground").click()
            for sub, fam in (("GAN", "gan"), ("DDPM", "ddpm"), ("VAE", "vae")):
                page.get_by_role("tab", name=sub, exact=True).last.click()
                page.wait_for_selector(f"#toy-{fam}-view img", timeout=120_000)
                page.evaluate("""(id) => { window.__frames = 0; window.__run = true; let last = null;
                    const tick = () => { const i = document.querySelector(`#${id} img`); const s = i && i.src;
                      if (s && s !== last) { window.__frames++; last = s; }
                      if (window.__run) requestAnimationFrame(tick); };
                    requestAnimationFrame(tick); }""", f"toy-{fam}-view")
                count = page.locator(f"#toy-{fam}-updates input")
                page.locator(f"#toy-{fam}-play").click()
                page.wait_for_timeout(2000)  # warm-up: the first frames, the plot's first draw
                f0, u0, t0 = page.evaluate("window.__frames"), int(count.input_value()), time.perf_counter()
                page.wait_for_timeout(int(seconds * 1000))
                f1, u1, dt = page.evaluate("window.__frames"), int(count.input_value()), time.perf_counter() - t0
                page.locator(f"#toy-{fam}-pause").click()
                page.evaluate("window.__run = false")
                print(f"{sub:5s}: {(f1 - f0) / dt:5.1f} frames/s shown, {(u1 - u0) / dt:6.0f} updates/s while playing")
                page.wait_for_timeout(500)
            b.close()
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
    a = p.parse_args()
    load = os.getloadavg()
    print(f"torch {torch.__version__}, torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    compute(a.seconds)
    if not a.no_browser:
        browser(a.url, a.seconds)
    time_to_good(a.max_train)
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


if __name__ == "__main__":
    main()

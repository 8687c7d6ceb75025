"""Load test: many concurrent visitors on every tab's main endpoints, then is the app still responsive?

python bench/load.py [--users 20] [--seconds 60] [--url http://host:port/ [--pid PID]]

Without --url it launches `python app.py` on a free port (tests.conftest.launch_app, offline) and stops it after.
Each user is a thread with its own gradio_client session, looping over a shuffled mix of the endpoints that exist
(the app's view_api). Prints requests done, errors (with the first messages), p50/p95 latency per endpoint,
a responsiveness check afterwards, and the app's resident memory before, every --rss-every seconds and after.
A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

from tests.conftest import launch_app

DS = "MNIST"


def digit_png(folder: Path) -> Path:
    """A small upload: a dark '7' on light paper, 96x96."""
    a = np.full((96, 96), 235, np.uint8)
    a[18:28, 20:76] = 15
    for i in range(60):
        a[28 + i, 66 - i // 2:76 - i // 2] = 15
    path = folder / "seven.png"
    Image.fromarray(a).save(path)
    return path


def mix(upload: Path) -> dict[str, Callable[[random.Random], dict]]:
    """Endpoint -> the arguments to vary (by parameter name; the others keep the app's defaults)."""
    return {
        "/vae_decode": lambda r: {"z1": round(r.uniform(-3, 3), 2), "z2": round(r.uniform(-3, 3), 2), "ds": DS},
        "/vae_map": lambda r: {"ds": DS, "z1": 0.0, "z2": 0.0},
        "/vae_interpolate": lambda r: {"ds": DS, "a": r.randrange(2000), "b": r.randrange(2000), "steps": 6},
        "/vae_encode": lambda r: {"ds": DS, "latent": "2-D latent", "sketch": None, "upload": handle_file(upload),
                                  "seed": r.randrange(1000)},
        "/gan_sample": lambda r: {"seed": r.randrange(100_000), "ds": DS},
        "/gan_grid": lambda r: {"start": r.randrange(100_000), "ds": DS},
        "/gan_interpolate": lambda r: {"seed_a": r.randrange(1000), "seed_b": r.randrange(1000), "ds": DS,
                                       "steps": 8},
        "/ddpm_forward": lambda r: {"ds": DS, "index": r.randrange(2000), "upload": None,
                                    "t": float(r.randrange(0, 1001)), "seed": r.randrange(1000)},
        "/ddpm_reset": lambda r: {"ds": DS, "seed": r.randrange(1000)},
        "/ddpm_step10": lambda r: {"v": "beta"},  # after /ddpm_reset, in the same session
        "/ddim_sample": lambda r: {"ds": DS, "seed": r.randrange(1000), "S": 5, "eta": r.choice([0.0, 1.0])},
    }


SEQUENCES = {"/ddpm_step10": "/ddpm_reset"}  # an endpoint that needs another one just before it


@dataclass
class Stats:
    latency: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    errors: dict[str, int] = field(default_factory=collections.Counter)
    messages: dict[str, int] = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latency[name].append(seconds)
            if error is not None:
                self.errors[name] += 1
                self.messages[f"{name}: {error}"] += 1


def args_for(api: dict, name: str, chosen: dict) -> dict:
    """Keyword arguments for `name`: the chosen values for parameters it has, defaults for the rest."""
    out = {}
    for p in api["named_endpoints"][name]["parameters"]:
        k = p["parameter_name"]
        if k in chosen:
            out[k] = chosen[k]
        elif p.get("parameter_has_default"):
            out[k] = p.get("parameter_default")
    return out


def scenario(client: Client, api: dict, name: str, make: dict, rng: random.Random, stats: Stats,
             names: list[str], timeout: float) -> None:
    """One request, or the short sequence it needs (reset before step), each timed and counted."""
    steps = [SEQUENCES[name], name] if name in SEQUENCES and SEQUENCES[name] in names else [name]
    for n in steps:
        t = time.perf_counter()
        error = None
        try:
            client.submit(**args_for(api, n, make[n](rng)), api_name=n).result(timeout=timeout)
        except Exception as e:  # noqa: BLE001 - every failure is counted and its message kept
            error = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
        stats.add(n, time.perf_counter() - t, error)
        if error is not None:
            break


def user(i: int, url: str, deadline: list[float], names: list[str], make: dict, stats: Stats, timeout: float,
         start: threading.Barrier, burst: int = 1) -> None:
    """One visitor: connect, wait for the others, then loop over the mix until deadline[0].

    burst > 1: the visitor sends that many requests at once (as a page load or a dragged slider does) and waits
    for all of them before the next burst.
    """
    rng = random.Random(i)
    client = api = None
    for _ in range(5):  # many users at once: the config (~0.5 MB) can take longer than the client's 5 s
        t = time.perf_counter()
        try:
            client = Client(url, verbose=False)
            api = client.view_api(return_format="dict", print_info=False)
            break
        except Exception as e:  # noqa: BLE001 - a user that cannot connect is counted, then tries again
            client = None
            stats.add("(connect)", time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:200]}")
            time.sleep(1 + 2 * rng.random())
    try:
        start.wait(timeout=300)
    except threading.BrokenBarrierError:
        return
    if client is None:
        return
    order: list[str] = []
    with ThreadPoolExecutor(max_workers=burst) as pool:
        while time.time() < deadline[0]:
            batch = []
            while len(batch) < burst:
                if not order:
                    order = names[:]
                    rng.shuffle(order)
                batch.append(order.pop())
            list(pool.map(lambda n: scenario(client, api, n, make, rng, stats, names, timeout), batch))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))]


def rss_mb(pid: int | None) -> tuple[float | None, float | None]:
    """(resident memory, its peak) of the app's process in MiB; psutil if available, else /proc."""
    if pid is None:
        return None, None
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2 ** 20, _peak(pid)
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - process gone or not ours
        return None, None
    cur = _proc_status(pid, "VmRSS")
    return cur, _peak(pid)


def _proc_status(pid: int, key: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak(pid: int) -> float | None:
    return _proc_status(pid, "VmHWM")


def pid_on_port(url: str) -> int | None:
    """The process listening on the URL's port (psutil needed), for --url without --pid."""
    try:
        import psutil

        port = urlparse(url).port
        for c in psutil.net_connections("tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return c.pid
    except Exception:  # noqa: BLE001 - optional
        pass
    return None


def fmt_mb(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f} MiB"


def drain(proc, log: collections.deque, counts: collections.Counter) -> None:
    """Read the launched app's output: unread, its pipe fills (about 25 error tracebacks) and the app freezes."""
    for line in proc.stdout:
        log.append(line.rstrip())
        if line.startswith("Traceback"):
            counts["tracebacks"] += 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--url", help="a running app (default: launch one)")
    p.add_argument("--pid", type=int, help="with --url: the app's process, for its memory")
    p.add_argument("--only", help="comma-separated endpoints to use instead of the whole mix, e.g. /vae_map")
    p.add_argument("--burst", type=int, default=1,
                   help="requests each user sends at once (a browser's page load sends 3 or more)")
    p.add_argument("--timeout", type=float, default=180, help="seconds before one request counts as failed")
    p.add_argument("--rss-every", type=float, default=15, help="print the app's resident memory this often (0: off)")
    a = p.parse_args()

    proc, log, counts = None, collections.deque(maxlen=200), collections.Counter()
    if a.url:
        url, pid = a.url.rstrip("/") + "/", a.pid or pid_on_port(a.url)
    else:
        t = time.perf_counter()
        proc, url = launch_app()
        pid = proc.pid
        threading.Thread(target=drain, args=(proc, log, counts), daemon=True).start()
        print(f"launched app.py at {url} (pid {pid}) in {time.perf_counter() - t:.1f} s")
    try:
        run(a, url, pid, counts)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


def run(a, url: str, pid: int | None, counts: collections.Counter) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="genlab-load-"))
    make = mix(digit_png(tmp))
    api = Client(url, verbose=False).view_api(return_format="dict", print_info=False)
    names = [n for n in make if n in api["named_endpoints"] and (not a.only or n in a.only.split(","))]
    skipped = [n for n in make if n not in names]
    print(f"endpoints: {' '.join(names)}" + (f"  (missing, skipped: {' '.join(skipped)})" if skipped else ""))
    rss0, _ = rss_mb(pid)
    print(f"app RSS before: {fmt_mb(rss0)}")

    stats = Stats()
    start = threading.Barrier(a.users + 1)  # the users connect first, then all start together
    deadline = [0.0]
    threads = [threading.Thread(target=user, args=(i, url, deadline, names, make, stats, a.timeout, start,
                                                   a.burst), daemon=True) for i in range(a.users)]
    for th in threads:
        th.start()
    connect_by = time.time() + 300
    while start.n_waiting < a.users and time.time() < connect_by:
        time.sleep(0.05)
    t0 = time.time()
    deadline[0] = t0 + a.seconds
    start.wait(timeout=300)
    print(f"{a.users} users{f' x {a.burst} requests at once' if a.burst > 1 else ''} for {a.seconds:.0f} s ...",
          flush=True)
    peak_rss = rss0 or 0.0
    series, next_sample = [], t0 + a.rss_every
    while any(th.is_alive() for th in threads):
        time.sleep(1)
        r, _ = rss_mb(pid)
        peak_rss = max(peak_rss, r or 0.0)
        if a.rss_every > 0 and r is not None and time.time() >= next_sample:
            series.append(f"{time.time() - t0:.0f}s {r:.0f}")
            print(f"  t={time.time() - t0:5.0f} s  app RSS {r:.0f} MiB  ({sum(map(len, stats.latency.values()))}"
                  f" requests so far)", flush=True)
            next_sample += a.rss_every
    wall = time.time() - t0

    total = sum(len(v) for v in stats.latency.values())
    errors = sum(stats.errors.values())
    print(f"\nrequests: {total} in {wall:.1f} s ({total / wall:.2f}/s), errors: {errors}")
    print(f"{'endpoint':<18}{'n':>6}{'errors':>8}{'p50 s':>9}{'p95 s':>9}{'max s':>9}")
    for n in [*names, *(k for k in stats.latency if k not in names)]:
        xs = stats.latency.get(n, [])
        if xs:
            print(f"{n:<18}{len(xs):>6}{stats.errors.get(n, 0):>8}{pct(xs, 50):>9.2f}{pct(xs, 95):>9.2f}"
                  f"{max(xs):>9.2f}")
    if stats.messages:
        kinds = collections.Counter()
        for m, c in stats.messages.items():
            kinds[m.split(": ")[1]] += c
        print("errors by kind: " + ", ".join(f"{k} {c}" for k, c in kinds.most_common()))
        print("first error messages (count):")
        for m, c in list(stats.messages.items())[:5]:
            print(f"  {c:>4} x {m}")

    # Still responsive? One more request from a fresh session, and the page itself.
    t = time.perf_counter()
    try:
        Client(url, verbose=False).predict(0.5, -0.5, DS, api_name="/vae_decode")
        after = f"/vae_decode {time.perf_counter() - t:.2f} s (fresh session, incl. connect)"
    except Exception as e:  # noqa: BLE001
        after = f"/vae_decode FAILED {type(e).__name__}: {str(e)[:200]}"
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            page = f"GET / {r.status} in {time.perf_counter() - t:.2f} s"
    except Exception as e:  # noqa: BLE001
        page = f"GET / FAILED {type(e).__name__}: {e}"
    print(f"afterwards: {after}; {page}")
    rss1, hwm = rss_mb(pid)
    print(f"app RSS before {fmt_mb(rss0)}, after {fmt_mb(rss1)}, peak seen {fmt_mb(peak_rss or None)}"
          f" (VmHWM {fmt_mb(hwm)})")
    if series:
        print("app RSS series (MiB): " + ", ".join(series))
    if counts:
        print(f"app printed {counts['tracebacks']} tracebacks")


if __name__ == "__main__":
    main()

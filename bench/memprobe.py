"""Where does the app's memory go? Runs app.py in-process and reports, every N seconds, what grew.

python bench/memprobe.py [--port PORT] [--every 30] [--trace 25] [--seconds 600]
then, from another shell:  python bench/load.py --url <url printed> --pid <pid printed>

Each report: resident memory (and how much malloc_trim(0) would give back, with --trim-test), the sizes of
Gradio's per-event and per-session structures, the object types whose count grew most (gc), and, with --trace N
(tracemalloc, N frames; slows the app a lot), the allocation sites that grew most since the previous report.
A diagnostic, not a test.
"""
from __future__ import annotations

import argparse
import collections
import ctypes
import gc
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def rss() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def mallinfo() -> str:
    """glibc heap: in use vs held free (mallinfo2, glibc >= 2.33)."""
    class MI2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")]
    try:
        f = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return ""
    f.restype = MI2
    m = f()
    mb = 2 ** 20
    return (f"heap: sbrk {m.arena / mb:.0f} MiB + mmap {m.hblkhd / mb:.0f} MiB, in use {m.uordblks / mb:.0f} MiB,"
            f" free {m.fordblks / mb:.0f} MiB")


def sizes(demo) -> dict[str, int]:
    """Lengths of Gradio structures that are keyed by event, session or file."""
    out = {}
    q = demo._queue
    for k in ("event_ids_to_events", "pending_event_ids_session", "pending_messages_per_session", "event_analytics",
              "_asyncio_tasks", "process_time_per_fn"):
        v = getattr(q, k, None)
        if v is not None:
            out[f"queue.{k}"] = len(v)
    out["queue.queued"] = sum(len(eq.queue) for eq in q.event_queue_per_concurrency_id.values())
    out["queue.start_times"] = sum(len(s) for eq in q.event_queue_per_concurrency_id.values()
                                   for s in eq.start_times_per_fn.values())
    for k in ("temp_files", "pending_streams", "pending_diff_streams", "upload_file_set", "keep_in_cache"):
        v = getattr(demo, k, None)
        if v is not None:
            out[f"blocks.{k}"] = len(v)
    for b in demo.blocks.values():
        tf = getattr(b, "temp_files", None)
        if tf:
            out["components.temp_files"] = out.get("components.temp_files", 0) + len(tf)
    app = demo.server_app
    if app is not None:
        for k in ("iterators", "iterators_to_reset", "_asyncio_tasks", "tokens"):
            v = getattr(app, k, None)
            if v is not None:
                out[f"app.{k}"] = len(v)
        sh = getattr(app, "state_holder", None)
        if sh is not None:
            out["state.sessions"] = len(sh.session_data)
    return out


def type_counts() -> collections.Counter:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0, help="default: a free one")
    p.add_argument("--every", type=float, default=30)
    p.add_argument("--seconds", type=float, default=600, help="stop after this long")
    p.add_argument("--trace", type=int, default=0, help="tracemalloc with this many frames (0: off)")
    p.add_argument("--trace-after", type=float, default=0,
                   help="start tracemalloc only this many seconds in (after warm-up: much less slowdown)")
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--trim-test", action="store_true", help="call malloc_trim(0) each report, show what it frees")
    p.add_argument("--no-housekeeping", action="store_true",
                   help="launch without the app's housekeeping (gen.ui.common.housekeeping): the old behaviour")
    p.add_argument("--closed-ttl", type=float, help="override common.CLOSED_SESSION_TTL (s), to see it act")
    p.add_argument("--no-types", action="store_true", help="skip counting objects by type")
    a = p.parse_args()

    import app
    from gen import work
    from tests.conftest import free_port

    work.limit_malloc_arenas()
    if a.trace and not a.trace_after:
        tracemalloc.start(a.trace)
    from gen.ui import common

    if a.closed_ttl is not None:
        common.CLOSED_SESSION_TTL = a.closed_ttl
    kwargs = app.launch_args()
    if a.no_housekeeping:
        kwargs.pop("app_kwargs")
    demo = app.build()
    a.port = a.port or free_port()
    demo.launch(server_name="127.0.0.1", server_port=a.port, prevent_thread_lock=True, quiet=True, **kwargs)
    print(f"memprobe: app at http://127.0.0.1:{a.port}/ pid {os.getpid()} RSS {rss():.0f} MiB", flush=True)
    t0 = time.time()
    snap = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
    types = None if a.no_types else type_counts()
    prev_sizes = sizes(demo)
    while time.time() - t0 < a.seconds:
        time.sleep(a.every)
        if a.trace and not tracemalloc.is_tracing() and time.time() - t0 >= a.trace_after:
            tracemalloc.start(a.trace)
            snap = tracemalloc.take_snapshot()
            print(f"\n=== t={time.time() - t0:.0f}s tracemalloc started", flush=True)
            continue
        line = f"\n=== t={time.time() - t0:.0f}s RSS {rss():.0f} MiB  {mallinfo()}"
        if a.trim_test:
            before, t = rss(), time.perf_counter()
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            line += f"  | malloc_trim(0): {before:.0f} -> {rss():.0f} MiB in {1e3 * (time.perf_counter() - t):.0f} ms"
        print(line, flush=True)
        now = sizes(demo)
        print("  sizes: " + ", ".join(f"{k}={v}" + (f"({v - prev_sizes.get(k, 0):+d})" if v != prev_sizes.get(k, 0)
                                                    else "") for k, v in now.items()))
        prev_sizes = now
        if types is not None:
            t = type_counts()
            grown = [(k, t[k] - types.get(k, 0)) for k in t]
            grown = sorted((g for g in grown if g[1] > 0), key=lambda g: -g[1])[:a.top]
            print("  objects grown: " + ", ".join(f"{k} +{d} (={t[k]})" for k, d in grown), flush=True)
            types = t
        if snap is not None:
            new = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            cur, peak = tracemalloc.get_traced_memory()
            print(f"  tracemalloc: traced {cur / 2**20:.1f} MiB (peak {peak / 2**20:.1f})")
            for st in new.compare_to(snap, "traceback")[:a.top]:
                if st.size_diff <= 0:
                    continue
                print(f"  {st.size_diff / 1024:+9.0f} KiB {st.count_diff:+7d} blocks (now {st.size / 1024:.0f} KiB)")
                frames = [f for f in st.traceback.format(limit=a.trace, most_recent_first=True)
                          if f.startswith("  File")]
                for f in frames[:8]:
                    print(f"      {f.strip()}")
            snap = new
            print(flush=True)
    demo.close()


if __name__ == "__main__":
    main()

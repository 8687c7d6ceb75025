"""Shared UI pieces: look, image display, model access with friendly errors."""
from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr
import numpy as np
import PIL.Image
import torch
from gradio import processing_utils

from gen import data, hub
from gen.cache import SharedCache
from gen.images import upscale
from gen.unet import UNet, bf16_sampling_default
from gen.work import FairPool, trim_heap

DATASETS = {"MNIST": "mnist", "Fashion-MNIST": "fashion"}
DATASET = "MNIST"  # every tab opens on it
# Test images are numbered 0 … LAST_TEST in every tab; a number past either end is clamped (data.test_index).
LAST_TEST = min(data.test_count(d) for d in DATASETS.values()) - 1
NONE = "none"  # a class picker's "no class": the unconditional model


def unconditional(cls: str | None) -> bool:
    """Whether a class picker's value asks for no class (NONE, or empty when a link or API call leaves it out)."""
    return cls in (None, "", NONE)
# Results that are pure functions of their inputs (a seed's sample grid, DDPM vs DDIM, the guidance row, the Compare
# grids) are computed once and shared by every visitor; at most this many bytes of them are kept (LRU).
RESULTS = SharedCache(max_bytes=64 * 2**20)
# Lanes: events that cost seconds of CPU (a DDPM chain stepped by hand, sample grids, Compare) share one queue with
# one worker per core; every other event keeps its own queue and never waits behind them. Play streams are neither:
# they wait on work computed ahead in worker processes (ddpm_tab's film engine, playground_tab's process).
# The worker threads (one per core) that share the CPU fairly between jobs: the playground's process trains in it (its
# threads start at the first job, so the server's own copy costs nothing); Films(process=False) steps films in it.
POOL = FairPool()
# The app's U-Nets sample batches of 3 or more under bfloat16 autocast where the CPU has bf16 units (GENLAB_BF16=0 or
# 1 decides instead): a class's films, batched by the film engine, and the sample grids 2.2x faster there. The film
# engine's process imports this module too.
UNet.bf16_sampling = bf16_sampling_default()


class Streams:
    """The Play streams open now (DDPM chain and playground). Each message costs the server's event loop 10-20 ms
    whatever it carries (Gradio's postprocessing, state, JSON, SSE), so with many streams each sends less often and
    carries more frames, which the page paints at its own pace: 80 streams at 2.5 messages/s would need 3 cores."""

    PER_STREAM = 0.02  # s between one stream's messages per open stream: the loop spends <= ~1/3 of a core on them

    def __init__(self) -> None:
        self.open = 0

    def every(self, base: float) -> float:
        """Seconds between a stream's messages: `base`, or longer when many streams are open."""
        return max(base, self.open * self.PER_STREAM)

    @contextlib.contextmanager
    def opened(self) -> Iterator[None]:
        self.open += 1  # the event loop's thread only: no lock needed
        try:
            yield
        finally:
            self.open -= 1


STREAMS = Streams()
HEAVY = dict(concurrency_id="heavy", concurrency_limit=max(1, min(4, os.cpu_count() or 1)))
# The fast lane, for a slider or button that redraws an image while the visitor plays with it. After each status
# message of an event, Gradio's page re-sends the loading status of every component any event has touched so far,
# finding each by a walk of the whole component tree (~270 nodes on the main page, ~390 before the playground got its
# own page): the cost grows as a visitor tours the tabs (on the 390-node page, VAE slider -> image: 100 ms fresh, 230
# after a tour of the tabs; 30 on a page of 2 components). An event outside the queue sends two status messages
# instead of four (bench/browser.py: 230 -> 110-140 ms). Gradio shows gr.Warning and gr.Error only for queued events,
# so this lane is for handlers that cannot warn or fail once their tab is drawn (a slider's value, a seed a button
# made); a typed value, which may need a message, stays queued.
FAST = dict(show_progress="hidden", trigger_mode="always_last", queue=False)


def class_choices(ds: str) -> list[tuple[str, str]]:
    """A class picker's choices for a dataset: 'none', then 0..9 named as the dataset names them."""
    names = data.CLASSES[DATASETS.get(ds, "mnist")]
    return [("none: p(x), unconditional", NONE)] + [(f"{i}: {c}" if c != str(i) else c, str(i))
                                                    for i, c in enumerate(names)]

CSS = """
/* The navbar (main page, /playground) in a slim strip: every tab's main image stays on a 1280x720 screen. */
.nav-holder { padding: 0 !important; }
.nav-holder nav a { padding: 1px 8px !important; }
/* Small images (a 28x28 frame) fill their box, upscaled by the browser pixel for pixel. */
.crisp img { image-rendering: pixelated; object-fit: contain !important; }
/* An image's label floats over its top rows (Gradio's default): the image starts below it (it hid the latent map's
   first row). */
.block:has(> label.float) > .image-container { padding-top: 30px; box-sizing: border-box; }
body.present .block:has(> label.float) > .image-container { padding-top: 38px !important; }
/* Gallery captions (D(G(z)) on each sample) compact and half see-through: they covered the bottom of every digit. */
.thumbnail-item .caption-label { background: color-mix(in srgb, var(--background-fill-primary) 70%, transparent);
                                 border: none; padding: 0 .25em; font-size: .85em; line-height: 1.3; }
body.present .thumbnail-item .caption-label { font-size: 17px !important; }
.numbers { font-family: ui-monospace, monospace; font-size: 1.05rem; }
.banner { border-left: 6px solid #d33; padding-left: .6rem; }
.fill-triggers { display: none !important; }  /* links.wire: each tab's first view, filled when first shown */
/* Presentation mode: a projector at 1280x720 seen from the back row. Bigger text, no intros, more contrast. */
body.present { --text-md: 20px; --text-lg: 22px; --text-sm: 18px; --text-xs: 16px; --block-label-text-size: 20px;
               --block-info-text-size: 20px; --layout-gap: 10px; }
body.present .intro { display: none !important; }
/* The DDPM player's frames a little smaller, so that Algorithm 2's numbers stay above a 720 px projector's fold */
body.present .chain { position: relative; }
body.present .chain .chain-t { position: absolute; right: 8px; top: 0; font-size: 2.2rem; }
body.present .chain .chain-figs img { width: 214px !important; height: 214px !important; }
body.present .chain .cfg-grid { grid-template-columns: 104px 104px !important; width: 214px !important;
                                height: 214px !important; gap: 4px !important; }
body.present .chain .cfg-grid img { width: 86px !important; height: 86px !important; }
body.present .chain .numbers, body.present .chain .numbers * { line-height: 1.2 !important; }
body.present .crisp img { filter: contrast(1.2); }
/* The live numbers beside the equations (Algorithm 2's update, the ELBO terms, D(x)): 24 px, 1.5x the former 16 */
body.present .numbers, body.present .numbers :is(.prose, p, li, td, th, b, strong, em, span) {
  font-family: ui-monospace, monospace; font-size: 24px !important; line-height: 1.3; }
body.present [data-testid=block-label] { white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  max-width: 75%; }
body.present #ddpm-chain figcaption { font-size: 20px; }
body.present #ddpm-chain .cfg-grid { grid-template-columns: 150px 150px; width: 306px; height: auto; }
body.present #ddpm-chain .cfg-grid img { width: 120px; height: 120px; }
body.present #ddpm-chain :is(.cfg-grid span, .cfg-eq) { font-size: 16px; }
/* Compact controls: a radio group (the dataset picker, a path, a schedule) on one line, label beside choices */
body.present fieldset.block:has(input[type=radio]) { display: flex; flex-wrap: wrap; align-items: center;
  column-gap: .6rem; row-gap: 4px; padding: 6px 10px; }
body.present fieldset.block:has(input[type=radio]) > span[data-testid=block-info] { margin: 0; }
body.present fieldset.block:has(input[type=radio]) label { padding: 2px 10px; }
body.present .gradio-container { max-width: 100% !important; padding-top: 0 !important; }
"""

# Presentation mode at load: ?present=1 (or 0) in the URL, else the mode this browser tab last had (the navbar's links
# carry no query: a lecturer projecting the main page keeps the mode on the playground's page); the checkbox toggles it.
PRESENT_FROM_URL = ("() => { const q = new URLSearchParams(location.search).get('present'); "
                    "const on = q === null ? sessionStorage.getItem('genlab-present') === '1' : q === '1'; "
                    "document.body.classList.toggle('present', on); return on; }")
PRESENT_TOGGLE = ("(on) => { document.body.classList.toggle('present', on); "
                  "sessionStorage.setItem('genlab-present', on ? '1' : '0'); }")

THEME = gr.themes.Default(text_size=gr.themes.sizes.text_lg)


def image(x: np.ndarray, size: int = 336) -> np.ndarray:
    """uint8 image -> nearest-neighbour upscaled copy, so 28 px stay crisp on a projector."""
    return upscale(x, size)


def model(name: str) -> torch.nn.Module:
    """gen.hub.load, with its error shown in the browser instead of a traceback."""
    try:
        return hub.load(name)
    except hub.ModelNotFound as e:
        raise gr.Error(str(e), duration=None, print_exception=False) from e


def _chain(sampler: str) -> str:
    """metrics.json's sampler without its precision: "ddim-50, bf16" -> "ddim-50"."""
    return ", ".join(p for p in sampler.split(", ") if p != "bf16")


def sampler_words(sampler: str) -> str:
    """metrics.json's sampler ("ddpm", "ddim-50, bf16", "ddim-200, eta 1", "ddim-50, autoguidance w 0.5") in the
    lecture's words."""
    head, *rest = _chain(sampler).split(", ")  # bf16 changes no figure that matters here
    if head.startswith("ddpm"):
        head = "Algorithm 2 (all T steps)"
    elif not any(p.startswith("eta") for p in rest):
        rest.insert(0, "eta 0")
    return ", ".join([head.replace("ddim-", "DDIM-"), *rest]).replace("eta", "η").replace("<=", "≤")


def chains(m: dict) -> dict[str, dict]:
    """A DDPM card's (metrics.json `m`) rows, one per chain, keyed by its sampler without ", bf16": a chain measured
    under bf16 and in float32 too is kept once, as float32 (the precision every CPU samples in)."""
    out: dict[str, dict] = {}
    for r in [m, *m.get("samplers", [])]:
        k = _chain(r["sampler"])
        if k not in out or "bf16" in out[k]["sampler"]:
            out[k] = r
    return out


def sampler_fids(name: str, m: dict) -> str:
    """Markdown: a DDPM's FID through each sampler its card `m` (metrics.json) measured (gen.evaluate --write,
    --also), or "" when it has none."""
    if not m.get("sampler"):
        return ""
    def row(r: dict) -> str:  # a row measured on another number of samples says so: FID depends on n
        n = "" if r["n_samples"] == m["n_samples"] else (f" ({r['n_samples']:,} samples, real vs real "
                                                         f"{r['fid_real_vs_real']:.1f})")
        return f"{sampler_words(r['sampler'])} **{r['fid']:.1f}**{n}"

    rows = " · ".join(row(r) for r in chains(m).values())
    return f"FID of `{name}` ({m['n_samples']:,} samples; real vs real {m['fid_real_vs_real']:.1f}): {rows}"


def missing(names: list[str]) -> str:
    """Markdown naming the models a tab cannot load (empty when all load): shown at the top of the tab."""
    problems = []
    for n in names:
        try:
            hub.load(n)
        except hub.ModelNotFound as e:
            problems.append(f"- **{n}**: {e}")
    return ("**Some models of this tab are unavailable; the parts using them will show an error.**\n\n"
            + "\n".join(problems)) if problems else ""


def friendly(fn: Callable) -> Callable:
    """Bad input (ValueError from gen) becomes a message in the UI, not a crash."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as e:
            raise gr.Error(str(e), print_exception=False) from e
    return wrapper


def readable_upload(component: gr.Image) -> gr.Image:
    """An upload that is not an image gets a clear message instead of Gradio's 'could not preprocess input'."""
    inner = component.preprocess

    def preprocess(payload):
        try:
            return inner(payload)
        except (OSError, SyntaxError, PIL.Image.DecompressionBombError) as e:
            raise gr.Error("This file is not an image (or not one that can be read): upload a PNG or JPEG.",
                           print_exception=False) from e

    component.preprocess = preprocess
    return component


def _save_pil_to_cache(img: PIL.Image.Image, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    payload = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(payload)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    if not path.exists():  # named by its content: an existing file already holds these bytes
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    return str(path)


def fix_image_cache() -> None:
    """Gradio 6 rewrites a cached output image in place; when many visitors get the same image (every page
    load asks for the same latent map) one download can read a half-written file. Write once, atomically."""
    processing_utils.save_pil_to_cache = _save_pil_to_cache


def lean_gradio() -> None:
    """Two per-event costs of Gradio that a class pays 40 times over (py-spy on the server under
    bench/classroom.py: 7% and 2% of its CPU). Call before gr.Blocks() is made.
    - After every event the queue rebuilds its analytics summary (a pandas DataFrame of up to 10,000 past events,
      grouped) for the monitoring page: rebuild it every 1,000 events, from the last 1,000.
    - Every event imports matplotlib to switch its backend; where it is not installed, that failed import searches
      the whole sys.path each time. A None in sys.modules makes it fail at once, as it would anyway."""
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    if "matplotlib" not in sys.modules and importlib.util.find_spec("matplotlib") is None:
        sys.modules["matplotlib"] = None


# Memory housekeeping. Measured under bench/load.py (20 visitors): RSS kept climbing for minutes for two reasons.
# 1. Gradio keeps one SessionState per visitor (a copy of the whole page config, ~0.6 MiB, plus the visitor's
#    gr.State values: a diffusion chain, a toy model) until state_session_capacity sessions exist (500 here), even
#    long after the tab closed: every new visitor added ~1.8 MiB of RSS that never came back.
# 2. glibc keeps freed heap pages: images and tensors of each request leave 100-170 MiB free but resident in the
#    heap after a few minutes; malloc_trim(0) returns it to the system (1100 -> 950 MiB measured).
CLOSED_SESSION_TTL = 120  # s: a closed tab's session (heartbeat gone) unused this long is dropped: a reconnect window
# (a page that reopens gets a new session anyway); a class of 40 leaving frees its ~1.8 MiB each within minutes
IDLE_SESSION_TTL = 3 * 3600  # s: any session unused this long is dropped (a client that never opened a heartbeat)
HOUSEKEEPING_EVERY = 15  # s between two rounds of dropping stale sessions and trimming the heap

log = logging.getLogger(__name__)


def drop_stale_sessions(app, now: datetime.datetime | None = None) -> int:
    """Forget the sessions of closed tabs (and long-idle ones): their state and Gradio's per-session entries.

    `app` is Gradio's server app (demo.server_app). Gradio only deletes gr.State values of a closed session (after
    an hour) and keeps the SessionState object itself until state_session_capacity is reached. Runs in the server's
    event loop, where Gradio changes these structures, so nothing changes under its feet. Returns how many."""
    holder = app.state_holder
    now = now or datetime.datetime.now()
    with holder.lock:
        stale = [sid for sid, state in holder.session_data.items()
                 if (now - holder.time_last_used.get(sid, now)).total_seconds()
                 > (CLOSED_SESSION_TTL if state.is_closed else IDLE_SESSION_TTL)]
    queue = app.get_blocks()._queue
    stale = [sid for sid in stale if not queue.pending_event_ids_session.get(sid)]  # none queued or running
    for sid in stale:
        holder.delete_state(sid)  # gr.State values, through their delete callbacks, as Gradio itself does
        with holder.lock:
            holder.session_data.pop(sid, None)
            holder.time_last_used.pop(sid, None)
        queue.pending_event_ids_session.pop(sid, None)  # an empty set per session ever seen, otherwise
        queue.pending_messages_per_session.pop(sid, None)
    return len(stale)


async def _housekeep(app) -> None:
    while True:
        await asyncio.sleep(HOUSEKEEPING_EVERY)
        try:
            drop_stale_sessions(app)
        except Exception:  # noqa: BLE001 - housekeeping must never stop the app
            log.exception("dropping stale sessions failed")
        await asyncio.to_thread(trim_heap)  # a few ms; off the event loop all the same


@contextlib.asynccontextmanager
async def housekeeping(app):
    """The server's lifespan (demo.launch(app_kwargs={"lifespan": housekeeping})): every HOUSEKEEPING_EVERY s,
    drop stale sessions and give the heap's free pages back to the system."""
    task = asyncio.create_task(_housekeep(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def fmt(v: torch.Tensor | float, digits: int = 2) -> str:
    """A vector or number for the equations panel: [0.12, -1.30]."""
    if isinstance(v, torch.Tensor) and v.numel() > 1:
        vals = v.flatten().tolist()
        s = ", ".join(f"{x:.{digits}f}" for x in vals[:8])
        return f"[{s}{', ...' if len(vals) > 8 else ''}]"
    return f"{float(v):.{digits}f}"

"""genlab: a live lab for the lecture on deep generative models (VAE, GAN, DDPM).

python app.py [--host 0.0.0.0] [--port 7860] [--share]
"""
from __future__ import annotations

import argparse
import os

import gradio as gr

from gen import work
from gen.ui import common, compare_tab, ddpm_tab, gan_tab, links, playground_tab, vae_tab

TITLE = "genlab: generative models, live"
MAIN_PAGE = "Lecture: VAE, GAN, DDPM"  # the navbar's name of the main page


INTRO = ("Autoencoders and VAEs, GANs and DDPM diffusion on MNIST and Fashion-MNIST, with the lecture's equations "
         "next to their live values.")
PLAYGROUND_INTRO = ("Train a small GAN, DDPM or VAE on 2-D points, live: each family's training loop, one line of the "
                    "lecture's algorithm at a time.")


def build() -> gr.Blocks:
    common.fix_image_cache()
    common.lean_gradio()
    # Output images are cached as files: drop those older than an hour, checking every 30 minutes.
    with gr.Blocks(title=TITLE, delete_cache=(1800, 3600)) as demo:
        gr.Navbar(main_page_name=MAIN_PAGE)
        present, copy, link = header(INTRO, copy_link=True)
        with gr.Tabs() as tabs:
            with gr.Tab("VAE", id="vae"):
                vae_tab.build(demo)
            with gr.Tab("GAN", id="gan"):
                gan_tab.build(demo)
            with gr.Tab("DDPM diffusion", id="ddpm"):
                ddpm_tab.build(demo)
            with gr.Tab("Compare", id="compare"):
                compare_tab.build(demo)
        links.wire(demo, tabs, copy, link)  # lecture links: ?tab=ddpm&ds=fashion&seed=42&t=500

        def lab_status() -> dict:
            """What the server is computing now: pool jobs, films, running events, shared results kept."""
            return status(demo)

        gr.api(lab_status, api_name="lab_status", concurrency_limit=None)
        presentation(demo, present)
    # A page of its own: the browser's cost of every event grows with the components on the page and those any
    # event touched (see links.wire), and the playground has a third of them; its first views run only here.
    with demo.route("Training playground", "playground"):
        gr.Navbar(main_page_name=MAIN_PAGE)  # one per page
        present, _, _ = header(PLAYGROUND_INTRO, copy_link=False)
        playground_tab.build(demo)  # /playground?view=ddpm opens a family
        presentation(demo, present)
    # Light events: each handler its own queue, 2 at a time. Heavy ones share common.HEAVY's lane; Play streams
    # wait on common.POOL and hold no thread. A bounded queue, so a crowd waits instead of piling up: a class of 40
    # sends about three events each at once.
    demo.queue(default_concurrency_limit=2, max_size=256)
    return demo


def header(intro: str, copy_link: bool) -> tuple[gr.Checkbox, gr.Button | None, gr.Textbox | None]:
    """Each page's title row: the title and what the page is, the presentation toggle, the lecture-link box."""
    copy = link = None
    with gr.Row(equal_height=True):
        gr.Markdown(f"# {TITLE}\n{intro}", elem_classes="intro")
        with gr.Column(scale=0, min_width=520):
            with gr.Row():
                present = gr.Checkbox(label="Presentation mode (?present=1)", value=False, scale=0,
                                      min_width=310, elem_id="present-toggle", container=False)
                if copy_link:
                    copy = gr.Button("copy link to this view", size="sm", scale=0, min_width=190, elem_id="copy-link")
            if copy_link:
                link = gr.Textbox(placeholder="press 'copy link': the URL of this tab as it is now", show_label=False,
                                  container=False, elem_id="view-link", elem_classes="intro", buttons=["copy"])
    return present, copy, link


def presentation(demo: gr.Blocks, present: gr.Checkbox) -> None:
    """?present=1 (or the toggle): bigger text and images for a projector, set in the page alone."""
    demo.load(None, None, present, js=common.PRESENT_FROM_URL)
    present.change(None, present, None, js=common.PRESENT_TOGGLE)


def status(demo: gr.Blocks) -> dict:
    """What the server is computing right now, for benchmarks and a curious lecturer: jobs in the fair pools (the
    playground's process included) and the visitors' models kept there, DDPM films being computed, events running
    in Gradio's workers (this one included), and the results kept."""
    running = [e for job in demo._queue.active_jobs if job for e in job]
    try:  # the playground's models train in its own process
        pg = playground_tab.ENGINE.call("engine_status").result(timeout=10)
    except Exception:  # noqa: BLE001 - not running (it starts again at the next playground event)
        pg = {"pool_jobs": 0, "sessions": 0}
    return {"pool_jobs": common.POOL.active + pg["pool_jobs"], "playground_sessions": pg["sessions"],
            "films_running": ddpm_tab.FILMS.running,
            "events_running": len(running), "results_cached_mib": round(common.RESULTS.size / 2**20, 1),
            "films_kept_mib": round(ddpm_tab.FILMS.size / 2**20, 1)}


def main() -> None:
    work.limit_malloc_arenas()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # On a Space, GRADIO_SERVER_NAME=0.0.0.0 is set for us; a laptop stays on localhost.
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (needs network)")
    a = p.parse_args()
    build().launch(server_name=a.host, server_port=a.port, share=a.share, **launch_args())


def launch_args() -> dict:
    """The keyword arguments of demo.launch besides where to listen (shared with bench/memprobe.py)."""
    return dict(theme=common.THEME, css=common.CSS, max_file_size="10mb", show_error=True,
                max_threads=256,  # Gradio runs at most this many events at once, streams included: 40 students
                # each holding two Play streams (which wait, holding no thread) must not lock out a slider
                state_session_capacity=500,  # per-visitor state (a diffusion chain, a toy model): a class
                # drops closed visitors' sessions and trims the heap: memory stays flat over a long lecture
                app_kwargs={"lifespan": common.housekeeping})


if __name__ == "__main__":
    main()

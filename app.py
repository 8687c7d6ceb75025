"""genlab: a live lab for the lecture on deep generative models (VAE, GAN, DDPM).

python app.py [--host 0.0.0.0] [--port 7860] [--share]
"""
from __future__ import annotations

import argparse

import gradio as gr

from gen.ui import common, ddpm_tab, gan_tab, vae_tab

TITLE = "genlab: generative models, live"


def build() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nAutoencoders and VAEs, GANs and DDPM diffusion on MNIST and Fashion-MNIST, "
                    "with the lecture's equations next to their live values.")
        with gr.Tab("VAE", id="vae"):
            vae_tab.build(demo)
        with gr.Tab("GAN", id="gan"):
            gan_tab.build(demo)
        with gr.Tab("DDPM diffusion", id="ddpm"):
            ddpm_tab.build(demo)
    # 2 vCPUs: one heavy event at a time per handler, a bounded queue so a crowd waits instead of piling up.
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (needs network)")
    a = p.parse_args()
    build().launch(server_name=a.host, server_port=a.port, share=a.share, theme=common.THEME, css=common.CSS,
                   max_file_size="10mb", show_error=True)


if __name__ == "__main__":
    main()

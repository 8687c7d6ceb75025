"""The Compare tab: VAE, GAN and DDPM on one dataset: samples, time, likelihood, FID, modes, memorisation."""
from __future__ import annotations

import gradio as gr
import numpy as np

from gen import compare, data, hub
from gen.cache import shared
from gen.images import grid
from gen.sample import sampler_label
from gen.ui import links
from gen.ui.common import (
    DATASET,
    DATASETS,
    HEAVY,
    NONE,
    RESULTS,
    chains,
    class_choices,
    image,
    missing,
    sampler_fids,
    sampler_words,
    unconditional,
)

N = 16  # samples per family: a 4x4 grid
CELL, SCALE = 30, 3  # a grid cell is 28 px + 2 px padding; grids are shown upscaled 3x


def _shown(name: str, m: dict) -> dict:
    """A DDPM card's figures for the chain this tab samples with (gen.sample.generate's), where the card measured
    it (under bf16 or not); else the card's own."""
    return chains(m).get(sampler_label(name), m)


def _card(family: str, name: str, seconds: float, hits: str = "") -> str:
    m = hub.read_json(name, "metrics.json")
    head = _shown(name, m) if m.get("sampler") else m  # a DDPM: the FID of the samples beside it, where measured
    fid = f"{head['fid']:.1f} (real vs real {head['fid_real_vs_real']:.1f})" if m else "not measured"
    # a DDPM's FID may come from another chain than the DDIM-50 shown: say which
    chain = f", sampled with {sampler_words(head['sampler'])}" if m.get("sampler") else ""
    if m.get("samplers"):  # the same network through the other chains measured
        chain += "  \n" + sampler_fids(name, m)
    modes = f"{head['min_class_fraction']:.1%}" if m else "?"
    like = {"VAE": f"ELBO ≥ log p(x): **{m.get('test_elbo_nats', float('nan')):.1f} nats** per test image",
            "GAN": "**none**: p_g is implicit, G only maps z to x",
            "DDPM": "explicit bound E[−log p(x₀)] ≤ L_T + Σ L_{t−1} + L₀ (trained with L_simple; not computed here)",
            }[family]
    return (f"### {family} · `{name}`\n**{seconds * 1000:.0f} ms** for {N} samples on this CPU"
            f"{f' ({sampler_words(sampler_label(name))})' if family == 'DDPM' else ''}  \nFID **{fid}**{chain}  \n"
            f"rarest class **{modes}** of {head.get('n_samples', 5000):,} samples (10% = even)  \nlikelihood: {like}"
            + (f"  \nconditional accuracy **{m['conditional_accuracy']:.1%}** (5,000 balanced samples)"
               if m and "conditional_accuracy" in m else "") + hits)


@shared(RESULTS)
def run(ds: str, seed: float, cls: str | None = NONE):
    """16 samples of each family, timed, with their figures; of one class (conditional models) when one is picked."""
    out, samples, y = [], {}, None if unconditional(cls) else int(cls)
    for family in compare.FAMILIES:
        name = compare.model_for(family, DATASETS[ds], conditional=y is not None)
        if name is None:
            out += [None, f"### {family}\nno class-conditional {family} here: pick class 'none' to see it."]
            continue
        try:
            s = compare.sample_timed(name, N, int(seed), label="all" if y is None else y)
        except Exception as e:  # noqa: BLE001 - one missing model must not blank the other two
            out += [None, f"### {family}\nunavailable: {e}"]
            continue
        samples[family] = s.images
        g = grid(s.images, 4)
        hits = "" if y is None else (f"  \nthese {N}: the classifier sees class {y} in "
                                     f"**{(compare.classify(s.images, DATASETS[ds]) == y).sum()} of {N}**")
        out += [image(g, max(g.shape) * SCALE), _card(family, name, s.seconds, hits)]
    return (*out, samples)


def neighbours(ds: str, samples: dict, family: str, evt: gr.SelectData):
    """Click a sample: its 5 nearest training images and how far they are, against real test images."""
    if family not in samples:
        raise gr.Error("Press 'Sample' first.")
    col, row = (min(3, max(0, int((v / SCALE - 2) // CELL))) for v in evt.index)  # evt.index: shown pixels
    sample = samples[family][row * 4 + col]
    nb = compare.nearest_training(sample, DATASETS[ds])
    train, _ = data.train_sample(DATASETS[ds])
    strip = np.concatenate([sample[None], train[nb.index]])
    verdict = {"copy": "**a near copy** of a training image",
               "new": "**new**: as far from the training set as real test images are",
               "close": "close to a training image, but not a copy"}[compare.memorisation(nb)]
    md = (f"{family} sample {row * 4 + col}: nearest training images at pixel distances "
          f"{', '.join(f'{d:.0f}' for d in nb.distance)}. Real test images lie a median {nb.typical:.0f} "
          f"from their nearest training image. Verdict: {verdict}.")
    return image(grid(strip, 6, pad=2), 4 * (6 * 30 + 2)), md


def _on_select(family: str):
    def handler(ds: str, samples: dict, evt: gr.SelectData):
        return neighbours(ds, samples, family, evt)
    return handler


PROS_CONS = """| claim in the lecture | the number that shows it (above) |
|---|---|
| GAN: sampling is simple and fast, one pass of G | GAN's time: one forward pass for all 16 |
| GAN: sharper samples than a VAE | GAN's FID below the VAE's; compare the grids |
| GAN: no likelihood | "likelihood: none" |
| GAN: hard training, mode collapse | rarest class; the GAN tab's minimax run |
| VAE: explicit model, a bound on log p(x) | the test ELBO in nats |
| VAE: blurry samples | VAE's FID is the highest of the three |
| DDPM: highest sample quality | DDPM's FID is the lowest, nearest the real-vs-real baseline |
| DDPM: sampling is slow (T = 1000 steps) | even DDIM with 50 steps is the slowest; the DDPM tab times all 1000 |
"""


def build(demo: gr.Blocks) -> None:
    gr.Markdown(missing([p.format(d) for p in compare.FAMILIES.values() for d in DATASETS.values()]),
                elem_classes="banner")
    with gr.Row():
        ds = gr.Radio(list(DATASETS), value=DATASET, label="Dataset", elem_id="compare-dataset")
        seed = gr.Number(0, label="seed", precision=0, minimum=0, elem_id="compare-seed")
        cls = gr.Dropdown(class_choices(DATASET), value=NONE,
                          label="class y (conditional models)", elem_id="compare-class")
        go = gr.Button("Sample 16 from each, timed", variant="primary")
    outs, grids = [], {}
    with gr.Row():
        for family in compare.FAMILIES:
            with gr.Column(min_width=300):
                grids[family] = gr.Image(label=f"{family} samples (click one: nearest training images)",
                                         format="png", elem_classes="crisp", interactive=False, height=380,
                                         elem_id=f"compare-{family.lower()}")
                outs += [grids[family], gr.Markdown(elem_classes="numbers")]
    samples = gr.State({})
    with gr.Row():
        nn_img = gr.Image(label="the sample, then its 5 nearest training images", format="png",
                          elem_classes="crisp", interactive=False, height=160)
        nn_md = gr.Markdown()
    gr.Markdown(PROS_CONS)
    go.click(run, [ds, seed, cls], [*outs, samples], api_name="compare_sample", **HEAVY)
    # .input, not .change: values set by a lecture link are drawn once, by the first view below
    ds.input(lambda d: gr.Dropdown(choices=class_choices(d)), ds, cls, api_name=False).then(
        run, [ds, seed, cls], [*outs, samples], api_name=False, **HEAVY)
    cls.input(run, [ds, seed, cls], [*outs, samples], api_name=False, **HEAVY)
    for family, g in grids.items():
        g.select(_on_select(family), [ds, samples], [nn_img, nn_md], api_name=False)
    links.on_load("compare", lambda d: gr.Dropdown(choices=class_choices(d)), ds, cls, api_name=False)
    links.on_load("compare", run, [ds, seed, cls], [*outs, samples], api_name=False, **HEAVY)
    links.register("compare", ds=ds, seed=seed, y=cls)

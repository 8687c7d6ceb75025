"""The memorisation verdict (gen.compare.memorisation), on the scale of real test images."""
from __future__ import annotations

import numpy as np
import pytest

from gen import compare


def neighbours(nearest: float, typical: float = 1000.0) -> compare.Neighbours:
    return compare.Neighbours(np.arange(5), np.array([nearest, 1100, 1200, 1300, 1400], float), typical)


@pytest.mark.parametrize("nearest, verdict", [(0.0, "copy"), (499.0, "copy"), (500.0, "close"), (800.0, "close"),
                                              (801.0, "new"), (1500.0, "new")])
def test_memorisation_verdict_thresholds(nearest, verdict):
    assert compare.memorisation(neighbours(nearest)) == verdict


def test_memorisation_of_a_training_image_itself_is_a_copy():
    from gen import data

    x, _ = data.train_sample("mnist")
    assert compare.memorisation(compare.nearest_training(x[3], "mnist")) == "copy"


@pytest.mark.parametrize("name", ["ddpm-mnist", "ddpm-fashion"])
def test_a_ddpm_card_headlines_the_fid_of_the_chain_it_shows(name):
    from gen import hub
    from gen.sample import sampler_label
    from gen.ui.common import sampler_words
    from gen.ui.compare_tab import _card, _shown  # the tab shows generate's DDIM-50: its figures head the card

    m = hub.read_json(name, "metrics.json")
    row = next(r for r in [m, *m["samplers"]] if r["sampler"] == sampler_label(name))
    card = _card("DDPM", name, 1.0)
    assert f"FID **{row['fid']:.1f} (real vs real {row['fid_real_vs_real']:.1f})**" in card
    assert f"sampled with {sampler_words(row['sampler'])}" in card
    assert f"rarest class **{row['min_class_fraction']:.1%}**" in card
    assert "sampled with" not in _card("GAN", "gan-mnist", 1.0)
    own = {"sampler": "ddpm", "fid": 5.0, "samplers": [{**row, "sampler": "ddim-200, eta 1"}]}
    assert _shown(name, own) is own  # the shown chain not measured: the card's own figures, with their chain


@pytest.mark.parametrize("name", ["ddpm-mnist", "ddpm-fashion"])
def test_a_ddpm_card_shows_the_fid_of_the_ddim_50_chain_it_samples_with(name):
    from gen import hub
    from gen.ui.common import sampler_fids
    from gen.ui.compare_tab import _card

    card = _card("DDPM", name, 1.0)
    shown = sampler_fids(name, hub.read_json(name, "metrics.json"))
    assert shown in card and "DDIM-50, η 0 **" in card  # the chain of the samples shown beside it

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


@pytest.mark.parametrize("name, words", [("ddpm-mnist", "sampled with Algorithm 2 (all T steps)"),
                                         ("ddpm-fashion", "sampled with DDIM-200, η 1")])
def test_a_ddpm_card_says_which_chain_its_fid_was_measured_on(name, words):
    from gen.ui.compare_tab import _card  # the tab shows DDIM-50 samples; the FID may be of another chain

    assert words in _card("DDPM", name, 1.0)
    assert "sampled with" not in _card("GAN", "gan-mnist", 1.0)


@pytest.mark.parametrize("name", ["ddpm-mnist", "ddpm-fashion"])
def test_a_ddpm_card_shows_the_fid_of_the_ddim_50_chain_it_samples_with(name):
    from gen import hub
    from gen.ui.common import sampler_fids
    from gen.ui.compare_tab import _card

    card = _card("DDPM", name, 1.0)
    shown = sampler_fids(name, hub.read_json(name, "metrics.json"))
    assert shown in card and "DDIM-50, η 0 **" in card  # the chain of the samples shown beside it

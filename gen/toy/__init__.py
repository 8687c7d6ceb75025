"""The training playground: 2-D toy data, tiny MLP models of all three families, their trainers, and frames.

    data.py          the toy data sets (ring, moons, spiral, ...), chamfer distance, ring mode coverage
    models.py        Generator2D, Discriminator2D, EpsMLP, VAE2D
    trainers.py      GANTrainer, DDPMTrainer, VAETrainer (one lecture line per step) and their Settings
    views/frames.py  a frame as numbers (points, arrows, D's heat map, curves) for the browser to draw
    views/drawing.py the "Your own data" canvas (PIL: it takes clicks)

Everything trains live on a 2-core CPU. No Gradio here: gen/ui/playground_tab.py wires this to the browser.
"""
from gen.toy.data import (
                          DATASETS,
                          LABELS,
                          RING_RADIUS,
                          RING_STD,
                          R,
                          ToyData,
                          chamfer,
                          make_data,
                          nn_distance,
                          ring_centres,
                          ring_coverage,
)
from gen.toy.models import VAE2D, Discriminator2D, EpsMLP, Generator2D
from gen.toy.trainers import (
                          CAP,
                          DDPMSettings,
                          DDPMTrainer,
                          GANSettings,
                          GANTrainer,
                          History,
                          Settings,
                          Trainer,
                          VAESettings,
                          VAETrainer,
                          toy_schedule,
)
from gen.toy.views import drawing, frames

__all__ = ["CAP", "DATASETS", "LABELS", "R", "RING_RADIUS", "RING_STD", "VAE2D", "DDPMSettings", "DDPMTrainer",
           "Discriminator2D", "EpsMLP", "GANSettings", "GANTrainer", "Generator2D", "History", "Settings", "ToyData",
           "Trainer", "VAESettings", "VAETrainer", "chamfer", "drawing", "frames", "make_data", "nn_distance",
           "ring_centres", "ring_coverage", "toy_schedule"]

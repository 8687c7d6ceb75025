"""Average the weights of trained models (a model soup, Wortsman et al. 2022):
`python train/soup.py --out DIR runs/a/out:0.5 checkpoints/gan-fashion:0.5`.

The ingredients must share one architecture (config.json) and one starting point (fine-tuned from the same weights):
averaging only works where the loss is low all along the line between them. A GAN's soup is of G; `--d FOLDER` ships
that discriminator beside it (averaging spectral normalisation's power-iteration vectors would break D's sigma).
The card names each ingredient with its weight and the command that trained it."""
import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from safetensors.torch import load_file, save_file

from gen.training import command, continued_from, write_card


def lineage(t: dict) -> tuple[str, list[str]]:
    """A model's name with its epoch (or step), and every run that trained it, in order, with hardware and command."""
    unit, done = ("epochs", t["epochs_done"]) if "epochs_done" in t else ("steps", t["steps"])
    return f"{t['name']} at {unit[:-1]} {done}", continued_from(t, unit, done)["continued_from"].split(" then ")


p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("ingredients", nargs="+", metavar="FOLDER:WEIGHT", help="exported model folders and their weights "
               "(summing to 1)")
p.add_argument("--out", required=True, help="the soup's folder (may be one of the ingredients: all are read first)")
p.add_argument("--d", default=None, help="GANs: the discriminator folder to ship beside the soup as OUT-D")
args = p.parse_args()
folders, weights = zip(*((Path(f), float(w)) for f, w in (i.rsplit(":", 1) for i in args.ingredients)))
if abs(sum(weights) - 1) > 1e-6:
    raise SystemExit(f"the weights sum to {sum(weights):g}, not 1")
configs = [(f / "config.json").read_bytes() for f in folders]
if any(json.loads(c) != json.loads(configs[0]) for c in configs):
    raise SystemExit("the ingredients have different config.json: a soup needs one architecture")
states = [load_file(str(f / "model.safetensors")) for f in folders]
trainings = [json.loads((f / "training.json").read_text()) for f in folders]
# sum_i w_i theta_i, in float64; integer buffers (BatchNorm's step counter, unused in eval) are cast back
soup = {k: sum(w * s[k].double() for w, s in zip(weights, states)).to(states[0][k].dtype).contiguous()
        for k in states[0]}
labels, runs = zip(*map(lineage, trainings))
n = next((i for i, r in enumerate(zip(*runs)) if len(set(r)) > 1), min(map(len, runs)))  # the runs all share
recipe = " + ".join(f"{w:g} x ({label}: {' then '.join(r[n:]) or 'the runs above'})"
                    for label, w, r in zip(labels, weights, runs))
info = {**trainings[0], "command": command(), "continued_from": " then ".join(runs[0][:n]), "soup": recipe,
        "train_seconds": max(t["train_seconds"] for t in trainings),  # they share their past: the longest lineage
        "ablation": next((t["ablation"] for t in trainings if t.get("ablation")), [])}  # the card's table goes on
for k in ("first_epoch_of_this_run", "first_step_of_this_run"):
    info.pop(k, None)
info["description"] = (info.get("description", "") + " Shipped as a model soup (Wortsman et al. 2022): the weighted "
                       f"average of {len(folders)} models fine-tuned from the same weights.")
d_files = {}  # read before anything is written: --d may be OUT-D itself
if args.d:
    d_files = {name: Path(args.d, name).read_bytes() for name in ("config.json", "model.safetensors", "training.json")}

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
save_file(soup, str(out / "model.safetensors"))
(out / "config.json").write_bytes(configs[0])
(out / "training.json").write_text(json.dumps(info, indent=2))
(out / "metrics.json").unlink(missing_ok=True)  # an ingredient's figures are not the soup's: measure it again
write_card(out)
if d_files:
    out_d = Path(str(out) + "-D")
    shutil.rmtree(out_d, ignore_errors=True)
    out_d.mkdir(parents=True)
    for name, blob in d_files.items():
        (out_d / name).write_bytes(blob)
    write_card(out_d)
print(f"{out}: {recipe}")

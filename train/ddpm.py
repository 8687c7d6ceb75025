"""Train a DDPM noise predictor with Algorithm 1 (L_simple) and an EMA of the weights.

`python train/ddpm.py --dataset mnist`
"""
import json
import math
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from PIL import Image
from tqdm import tqdm

from gen import diffusion
from gen.images import grid, to_uint8
from gen.training import EMA, Clock, batches, export, load_state, parser, save_state, setup
from gen.unet import UNet

p = parser(__doc__, epochs=0, batch=128, lr=2e-4)
p.add_argument("--steps", type=int, default=40_000, help="gradient steps (the budget; --epochs is ignored)")
p.add_argument("--T", type=int, default=1000)
p.add_argument("--schedule", choices=["linear", "cosine"], default="linear")
p.add_argument("--ch", type=int, default=32)
p.add_argument("--ema", type=float, default=0.9995)
p.add_argument("--every", type=int, default=2000, help="save state and a sample grid every this many steps")
p.add_argument("--init", default=None, help="start from an exported model folder (its EMA weights), e.g. to "
               "continue training on other hardware; the optimiser starts fresh")
p.add_argument("--cosine", action="store_true", help="anneal the learning rate to 0 by --steps or by the end of "
               "--max-minutes, whichever comes first (a final phase)")
p.add_argument("--bf16", action="store_true", help="bfloat16 autocast on CPU too (about 1.7x faster where the CPU "
               "has AVX512-BF16; always on for CUDA)")
args = p.parse_args()
x, _ = setup(args, f"ddpm-{args.dataset}")
x = x * 2 - 1  # diffusion works on [-1, 1]
sch = diffusion.make_schedule(args.schedule, args.T)
model = UNet(args.ch, T=args.T, schedule=args.schedule, dataset=args.dataset).to(args.device)
ema = EMA(model, args.ema)
opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
step, spent, history, first = 0, 0.0, [], 0  # first: where this run started (the cosine schedule spans the rest)
provenance = {}  # with --init: the earlier run(s), so the model card names all the hardware that trained it
if state := load_state(args.state):
    model.load_state_dict(state["model"]), ema.model.load_state_dict(state["ema"]), opt.load_state_dict(state["opt"])
    step, spent, history = state["step"], state["seconds"], state["history"]
    first, provenance = state.get("first", 0), state.get("provenance", {})
    print(f"resumed from {args.state} at step {step}")
elif args.init:
    from gen.hub import _from_folder  # the same safetensors loading the app uses

    init = _from_folder(UNet, Path(args.init), args.init).state_dict()
    model.load_state_dict(init), ema.model.load_state_dict(init)
    prev = json.loads((Path(args.init) / "training.json").read_text())
    step, spent, history = prev["steps"], prev["train_seconds"], prev["history"]
    first = step
    earlier = f"steps {prev.get('first_step_of_this_run', 0)}-{step} on {prev['hardware']}: {prev['command']}"
    provenance = {"continued_from": " then ".join(filter(None, [prev.get("continued_from"), earlier])),
                  "first_step_of_this_run": step}
    print(f"initialised from {args.init} (step {step}); optimiser state starts fresh")
clock = Clock(spent, args.max_minutes)
if args.cosine:  # the learning rate reaches 0 at --steps or at the end of --max-minutes, whichever comes first
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(
        1.0, max((step - first) / max(1, args.steps - first), clock.fraction())))))
cuda = args.device.startswith("cuda")
amp = torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=cuda or args.bf16)  # mixed precision
samples_dir = args.run_dir / Path(f"{args.name}-samples")
samples_dir.mkdir(parents=True, exist_ok=True)


def save() -> None:
    with torch.no_grad():  # a fixed-seed DDIM grid from the EMA weights, to watch training
        x0 = diffusion.ddim_sample(ema.model, sch, diffusion.noise((64, 1, 28, 28), 0).to(args.device), 50)
    Image.fromarray(grid(to_uint8(x0, signed=True), 8)).save(samples_dir / f"step-{step:06d}.png")
    save_state(args.state, model=model.state_dict(), ema=ema.model.state_dict(), opt=opt.state_dict(), step=step,
               seconds=clock.seconds, history=history, first=first, provenance=provenance)


bar = tqdm(total=args.steps, initial=step, mininterval=2)
running, epoch = (history[-1]["loss"] if history else 0.0), step * args.batch // len(x)
while step < args.steps and not clock.out_of_time():
    for idx in batches(len(x), args.batch, args.device, args.seed, epoch):
        with amp:  # Algorithm 1: x0 ~ q(x0), t ~ U{1..T}, eps ~ N(0, I), step on ||eps - eps_theta||^2
            loss = diffusion.loss_simple(model, x[idx], sch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if args.cosine:
            sched.step()
        ema.update(model, step)
        step += 1
        running = 0.99 * running + 0.01 * loss.item() if running else loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}")
        if step % 500 == 0:
            history.append({"step": step, "loss": round(running, 5)})
        if step % args.every == 0:
            save()
        if step >= args.steps or clock.out_of_time():
            break
    epoch += 1
save()
args.epochs = round(step * args.batch / len(x), 1)
args.out.mkdir(parents=True, exist_ok=True)
shutil.copy(samples_dir / f"step-{step:06d}.png", args.out / "samples.png")
export(ema.model, args, clock, n_train=len(x), steps=step, T=args.T, schedule=args.schedule, ema_decay=args.ema,
       final_loss=round(running, 5), history=history, **provenance,
       description=f"A {sum(q.numel() for q in model.parameters()) / 1e6:.2f}M-parameter U-Net noise predictor "
       f"eps_theta(x_t, t) for {args.dataset}, trained with Algorithm 1 (L_simple), {args.schedule} schedule, "
       f"T={args.T}; these are the EMA weights. `samples.png`: 64 DDIM-50 samples at the end of training.")

"""Train a DDPM noise predictor with Algorithm 1 (L_simple) and an EMA of the weights.

`python train/ddpm.py --dataset mnist`; `--cond` trains eps_theta(x_t, t, y) for classifier-free guidance
(ddpm-cond-<dataset>), e.g. from the unconditional weights: `--cond --init checkpoints/ddpm-mnist`.
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

from gen import diffusion, hub
from gen.images import grid, to_uint8
from gen.training import (
    EMA,
    Clock,
    autocast,
    backward_in_chunks,
    batches,
    continued_from,
    export,
    is_main,
    load_optimizer,
    load_state,
    parser,
    save_state,
    setup,
    wrap,
)
from gen.unet import UNet

p = parser(__doc__, epochs=0, batch=128, lr=2e-4, bf16=True)
p.add_argument("--steps", type=int, default=40_000, help="gradient steps (the budget; --epochs is ignored)")
p.add_argument("--T", type=int, default=1000)
p.add_argument("--schedule", choices=["linear", "cosine"], default="linear")
p.add_argument("--ch", type=int, default=32)
p.add_argument("--ema", type=float, default=0.9995)
p.add_argument("--dropout", type=float, default=0.0, help="dropout in each residual block while training (Ho et al. "
               "use 0.1 on CIFAR-10): against overfitting a small training set")
p.add_argument("--input-perturbation", type=float, default=0.0, metavar="GAMMA", help="x_t from eps + GAMMA xi, "
               "target eps (Ning et al. 2023 use 0.1): against the exposure bias of few-step samplers")
p.add_argument("--micro-batch", type=int, default=None, help="compute each batch's gradient this many images "
               "at a time (the same gradient; default: 64 on a CPU, where that is 1.4x faster than 256 at once, the "
               "whole batch on a GPU)")
p.add_argument("--every", type=int, default=2000, help="save state and a sample grid every this many steps")
p.add_argument("--init", default=None, help="start from an exported model folder (its EMA weights), e.g. to "
               "continue training on other hardware; the optimiser starts fresh")
p.add_argument("--cosine", action="store_true", help="anneal the learning rate to 0 by --steps or by the end of "
               "--max-minutes, whichever comes first (a final phase)")
p.add_argument("--cond", action="store_true", help="class-conditional, for classifier-free guidance")
p.add_argument("--p-uncond", type=float, default=0.15, help="--cond: probability that a label is dropped (null)")
p.add_argument("--guidance", type=float, default=1.0, help="--cond: guidance weight w of the progress grids")
p.add_argument("--emb-lr-mult", type=float, default=10.0, help="--cond: the class embedding's learning rate, as a "
               "multiple of --lr")
args = p.parse_args()
x, y = setup(args, f"ddpm{'-cond' if args.cond else ''}-{args.dataset}")
x = x * 2 - 1  # diffusion works on [-1, 1]
sch = diffusion.make_schedule(args.schedule, args.T)
model = UNet(args.ch, T=args.T, schedule=args.schedule, dataset=args.dataset,
             num_classes=10 if args.cond else 0, dropout=args.dropout).to(args.device)
ema = EMA(model, args.ema)
# the class embedding starts at zero beside trained weights: it gets a larger step size to catch up
emb = [model.y_emb.weight] if args.cond else []
rest = [q for q in model.parameters() if all(q is not e for e in emb)]
opt = torch.optim.AdamW([{"params": rest}] + ([{"params": emb, "lr": args.lr * args.emb_lr_mult}] if emb else []),
                        lr=args.lr, weight_decay=0.0)
# first: where this run started (the cosine schedule spans the rest)
step, history, first, clock = 0, [], 0, Clock(0.0, args.max_minutes)
provenance = {}  # with --init: the earlier run(s), so the model card names all the hardware that trained it
if state := load_state(args.state):
    model.load_state_dict(state["model"]), ema.model.load_state_dict(state["ema"])
    load_optimizer(opt, state["opt"], args.lr, *[args.lr * args.emb_lr_mult] * bool(emb))
    step, history, clock = state["step"], state["history"], Clock.resume(state, args.max_minutes)
    first, provenance = state.get("first", 0), state.get("provenance", {})
    print(f"resumed from {args.state} at step {step}")
elif args.init:
    from gen.hub import _from_folder  # the same safetensors loading the app uses

    init = _from_folder(UNet, Path(args.init), args.init).state_dict()
    # an unconditional model may start a conditional one: only the (zero-initialised) class embedding is new
    new = set(model.load_state_dict(init, strict=False).missing_keys)
    if new - {"y_emb.weight"}:
        raise SystemExit(f"{args.init} does not fit this U-Net: missing {sorted(new)}")
    ema.model.load_state_dict(model.state_dict())
    prev = json.loads((Path(args.init) / "training.json").read_text())
    step, history, clock = prev["steps"], prev["history"], Clock(prev["train_seconds"], args.max_minutes)
    first, provenance = step, continued_from(prev, "steps", step)
    print(f"initialised from {args.init} (step {step}); optimiser state starts fresh")
net = wrap(model)  # DDP under torchrun: train through net; the EMA, saved state and export use model itself
if args.cosine:  # the learning rate reaches 0 at --steps or at the end of --max-minutes, whichever comes first
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(
        1.0, max((step - first) / max(1, args.steps - first), clock.fraction())))))
amp = autocast(args)
micro = args.micro_batch or (64 if args.device == "cpu" else None)
samples_dir = args.run_dir / Path(f"{args.name}-samples")


def save() -> None:
    if not is_main():
        return  # rank 0 alone draws the grid and writes
    samples_dir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():  # a fixed-seed DDIM grid from the EMA weights, to watch training
        n, eps = (80, diffusion.Guidance(ema.model, torch.arange(80, device=args.device) % 10, args.guidance,
                                         ema.model.null_class)) if args.cond else (64, ema.model)
        x0 = diffusion.ddim_sample(eps, sch, diffusion.noise((n, 1, 28, 28), 0).to(args.device), 50)
    Image.fromarray(grid(to_uint8(x0, signed=True), 10 if args.cond else 8)).save(samples_dir / f"step-{step:06d}.png")
    save_state(args.state, model=model.state_dict(), ema=ema.model.state_dict(), opt=opt.state_dict(), step=step,
               history=history, first=first, provenance=provenance, **clock.state())


def loss_of(i: torch.Tensor) -> torch.Tensor:
    """L_simple on the images x[i]: x0 ~ q(x0), t ~ U{1..T}, eps ~ N(0, I) (Algorithm 1)."""
    labels = diffusion.drop_labels(y[i], args.p_uncond, model.null_class) if args.cond else None
    return diffusion.loss_simple(net, x[i], sch, labels, args.input_perturbation)


bar = tqdm(total=args.steps, initial=step, mininterval=2, disable=not is_main())
running, epoch = (history[-1]["loss"] if history else 0.0), step * args.batch * args.world // len(x)
while step < args.steps and not clock.out_of_time():
    for idx in batches(len(x), args.batch, args.device, args.seed, epoch):
        opt.zero_grad(set_to_none=True)  # Algorithm 1: a gradient step on ||eps - eps_theta||^2
        loss = backward_in_chunks(net, loss_of, idx, micro, amp)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if args.cosine:
            sched.step()
        ema.update(model, step)
        step += 1
        running = 0.99 * running + 0.01 * loss if running else loss
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
if not is_main():
    sys.exit()  # rank 0 alone exports
args.epochs = round(step * args.batch * args.world / len(x), 1)
args.out.mkdir(parents=True, exist_ok=True)
shutil.copy(samples_dir / f"step-{step:06d}.png", args.out / "samples.png")
cond = dict(num_classes=10, p_uncond=args.p_uncond) if args.cond else {}
if guided := hub.guided_model(args.name):  # a weak model (its registry entry): say what it is for
    description = (f"The weak model that autoguides {guided} (Karras et al. 2024): a deliberately small "
                   f"(ch {args.ch}) U-Net noise predictor eps_weak(x_t, t), trained briefly with Algorithm 1 "
                   f"(L_simple), {args.schedule} schedule, T={args.T}; these are the EMA weights. It is not sampled "
                   f"alone (`samples.png`: its own DDIM-50 samples); {guided} steps away from it: "
                   "eps~ = (1 + w) eps_theta - w eps_weak (gen.diffusion.AutoGuidance).")
else:
    description = (f"A {sum(q.numel() for q in model.parameters()) / 1e6:.2f}M-parameter U-Net noise predictor "
                   f"eps_theta(x_t, t{', y' if args.cond else ''}) for {args.dataset}, trained with Algorithm 1 "
                   f"(L_simple), {args.schedule} schedule, T={args.T}"
                   + (f", class-conditional with the label dropped (null) with probability {args.p_uncond} for "
                      "classifier-free guidance (Ho & Salimans 2022)" if args.cond else "")
                   + "; these are the EMA weights. `samples.png`: DDIM-50 samples at the end of training"
                   + (f" (column = class 0..9, guidance w = {args.guidance:g})." if args.cond else "."))
export(ema.model, args, clock, n_train=len(x), steps=step, T=args.T, schedule=args.schedule, ema_decay=args.ema, **cond,
       final_loss=round(running, 5), history=history, **provenance, description=description)

"""Train a VAE (--ae: the plain autoencoder) by maximising the ELBO.

`python train/vae.py --dataset mnist --latent 2`
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from tqdm import tqdm

from gen.training import Clock, batches, export, is_main, load_state, n_batches, parser, save_state, setup, wrap
from gen.vae import VAE

p = parser(__doc__, epochs=60, batch=128, lr=1e-3)
p.add_argument("--latent", type=int, default=2)
p.add_argument("--ae", action="store_true", help="plain autoencoder: no KL term, point codes")
args = p.parse_args()
x, _ = setup(args, f"{'ae' if args.ae else 'vae'}{args.latent}-{args.dataset}")
model = VAE(args.latent, dataset=args.dataset, variational=not args.ae).to(args.device)
opt = torch.optim.Adam(model.parameters(), lr=args.lr)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
start, history, clock = 0, [], Clock(0.0, args.max_minutes)
if state := load_state(args.state):
    model.load_state_dict(state["model"]), opt.load_state_dict(state["opt"]), sched.load_state_dict(state["sched"])
    start, history, clock = state["epoch"], state["history"], Clock.resume(state, args.max_minutes)
    print(f"resumed from {args.state} at epoch {start}")
net = wrap(model)  # DDP under torchrun: train through net; saved state and export use model itself
for epoch in range(start, args.epochs):
    model.train()
    tot = torch.zeros(3, device=args.device)
    bar = tqdm(batches(len(x), args.batch, args.device, args.seed, epoch), total=n_batches(len(x), args.batch),
               desc=f"epoch {epoch + 1}/{args.epochs}", mininterval=2, disable=not is_main())
    for idx in bar:
        _, e = net(x[idx])
        loss = -e.elbo.mean()  # maximise the ELBO
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        tot += torch.stack([e.elbo.mean(), e.recon.mean(), e.kl.mean()]).detach()
    sched.step()
    elbo, recon, kl = (tot / n_batches(len(x), args.batch)).tolist()  # rank 0: its shard
    history.append({"epoch": epoch + 1, "elbo": round(elbo, 2), "recon": round(recon, 2), "kl": round(kl, 2)})
    print(f"epoch {epoch + 1}: ELBO {elbo:.2f} = log p(x|z) {recon:.2f} - KL {kl:.2f} nats/image")
    save_state(args.state, model=model.state_dict(), opt=opt.state_dict(), sched=sched.state_dict(),
               epoch=epoch + 1, history=history, **clock.state())
    if clock.out_of_time():
        break
if not is_main():
    sys.exit()  # rank 0 alone exports
kind = "plain autoencoder (no KL term; the lecture's 'can we generate with an AE?')" if args.ae else "VAE"
export(model, args, clock, n_train=len(x), epochs_done=len(history), latent_dim=args.latent,
       final_train_elbo=history[-1]["elbo"], history=history,
       description=f"An MLP {kind} with a {args.latent}-d latent on {args.dataset}, Bernoulli decoder; "
       "ELBO and its terms in nats per image.")

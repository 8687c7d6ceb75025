"""Train a DCGAN with Algorithm 1 of Goodfellow et al. (k D steps per G step): `python train/gan.py --dataset mnist`."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from PIL import Image
from tqdm import tqdm

from gen.gan import Discriminator, Generator, d_loss, g_loss
from gen.images import grid, to_uint8
from gen.latent import seed_to_z
from gen.training import Clock, batches, export, load_state, parser, save_state, setup

p = parser(__doc__, epochs=40, batch=128, lr=2e-4)
p.add_argument("--k", type=int, default=1, help="discriminator steps per generator step")
p.add_argument("--loss", choices=["non-saturating", "minimax"], default="non-saturating")
p.add_argument("--z-dim", type=int, default=64)
p.add_argument("--init", default=None, help="start from an exported model folder (G; its -D beside it), "
               "e.g. to continue training on other hardware")
p.add_argument("--snapshots", default="1,2,5,10,20,40", help="epochs whose fixed-seed sample grid is kept")
args = p.parse_args()
x, _ = setup(args, f"gan{'-minimax' if args.loss == 'minimax' else ''}-{args.dataset}")
x = x * 2 - 1  # the generator's tanh range
G, D = Generator(args.z_dim, dataset=args.dataset).to(args.device), Discriminator(dataset=args.dataset).to(args.device)
opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=args.lr, betas=(0.5, 0.999))
fixed_z = seed_to_z(1234, args.z_dim, 64).to(args.device)
start, history, spent, snaps = 0, [], 0.0, {}
if state := load_state(args.state):
    for obj, key in ((G, "G"), (D, "D"), (opt_g, "opt_g"), (opt_d, "opt_d")):
        obj.load_state_dict(state[key])
    start, history, spent, snaps = state["epoch"], state["history"], state["seconds"], state["snaps"]
    print(f"resumed from {args.state} at epoch {start}")
if args.init and not state:
    from gen.hub import _from_folder  # noqa: E402 - the same safetensors loading the app uses

    G.load_state_dict(_from_folder(Generator, Path(args.init), args.init).state_dict())
    D.load_state_dict(_from_folder(Discriminator, Path(args.init + "-D"), args.init + "-D").state_dict())
    prev = json.loads((Path(args.init) / "training.json").read_text())
    start, history, spent = prev["epochs_done"], prev["history"], prev["train_seconds"]
    print(f"initialised from {args.init} (epoch {start}); optimiser state starts fresh")
clock = Clock(spent, args.max_minutes)
keep = {int(e) for e in args.snapshots.split(",")}
step = start * (len(x) // args.batch)
for epoch in range(start, args.epochs):
    G.train(), D.train()
    tot = torch.zeros(4, device=args.device)
    n = 0
    for idx in tqdm(batches(len(x), args.batch, args.device, args.seed, epoch), total=len(x) // args.batch,
                    desc=f"epoch {epoch + 1}/{args.epochs}", mininterval=2):
        # Discriminator step: ascend log D(x) + log(1 - D(G(z)))
        z = torch.randn(len(idx), args.z_dim, device=args.device)
        real_logits, fake_logits = D(x[idx]), D(G(z).detach())
        ld = d_loss(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        ld.backward()
        opt_d.step()
        step += 1
        if step % args.k:
            continue  # k discriminator steps per generator step
        # Generator step: descend log(1 - D(G(z))), or ascend log D(G(z)) (non-saturating)
        z = torch.randn(len(idx), args.z_dim, device=args.device)
        lg = g_loss(D(G(z)), args.loss)
        opt_g.zero_grad(set_to_none=True)
        lg.backward()
        opt_g.step()
        tot += torch.stack([ld, lg, torch.sigmoid(real_logits).mean(), torch.sigmoid(fake_logits).mean()]).detach()
        n += 1
    ld_, lg_, dx, dgz = (tot / max(1, n)).tolist()
    history.append({"epoch": epoch + 1, "d_loss": round(ld_, 4), "g_loss": round(lg_, 4),
                    "D_x": round(dx, 4), "D_G_z": round(dgz, 4)})
    print(f"epoch {epoch + 1}: D loss {ld_:.3f}  G loss {lg_:.3f}  D(x) {dx:.3f}  D(G(z)) {dgz:.3f}")
    if epoch + 1 in keep or epoch + 1 == args.epochs:
        G.eval()
        with torch.no_grad():
            snaps[str(epoch + 1)] = torch.from_numpy(grid(to_uint8(G(fixed_z), signed=True), 8))
    save_state(args.state, G=G.state_dict(), D=D.state_dict(), opt_g=opt_g.state_dict(), opt_d=opt_d.state_dict(),
               epoch=epoch + 1, history=history, seconds=clock.seconds, snaps=snaps)
    if clock.out_of_time():
        break
info = dict(n_train=len(x), epochs_done=len(history), k=args.k, loss=args.loss, z_dim=args.z_dim, history=history)
desc = (f"DCGAN {{}} on {args.dataset}, trained with Algorithm 1 (k={args.k}) and the {args.loss} generator loss. "
        "Seed s gives z = torch.randn(1, z_dim, generator=torch.Generator().manual_seed(s)).")
export(G, args, clock, description=desc.format("generator"), **info)
args.out.joinpath("snapshots").mkdir(exist_ok=True)
for ep, g in snaps.items():  # training progress: fixed-seed grids by epoch
    Image.fromarray(g.numpy()).save(args.out / "snapshots" / f"epoch-{int(ep):03d}.png")
if args.loss == "non-saturating":  # the discriminator ships too: the tab shows its verdicts
    args.name, args.out = args.name + "-D", Path(str(args.out) + "-D")
    export(D, args, clock, description=desc.format("discriminator"), **info)

"""Train a DCGAN with Algorithm 1 of Goodfellow et al. (k D steps per G step): `python train/gan.py --dataset mnist`.

`--cond` trains the class-conditional GAN G(z, y) with a projection discriminator D(x, y) (as cgan-<dataset>), shipped
with `--loss hinge --ema 0.999 --lr-d 4e-4 --mismatch`; Fashion-MNIST's starts from the unconditional GAN (`--init
checkpoints/gan-fashion`: y's input weights start at 0) with `--ms 0.1`, as from scratch it drew nearly one image per
class. `--sn` (spectral normalisation) made this shallow D too weak: one image per class."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from PIL import Image
from tqdm import tqdm

from gen import data
from gen.gan import LOSSES, Discriminator, Generator, d_loss, diff_augment, g_loss, mode_seeking
from gen.images import grid, to_uint8
from gen.latent import seed_to_z
from gen.training import (
    EMA,
    Clock,
    autocast,
    batches,
    continued_from,
    export,
    is_main,
    load_optimizer,
    load_state,
    n_batches,
    oversample,
    parser,
    save_state,
    setup,
    wrap,
)

p = parser(__doc__, epochs=40, batch=128, lr=2e-4, bf16=True)
p.add_argument("--k", type=int, default=1, help="discriminator steps per generator step")
p.add_argument("--loss", choices=LOSSES, default="non-saturating")
p.add_argument("--cond", action="store_true", help="class-conditional G(z, y) and projection D(x, y): cgan-<dataset>")
p.add_argument("--sn", action="store_true", help="spectral normalisation in D (instead of BatchNorm)")
p.add_argument("--ema", type=float, default=0, help="ship an exponential moving average of G's weights (decay)")
p.add_argument("--lr-d", type=float, default=None, help="D's learning rate (two time-scale; default --lr)")
p.add_argument("--mismatch", action="store_true", help="conditional: a real image with a wrong label counts as a "
               "fake for D (the matching-aware discriminator of Reed et al. 2016)")
p.add_argument("--ms", type=float, default=0,
               help="weight of the mode-seeking term (Mao et al. 2019): against dropped modes")
p.add_argument("--diffaug", action="store_true", help="DiffAugment (translation, cutout) on every image D sees: "
               "against D memorising a small training set (MNIST here: 10,000 images)")
p.add_argument("--width", type=int, default=64)
p.add_argument("--deep", action="store_true", help="a 3x3 convolution at each resolution of G and D (the shipped "
               "DCGANs have none: two transposed convolutions make G)")
p.add_argument("--z-dim", type=int, default=64)
p.add_argument("--init", default=None, help="start from an exported model folder (G; its -D beside it), "
               "e.g. to continue training on other hardware, or a conditional GAN from an unconditional one; another "
               "dataset's model starts a new run (epoch 0) from its weights (transfer)")
p.add_argument("--oversample", default=None, metavar="CLASS:FACTOR", help="repeat one class's training images, "
               "e.g. 6:3 (Fashion's Shirt three times: the class the unconditional GAN drew least)")
p.add_argument("--snapshots", default="1,2,5,10,20,40", help="epochs whose fixed-seed sample grid is kept")
args = p.parse_args()
loss_tag = "-minimax" if args.loss == "minimax" and not args.cond else ""  # the lecture's minimax G ships beside
x, labels = setup(args, f"{'c' * args.cond}gan{loss_tag}-{args.dataset}")
nc = 10 if args.cond else 0
if args.oversample:
    cls, factor = args.oversample.split(":")
    x, labels = oversample(x, labels, int(cls), float(factor), args.seed)
x = x * 2 - 1  # the generator's tanh range
G = Generator(args.z_dim, args.width, args.dataset, nc, args.deep).to(args.device)
D = Discriminator(args.width, args.dataset, nc, args.sn, args.deep).to(args.device)
opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=args.lr_d or args.lr, betas=(0.5, 0.999))
ema = EMA(G, args.ema) if args.ema else None
G_out = ema.model if ema else G  # the generator that is sampled from and shipped
# snapshots: 64 fixed z; conditional: 10 fixed z (rows) x classes 0..9 (columns)
fixed_z = seed_to_z(1234, args.z_dim, 10).repeat_interleave(10, 0) if nc else seed_to_z(1234, args.z_dim, 64)
fixed_z = fixed_z.to(args.device)
fixed_y = torch.arange(10, device=args.device).repeat(10) if nc else None
start, history, snaps, clock = 0, [], {}, Clock(0.0, args.max_minutes)
provenance = {}  # with --init: the earlier run(s), so the model card names all the hardware that trained it
if state := load_state(args.state):
    G.load_state_dict(state["G"]), D.load_state_dict(state["D"])
    load_optimizer(opt_g, state["opt_g"], args.lr), load_optimizer(opt_d, state["opt_d"], args.lr_d or args.lr)
    if ema:
        ema.model.load_state_dict(state["ema"])
    start, history, snaps = state["epoch"], state["history"], state["snaps"]
    clock = Clock.resume(state, args.max_minutes)
    provenance = state.get("provenance", {})
    print(f"resumed from {args.state} at epoch {start}")
if args.init and not state:
    from gen.hub import _from_folder  # noqa: E402 - the same safetensors loading the app uses

    for m, folder in ((G, args.init), (D, args.init + "-D")):
        sd = _from_folder(type(m), Path(folder), folder).state_dict()
        if m is G and nc and sd["net.0.weight"].shape[1] == args.z_dim:  # an unconditional G starts a conditional
            sd["net.0.weight"] = torch.cat([sd["net.0.weight"], torch.zeros_like(sd["net.0.weight"])], 1)  # y: 0
        r = m.load_state_dict(sd, strict=False)  # an unconditional start leaves the class embeddings as initialised
        if set(r.missing_keys) - {"embed.weight"} or r.unexpected_keys:
            raise SystemExit(f"{folder} does not fit this model: {r}")
    if ema:
        ema.model.load_state_dict(G.state_dict())
    prev = json.loads((Path(args.init) / "training.json").read_text())
    if prev["dataset"] == args.dataset:  # the same run, continued (e.g. on other hardware or at lower rates)
        start, history, clock = prev["epochs_done"], prev["history"], Clock(prev["train_seconds"], args.max_minutes)
        provenance = continued_from(prev, "epochs", start)
    else:  # transfer: another dataset's G and D are the starting point of a run that counts from epoch 0
        provenance = {"initialised_from": f"{prev['name']} ({prev['dataset']}, {prev['epochs_done']} epochs, "
                      f"{prev['train_seconds']:.0f} s on {prev['hardware']}), G and D"}
    print(f"initialised from {args.init} (epoch {start}); optimiser state starts fresh")
amp = autocast(args)
aug = diff_augment if args.diffaug else (lambda im: im)  # D sees only augmented images, real and fake alike
keep = {int(e) for e in args.snapshots.split(",")}
step = start * n_batches(len(x), args.batch)
# DDP under torchrun: train through Gn and Dn; the EMA, saved state and export use G and D themselves. BatchNorm stays
# plain (no SyncBatchNorm): each rank normalises over its own --batch, as a one-process run does; DDP hands rank 0's
# running statistics to every rank at each forward, and rank 0's are the ones saved.
Gn, Dn = wrap(G), wrap(D)


def snapshot(epoch: int) -> None:
    """The fixed-seed sample grid of the generator that ships, kept in the state as the epoch's snapshot."""
    G_out.eval()
    with torch.no_grad():
        snaps[str(epoch)] = torch.from_numpy(grid(to_uint8(G_out(fixed_z, fixed_y), signed=True), 10 if nc else 8))


for epoch in range(start, args.epochs):
    G.train(), D.train()
    tot = torch.zeros(4, device=args.device)
    n = 0
    for idx in tqdm(batches(len(x), args.batch, args.device, args.seed, epoch), total=n_batches(len(x), args.batch),
                    desc=f"epoch {epoch + 1}/{args.epochs}", mininterval=2, disable=not is_main()):
        # Discriminator step: ascend log D(x) + log(1 - D(G(z)))
        z = torch.randn(len(idx), args.z_dim, device=args.device)
        y, yf = (labels[idx], torch.randint(0, nc, (len(idx),), device=args.device)) if nc else (None, None)
        with amp:  # the forward passes in bfloat16 (--bf16, CUDA); the losses on float32 logits
            real_logits, fake_logits = Dn(aug(x[idx]), y).float(), Dn(aug(G(z, yf).detach()), yf).float()
            ld = d_loss(real_logits, fake_logits, args.loss)
            if args.mismatch:  # fakes are half G(z, y), half real x with a wrong label y' != y
                wrong = (y + torch.randint(1, nc, y.shape, device=args.device)) % nc
                ld = (ld + d_loss(real_logits, Dn(aug(x[idx]), wrong).float(), args.loss)) / 2
        opt_d.zero_grad(set_to_none=True)
        ld.backward()
        opt_d.step()
        step += 1
        if step % args.k:
            continue  # k discriminator steps per generator step
        # Generator step: descend log(1 - D(G(z))), or ascend log D(G(z)) (non-saturating)
        z = torch.randn(len(idx), args.z_dim, device=args.device)
        if args.ms and nc:  # mode seeking: the two halves of the batch share their labels
            yf = yf[:len(idx) // 2].repeat(2)
        with amp:
            fake = Gn(z, yf)
            lg = g_loss(Dn(aug(fake), yf).float(), args.loss)
            if args.ms:
                lg = lg + args.ms * mode_seeking(fake.float(), z)
        opt_g.zero_grad(set_to_none=True)
        lg.backward()
        opt_g.step()
        if ema:  # the averaged weights are the ones sampled from and shipped
            ema.update(G, step // args.k)
        tot += torch.stack([ld, lg, torch.sigmoid(real_logits).mean(), torch.sigmoid(fake_logits).mean()]).detach()
        n += 1
    ld_, lg_, dx, dgz = (tot / max(1, n)).tolist()
    history.append({"epoch": epoch + 1, "d_loss": round(ld_, 4), "g_loss": round(lg_, 4),
                    "D_x": round(dx, 4), "D_G_z": round(dgz, 4)})
    print(f"epoch {epoch + 1}: D loss {ld_:.3f}  G loss {lg_:.3f}  D(x) {dx:.3f}  D(G(z)) {dgz:.3f}")
    if epoch + 1 in keep or epoch + 1 == args.epochs or clock.out_of_time():  # the last epoch's grid too
        snapshot(epoch + 1)
    save_state(args.state, G=G.state_dict(), D=D.state_dict(), opt_g=opt_g.state_dict(), opt_d=opt_d.state_dict(),
               epoch=epoch + 1, history=history, snaps=snaps, **clock.state(),
               provenance=provenance, **({"ema": ema.model.state_dict()} if ema else {}))
    if clock.out_of_time():
        break
if not is_main():
    sys.exit()  # rank 0 alone exports
if str(len(history)) not in snaps:  # the shipped epoch's grid, also when a run only exports a finished state
    snapshot(len(history))
info = dict(n_train=len(x), epochs_done=len(history), k=args.k, loss=args.loss, z_dim=args.z_dim, width=args.width,
            conditional=args.cond, spectral_norm=args.sn, diffaug=args.diffaug, deep=args.deep, mismatch=args.mismatch,
            mode_seeking=args.ms, ema=args.ema, **({"oversample": args.oversample} if args.oversample else {}),
            lr_d=args.lr_d or args.lr, **provenance, history=history)
how = [f"the {args.loss} " + ("loss (D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))], G: -E[D(G(z))])"
                              if args.loss == "hinge" else "generator loss")]
how += ["a 3x3 convolution at each resolution of G and D"] * args.deep
how += ["spectral normalisation in D"] * args.sn
how += ["DiffAugment (Zhao et al. 2020: random translation and cutout of every image D sees)"] * args.diffaug
how += ["a matching-aware D (Reed et al. 2016: real images with a wrong label count as fakes)"] * args.mismatch
how += [f"the mode-seeking term (Mao et al. 2019) with weight {args.ms:g}"] * bool(args.ms)
if args.lr_d:  # (a list-repeat would format None first and fail without --lr-d)
    how.append(f"two time-scale learning rates (G {args.lr:g}, D {args.lr_d:g})")
if args.oversample:
    how.append(f"class {cls} ({data.CLASSES[args.dataset][int(cls)]}) repeated {float(factor):g}x in the training set")
how += [f"an exponential moving average of G's weights (decay {args.ema:g}) for sampling"] * bool(args.ema)
what = ("Class-conditional DCGAN {} (Mirza & Osindero 2014: y's embedding concatenated to z in G(z, y); projection "
        "discriminator D(x, y) = psi(phi(x)) + <embed(y), phi(x)>, Miyato & Koyama 2018)" if args.cond else "DCGAN {}")
desc = (f"{what} on {args.dataset}, trained with Algorithm 1 (k={args.k}) and {', '.join(how)}. "
        "Seed s gives z = torch.randn(1, z_dim, generator=torch.Generator().manual_seed(s)).")
export(G_out, args, clock, description=desc.format("generator"), **info)
args.out.joinpath("snapshots").mkdir(exist_ok=True)
for ep, g in snaps.items():  # training progress: fixed-seed grids by epoch
    Image.fromarray(g.numpy()).save(args.out / "snapshots" / f"epoch-{int(ep):03d}.png")
if args.loss != "minimax":  # the discriminator ships too: the tab shows its verdicts
    args.name, args.out = args.name + "-D", Path(str(args.out) + "-D")
    export(D, args, clock, description=desc.format("discriminator"), **info)

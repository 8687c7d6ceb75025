"""Train the small CNN whose features measure sample quality (gen.evaluate).

`python train/classifier.py --dataset mnist`
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
import torch.nn.functional as F
from tqdm import tqdm

from gen import data
from gen.evaluate import Classifier
from gen.images import to_float
from gen.training import Clock, batches, export, is_main, n_batches, parser, setup, wrap

args = parser(__doc__, epochs=8, batch=128, lr=1e-3).parse_args()
x, y = setup(args, f"classifier-{args.dataset}")
model = Classifier(args.dataset).to(args.device)
opt = torch.optim.Adam(model.parameters(), lr=args.lr)
net = wrap(model)  # DDP under torchrun: train through net; export uses model itself
clock, history = Clock(0, args.max_minutes), []
for epoch in range(args.epochs):
    model.train()
    for idx in tqdm(batches(len(x), args.batch, args.device, args.seed, epoch), total=n_batches(len(x), args.batch),
                    desc=f"epoch {epoch + 1}/{args.epochs}", mininterval=2, disable=not is_main()):
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    xt, yt = data.load(args.dataset, "test", args.data, args.data_root)
    with torch.no_grad():
        acc = (model(to_float(xt).to(args.device)).argmax(1).cpu() == torch.as_tensor(yt).long()).float().mean().item()
    history.append({"epoch": epoch + 1, "train_loss": round(loss.item(), 4), "test_accuracy": round(acc, 4)})
    print(history[-1])
    if clock.out_of_time():
        break
if not is_main():
    sys.exit()  # rank 0 alone exports
export(model, args, clock, n_train=len(x), test_accuracy=history[-1]["test_accuracy"], history=history,
       description=f"A small CNN classifier for {args.dataset}; its 128-d penultimate features define the "
       "FID used by `gen.evaluate`, its predictions the class histogram of generated samples.")

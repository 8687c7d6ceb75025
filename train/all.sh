#!/usr/bin/env bash
# Trains every shipped model in parallel on one GPU (or, slowly, the CPU), then measures each
# with gen.evaluate and refreshes its model card. Used once on a lent H200 to make checkpoints/.
#   bash train/all.sh                      # full run, data from data/*.npz
#   SMOKE=1 bash train/all.sh              # a few steps of everything, to test the pipeline
# Env: CKPT (output root, default checkpoints), MIN (minutes per small model), DDPM_MIN, EVAL_N.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-python3}
CKPT=${CKPT:-checkpoints}; RUNS=${RUNS:-runs}; LOGS=${LOGS:-$RUNS/logs}
MIN=${MIN:-4.5}; DDPM_MIN=${DDPM_MIN:-5.5}; EVAL_N=${EVAL_N:-5000}
mkdir -p "$CKPT" "$RUNS" "$LOGS"
export GENLAB_CHECKPOINTS=$CKPT OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
if [ "${SMOKE:-0}" = 1 ]; then E_M=1; E_F=1; GAN_M=2; GAN_F=1; STEPS=40; EVAL_N=200; else
  E_M=60; E_F=30; GAN_M=100; GAN_F=30; STEPS=60000; fi
npz() { echo "data/$([ "$1" = fashion ] && echo fashion_mnist || echo mnist).npz"; }
common() { echo "--dataset $1 --data $(npz "$1") --run-dir $RUNS --max-minutes $MIN"; }
run() { local name=$1; shift; timeout "${LIMIT:-100000}" "$PY" "$@" >"$LOGS/$name.log" 2>&1 \
  || echo "FAILED: $name (see $LOGS/$name.log)"; }

for ds in mnist fashion; do
  [ $ds = mnist ] && { E=$E_M; G=$GAN_M; } || { E=$E_F; G=$GAN_F; }
  run classifier-$ds train/classifier.py $(common $ds) --epochs $([ "${SMOKE:-0}" = 1 ] && echo 1 || echo 10) --out $CKPT/classifier-$ds &
  run vae2-$ds train/vae.py $(common $ds) --latent 2 --epochs $E --out $CKPT/vae2-$ds &
  run vae16-$ds train/vae.py $(common $ds) --latent 16 --epochs $E --out $CKPT/vae16-$ds &
  run gan-$ds train/gan.py $(common $ds) --epochs $G --snapshots 1,2,5,10,20,30,50,100 --out $CKPT/gan-$ds &
  run gan-minimax-$ds train/gan.py $(common $ds) --loss minimax --epochs $G --out $CKPT/gan-minimax-$ds &
  run ddpm-$ds train/ddpm.py $(common $ds) --max-minutes $DDPM_MIN --steps $STEPS --batch 256 --lr 4e-4 \
    --out $CKPT/ddpm-$ds &
done
run ae2-mnist train/vae.py $(common mnist) --latent 2 --ae --epochs $E_M --out $CKPT/ae2-mnist &
wait
echo "training done at $(date +%T)"

export LIMIT=${EVAL_LIMIT:-240}  # an evaluation that hangs must not cost the checkpoints
for m in vae2-mnist vae2-fashion vae16-mnist vae16-fashion ae2-mnist gan-mnist gan-fashion gan-minimax-mnist \
         gan-minimax-fashion ddpm-mnist ddpm-fashion; do
  ds=${m##*-}
  run eval-$m -m gen.evaluate --model $m --n $EVAL_N --data $(npz $ds) --write &
done
wait
echo "evaluation done at $(date +%T)"
grep -h -E '"(fid|fid_real_vs_real|min_class_fraction|test_elbo_nats)"' "$CKPT"/*/metrics.json | paste - - - - | head -20
for f in "$CKPT"/*/metrics.json; do echo "$f: $(tr -d '\n ' < "$f" | cut -c1-300)"; done

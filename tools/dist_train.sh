#!/usr/bin/env bash
# Distributed (DDP) training: tools/dist_train.sh CONFIG NUM_PROCS [train.py options...]
# torchrun starts NUM_PROCS processes; mmengine's launcher='pytorch' joins them (NCCL on GPUs, gloo on
# CPU-only machines). NNODES/NODE_RANK/MASTER_ADDR/PORT work as in the OpenMMLab repos.
set -euo pipefail
CONFIG=$1
NPROCS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
cd "$(dirname "$0")/.."
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --master_port="$PORT" --nproc_per_node="$NPROCS" \
  tools/train.py "$CONFIG" --launcher pytorch "$@"

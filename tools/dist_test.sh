#!/usr/bin/env bash
# Distributed evaluation: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py options...]
# torchrun starts NUM_PROCS processes, each scores its share of the test set; rank 0 prints the
# gathered metrics and writes the one metrics json. Environment as in tools/dist_train.sh.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
NPROCS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
cd "$(dirname "$0")/.."
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --master_port="$PORT" --nproc_per_node="$NPROCS" \
  tools/test.py "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"

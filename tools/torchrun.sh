#!/usr/bin/env bash
# torchrun for the repository's tools: tools/torchrun.sh NUM_PROCS SCRIPT [args...], run from the
# repository root. NNODES/NODE_RANK/MASTER_ADDR/PORT work as in the OpenMMLab repos; PYTHON picks the
# interpreter. Used by tools/dist_train.sh and tools/dist_test.sh.
set -euo pipefail
NPROCS=${1:?usage: tools/torchrun.sh NUM_PROCS SCRIPT [args...]}
shift
: "${1:?usage: tools/torchrun.sh NUM_PROCS SCRIPT [args...]}"
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
cd "$(dirname "$0")/.."
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --master_port="$PORT" --nproc_per_node="$NPROCS" "$@"

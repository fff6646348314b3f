#!/usr/bin/env bash
# Distributed (DDP) training: tools/dist_train.sh CONFIG NUM_PROCS [train.py options...]
# torchrun starts NUM_PROCS processes; mmengine's launcher='pytorch' joins them (NCCL on GPUs, gloo on
# CPU-only machines). NNODES/NODE_RANK/MASTER_ADDR/PORT work as in the OpenMMLab repos
# (tools/torchrun.sh).
set -euo pipefail
USAGE="usage: tools/dist_train.sh CONFIG NUM_PROCS [train.py options...]"
CONFIG=${1:?$USAGE}
NPROCS=${2:?$USAGE}
shift 2
exec bash "$(dirname "$0")/torchrun.sh" "$NPROCS" tools/train.py "$CONFIG" --launcher pytorch "$@"

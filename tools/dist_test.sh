#!/usr/bin/env bash
# Distributed evaluation: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py options...]
# torchrun starts NUM_PROCS processes, each scores its share of the test set; rank 0 prints the
# gathered metrics and writes the one metrics json. Environment as in tools/dist_train.sh.
set -euo pipefail
USAGE="usage: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py options...]"
CONFIG=${1:?$USAGE}
CHECKPOINT=${2:?$USAGE}
NPROCS=${3:?$USAGE}
shift 3
exec bash "$(dirname "$0")/torchrun.sh" "$NPROCS" tools/test.py "$CONFIG" "$CHECKPOINT" \
  --launcher pytorch "$@"

#!/usr/bin/env bash
# MSMT17 (ROOT/msmt17/MSMT17_V1 or MSMT17_V2).
# usage: scripts/msmt17.sh DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]
# SGD_GCC (lr 0.02, weight decay 0.002) and Adam (strong baseline),
# each run's last epoch tested with and without re-ranking.
source "$(dirname "$0")/_dataset.sh"
data=${1:?usage: $0 DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]}
out=${2:?usage: $0 DATA_ROOT OUTPUT_ROOT [KEY VALUE ...]}
shift 2
run_dataset msmt17 0.02 "$data" "$out" "$@"

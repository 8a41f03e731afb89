#!/usr/bin/env bash
# CUHK03-NP labeled (ROOT/cuhk03-np/labeled/...); pass cuhk03_detected as a third argument for the detected boxes.
# usage: scripts/cuhk03.sh DATA_ROOT OUTPUT_ROOT [cuhk03_labeled|cuhk03_detected] [KEY VALUE ...]
# SGD_GCC (lr 0.02, weight decay 0.002) and Adam (strong baseline),
# each run's last epoch tested with and without re-ranking.
source "$(dirname "$0")/_dataset.sh"
data=${1:?usage: $0 DATA_ROOT OUTPUT_ROOT [cuhk03_labeled|cuhk03_detected] [KEY VALUE ...]}
out=${2:?usage: $0 DATA_ROOT OUTPUT_ROOT [cuhk03_labeled|cuhk03_detected] [KEY VALUE ...]}
shift 2
name=cuhk03_labeled
case "${1:-}" in cuhk03_labeled|cuhk03_detected) name=$1; shift ;; esac
run_dataset "$name" 0.02 "$data" "$out" "$@"

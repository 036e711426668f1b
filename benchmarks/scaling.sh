#!/usr/bin/env bash
# Scaling study of the batch runner on a many-core machine (not a test).
#
#   benchmarks/scaling.sh OUT_DIR [WORKERS...]      default workers: 1 2 4 8 16
#
# 1. Baseline runs (the calibrated park, 2016-07..2020-12): 40 replications per
#    worker, so every configuration does the same work per worker; parksim's
#    process pool, parksim on a Dask LocalCluster, and mesa.batch_run.
# 2. Short runs (tiny park, 6 months), where per-run overhead shows: 200
#    replications per worker; parksim's pool and mesa.batch_run.
# Each configuration runs twice in fresh processes (median reported). Tables go
# to OUT_DIR/long.md and OUT_DIR/short.md, every repeat to *.json and *.log.
# PYTHON overrides the interpreter (default: python3 on PATH).
set -euo pipefail
out=${1:?usage: benchmarks/scaling.sh OUT_DIR [WORKERS...]}
shift
[[ $# -gt 0 ]] || set -- 1 2 4 8 16
workers=("$@")
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
cd "$here"
export PYTHONUNBUFFERED=1
"$py" benchmarks/bench_batch.py --reps-per-worker 40 --workers "${workers[@]}" --repeats 2 \
    --kinds parksim dask mesa --json "$out/long.json" 2>"$out/long.log" | tee "$out/long.md"
largest=${workers[-1]}
short=(1)  # short runs: one worker, four and the most
[[ $largest -gt 4 ]] && short+=(4)
[[ $largest -gt 1 ]] && short+=("$largest")
"$py" benchmarks/bench_batch.py --scenario tiny --end 2016-12 --reps-per-worker 200 --workers "${short[@]}" \
    --repeats 2 --kinds parksim mesa --json "$out/short.json" 2>"$out/short.log" | tee "$out/short.md"

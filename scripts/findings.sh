#!/usr/bin/env bash
# Run every study that docs/findings.md uses, with fixed batch ids, seeds and
# replications, then regenerate the document with scripts/write_findings.py.
#
#   scripts/findings.sh                 # all studies, then the document
#   WORKERS=4 scripts/findings.sh       # more local worker processes
#   ROOT=/data/runs scripts/findings.sh # another folder of batch folders
#
# Idempotent: a batch whose manifest says "complete" (or "complete-with-failures")
# is skipped; a batch folder that exists but is unfinished is resumed with the
# same arguments, which gives the tables an uninterrupted run gives.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
ROOT=${ROOT:-results/runs}
WORKERS=${WORKERS:-2}
SEED=2016
PARKSIM=("$PY" -m sim.cli)

SCENARIOS=(baseline eco_threshold financing listing_support leading_enterprises
           talent_services attraction china_israel land_supply full_package)

status_of() {  # prints the manifest status of batch $1, or "missing"
    local manifest="$ROOT/$1/manifest.json"
    if [[ -f "$manifest" ]]; then
        "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$manifest"
    else
        echo missing
    fi
}

stage() {  # stage ID KIND ARGS...: run, resume or skip one batch
    local id=$1 kind=$2; shift 2
    local st; st=$(status_of "$id")
    local t0=$SECONDS
    case "$st" in
        complete|complete-with-failures) echo "== $id: $st, skipped"; return 0 ;;
        missing) echo "== $id: running"; "${PARKSIM[@]}" "$kind" "$@" --out "$ROOT" --id "$id" ;;
        *)  echo "== $id: $st, resuming"
            if [[ $kind == run ]]; then
                "${PARKSIM[@]}" resume "$id" --root "$ROOT" --workers "$WORKERS"
            else
                "${PARKSIM[@]}" "$kind" "$@" --out "$ROOT" --resume "$id"
            fi ;;
    esac
    echo "== $id: done in $((SECONDS - t0)) s"
}

# 1. Target probabilities: status quo and every lever package, common random numbers.
stage findings-scenarios run "${SCENARIOS[@]}" --reps 60 --seed "$SEED" --workers "$WORKERS" --no-figure --quiet
# 2. Which levers matter, across the deep uncertainty of their effects: Morris over 18 levers and
#    8 deep inputs together, 6 trajectories x 27 points x 3 reps.
stage findings-morris sensitivity baseline --method morris --design sensitivity_levers_deep \
    --n 6 --reps 3 --seed "$SEED" --workers "$WORKERS" --quiet
# 3. The full package scaled from 0 to 1.5 (7 points x 30 reps).
stage findings-scale sweep baseline --design scripts/findings_scale.toml \
    --reps 30 --seed "$SEED" --workers "$WORKERS" --quiet
# 4. Lever packages: Latin hypercube, 120 points x 5 reps, for the minimum packages and PRIM.
stage findings-packages sweep baseline --design scripts/findings_packages.toml \
    --reps 5 --seed "$SEED" --workers "$WORKERS" --quiet

# 5. Variance split: status quo and full package, 40 posterior draws x 5 seeds each.
stage findings-split run baseline full_package --reps 200 --seeds-per-draw 5 --seed "$SEED" \
    --workers "$WORKERS" --no-figure --quiet

# 6. Cheapest robust packages (EMA Workbench's epsilon-NSGA-II over the levers, scored on shared
#    (deep point x posterior draw, seed) combinations, each choice confirmed with 200 fresh runs).
#    The search is sequential, so the 2016 and 2020 targets run as two processes side by side.
#    A target whose result file exists is skipped. Settings are small (docs/robust.md).
OPT=(--nfe 60 --reps 3 --deep 3 --confirm 200 --seed "$SEED")
OPT_ROOT=${OPT_ROOT:-results/optimise}
optimise_group() {  # optimise_group NAME END TARGET...: one process, targets in turn
    local name=$1 end=$2; shift 2
    local out="$OPT_ROOT/findings-$name"
    for t in "$@"; do
        if [[ -f "$out/robust_${t/:/__}_result.json" ]]; then echo "== optimise $t: done, skipped"; continue; fi
        echo "== optimise $t: running"
        local t0=$SECONDS
        "${PARKSIM[@]}" optimise baseline --target "$t" --end "$end" "${OPT[@]}" --out "$out" > "$out.${t/:/__}.log" 2>&1
        echo "$t,$((SECONDS - t0))" >> "$out/timings.csv"  # read by write_findings.py's reproduce table
    done
}
mkdir -p "$OPT_ROOT"
t0=$SECONDS
optimise_group 2016 2016-12 key_projects_2016:signed graphene_new_2016:signed graphene_total_2016:in_park \
    internet_projects_2016:signed listings_2016:exchange_neeq listings_2016_level:exchange_neeq \
    share_reforms_2016:completed reserve_firms_2016:new_reserve graphene_new_2016:registered \
    graphene_new_2016:started graphene_total_2016:incl_signed internet_projects_2016:registered \
    internet_projects_2016:started &
g2016=$!
optimise_group 2016b 2016-12 listings_2016:main_board_neeq listings_2016_level:main_board_neeq \
    key_projects_2016:registered key_projects_2016:started &
g2016b=$!
optimise_group 2020 2020-12 tech_projects_2016_2020:signed tech_projects_each_year:signed \
    listed_companies_2020:exchange_neeq listed_market_value_2020:exchange leading_enterprises_2020:revenue_threshold \
    tech_projects_2016_2020:registered tech_projects_2016_2020:started listed_companies_2020:exchange \
    listed_market_value_2020:exchange_neeq &
g2020=$!
wait "$g2016"; wait "$g2016b"  # the 2016 groups are short: the second 2020 group starts when they end
optimise_group 2020b 2020-12 tech_projects_each_year:registered tech_projects_each_year:started \
    listed_companies_2020:domestic_exchange listed_companies_2020:domestic_exchange_neeq \
    listed_market_value_2020:domestic_exchange &
g2020b=$!
wait "$g2020"; wait "$g2020b"  # set -e: a failed group stops the script here
echo "== optimise: done in $((SECONDS - t0)) s"

"$PY" scripts/write_findings.py --root "$ROOT" --optimise "$OPT_ROOT"

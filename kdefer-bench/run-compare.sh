#!/usr/bin/env bash
# Runs the same JMH benchmarks from two builds of kdefer-bench, alternating between them, so that a
# change can be checked against the figures it must keep ("within noise") under the same machine
# conditions. On a shared, noisy host a single run of each side says little; alternating rounds and
# comparing medians (with each side's spread) does.
#
#   kdefer-bench/run-compare.sh BASE_JAR NEW_JAR [rounds] [output-dir]
#
#   BASE_JAR, NEW_JAR  two benchmarks.jar files (build each from its commit with
#                      mvn -q -B package -pl kdefer-bench -am -DskipTests)
#   rounds             how many times each side runs each benchmark (default 3); the order of the
#                      two sides flips every round
#   output-dir         default: kdefer-bench/results/compare-<date>
#
# The benchmarks (one JMH invocation each; the part after '|' is extra JMH arguments) can be set
# with COMPARE_BENCHMARKS, one per line. Each run: 1 fork, 2 warm-up and 3 measurement iterations
# of 1 s. Writes one JMH JSON file per run and summary.txt (needs python3): per benchmark, the
# median score of each side, the ratio new/base, and each side's range across rounds.
set -euo pipefail

BASE="${1:?base benchmarks.jar}"
NEW="${2:?new benchmarks.jar}"
ROUNDS="${3:-3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${4:-$HERE/results/compare-$(date +%Y%m%d-%H%M%S)}"
JAVA="${JAVA:-java}"
mkdir -p "$OUT"

DEFAULT_BENCHMARKS='TaskletScheduleCoalescedBenchmark\.taskletSchedule_1t$|
TaskletSelfRescheduleBenchmark\.tasklet$|
TaskletWakeupLatencyBenchmark\.taskletSpin$|
TimerArmCancelBenchmark\.kdeferArmCancel$|-p pending=10000 -p at=median
IrqRaiseLatencyBenchmark\.primarySpin$|'
BENCHMARKS="${COMPARE_BENCHMARKS:-$DEFAULT_BENCHMARKS}"

{
    echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "base:    $BASE"
    echo "new:     $NEW"
    "$JAVA" -version 2>&1 | sed 's/^/java:    /'
    echo "kernel:  $(uname -srm)"
    echo "cpus:    $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
} > "$OUT/env.txt"
cat "$OUT/env.txt"

run() {   # side jar round index regex extra...
    local side="$1" jar="$2" round="$3" idx="$4" regex="$5"
    shift 5
    echo "== round $round, $side: $regex $*"
    # shellcheck disable=SC2068
    "$JAVA" -jar "$jar" "$regex" -f 1 -wi 2 -w 1s -i 3 -r 1s $@ \
        -rf json -rff "$OUT/$side-$idx-$round.json" > "$OUT/$side-$idx-$round.txt" 2>&1
}

for round in $(seq 1 "$ROUNDS"); do
    idx=0
    while IFS='|' read -r regex extra; do
        [[ -z "$regex" ]] && continue
        idx=$((idx + 1))
        if (( round % 2 == 1 )); then
            run base "$BASE" "$round" "$idx" "$regex" $extra
            run new "$NEW" "$round" "$idx" "$regex" $extra
        else
            run new "$NEW" "$round" "$idx" "$regex" $extra
            run base "$BASE" "$round" "$idx" "$regex" $extra
        fi
    done <<< "$BENCHMARKS"
done

if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 not found: no summary.txt (the JSON files have everything)" >&2
    exit 0
fi

python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import glob, json, os, statistics, sys
out = sys.argv[1]
scores = {}
for f in sorted(glob.glob(os.path.join(out, "*.json"))):
    side = os.path.basename(f).split("-")[0]
    for b in json.load(open(f)):
        key = b["benchmark"].split(".")[-2] + "." + b["benchmark"].split(".")[-1]
        if b.get("params"):
            key += " " + ",".join(f"{k}={v}" for k, v in sorted(b["params"].items()))
        pm = b["primaryMetric"]
        if b["mode"] == "sample":
            value, unit = pm["scorePercentiles"]["50.0"], pm["scoreUnit"] + " p50"
        else:
            value, unit = pm["score"], pm["scoreUnit"]
        scores.setdefault(key, {"unit": unit}).setdefault(side, []).append(value)
print("median of each side over its rounds; ratio = new / base; [min..max] across rounds")
for key, v in scores.items():
    base, new = v.get("base", []), v.get("new", [])
    if not base or not new:
        continue
    mb, mn = statistics.median(base), statistics.median(new)
    print(f"{key}: base {mb:.4g} [{min(base):.4g}..{max(base):.4g}]  new {mn:.4g} "
          f"[{min(new):.4g}..{max(new):.4g}] {v['unit']}  ratio {mn / mb:.3f}")
PY

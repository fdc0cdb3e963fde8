#!/usr/bin/env bash
# Runs the tasklet benchmarks of kdefer-bench on one JVM and writes JMH results.
#
#   kdefer-bench/run-tasklet-benchmarks.sh [java] [output-dir]
#
#   java        the java executable to run (default: java); JMH forks with the same one
#   output-dir  where results go (default: kdefer-bench/results/<jdk version>-<date>)
#
# Build the jar first:  mvn -q -B package -pl kdefer-bench -am -DskipTests
#
# Writes, per benchmark class, <Class>.json (JMH JSON, -rf json) and <Class>.txt (JMH's text
# output, including the per-iteration consumer CPU and allocation lines), plus env.txt (JVM,
# kernel, CPU count, load) and summary.txt (scores as ratios to the baselines and peers; needs jq).
#
# Settings: 1 fork, 1 s iterations, -prof gc. Warm-up/measurement iterations per class below;
# override all of them with WARMUP_ITERATIONS / MEASUREMENT_ITERATIONS (e.g. for a smoke run).
# A full run takes about 4 minutes.
set -euo pipefail

JAVA="${1:-java}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JAR="$HERE/target/benchmarks.jar"

if [[ ! -f "$JAR" ]]; then
    echo "no $JAR: build it with  mvn -q -B package -pl kdefer-bench -am -DskipTests" >&2
    exit 1
fi
if ! "$JAVA" -version >/dev/null 2>&1; then
    echo "cannot run '$JAVA'" >&2
    exit 1
fi

JDK_VERSION="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.version = //p')"
OUT="${2:-$HERE/results/jdk-${JDK_VERSION:-unknown}-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"

{
    echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "java:    $JAVA"
    "$JAVA" -version 2>&1 | sed 's/^/         /'
    echo "kernel:  $(uname -srm)"
    echo "cpus:    $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
} > "$OUT/env.txt"
cat "$OUT/env.txt"

# class  warm-up-iterations  measurement-iterations
RUNS=(
    "TaskletScheduleCoalescedBenchmark 3 5"
    "TaskletSelfRescheduleBenchmark    5 5"
    "TaskletWakeupLatencyBenchmark     3 5"
)

for entry in "${RUNS[@]}"; do
    read -r cls wi mi <<< "$entry"
    wi="${WARMUP_ITERATIONS:-$wi}"
    mi="${MEASUREMENT_ITERATIONS:-$mi}"
    echo "== $cls (warm-up ${wi}x1s, measurement ${mi}x1s)"
    "$JAVA" -jar "$JAR" "^io\\.kdefer\\.bench\\.${cls}\\." \
        -f 1 -wi "$wi" -w 1s -i "$mi" -r 1s \
        -prof gc \
        -rf json -rff "$OUT/$cls.json" 2>&1 | tee "$OUT/$cls.txt"
done

if ! command -v jq >/dev/null 2>&1; then
    echo "jq not found: no summary.txt (the JSON files have everything)" >&2
    exit 0
fi

# One object per benchmark method: score, unit, p50/p99 (SampleTime), B/op from -prof gc.
jq -s '
  [ .[][] | {
      key: (.benchmark | split(".") | .[-2:] | join(".")),
      value: {
        score: .primaryMetric.score,
        unit: .primaryMetric.scoreUnit,
        p50: (.primaryMetric.scorePercentiles["50.0"]),
        p99: (.primaryMetric.scorePercentiles["99.0"]),
        alloc: (.secondaryMetrics["gc.alloc.rate.norm"].score // null)
      } } ] | from_entries' \
    "$OUT"/Tasklet*Benchmark.json > "$OUT/scores.json"

jq -r '
  def r(x): if x == null then "n/a" else ((x * 100 | round) / 100 | tostring) end;
  def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;
  def s(n): .[n].score;
  def line(lbl; val; tgt): "  \(lbl): \(r(val))\(if tgt == "" then "" else "   (target \(tgt))" end)";
  "Tasklet benchmarks: ratios from one run (higher is better for kdefer unless noted)",
  "",
  "(a) TaskletScheduleCoalescedBenchmark, throughput",
  ( ["1t", "2t"][] as $t |
    "  \($t): coalesced schedule \(r(1000 / s("TaskletScheduleCoalescedBenchmark.taskletSchedule_\($t)"))) ns/op, volatile read \(r(1000 / s("TaskletScheduleCoalescedBenchmark.baselineVolatileRead_\($t)"))) ns/op",
    line("\($t) schedule time / volatile-read time (lower is better)";
         ratio(s("TaskletScheduleCoalescedBenchmark.baselineVolatileRead_\($t)"); s("TaskletScheduleCoalescedBenchmark.taskletSchedule_\($t)")); "<= 3"),
    line("\($t) schedule throughput / TPE.execute";
         ratio(s("TaskletScheduleCoalescedBenchmark.taskletSchedule_\($t)"); s("TaskletScheduleCoalescedBenchmark.tpeExecute_\($t)")); ">= 10"),
    line("\($t) schedule throughput / Netty execute";
         ratio(s("TaskletScheduleCoalescedBenchmark.taskletSchedule_\($t)"); s("TaskletScheduleCoalescedBenchmark.nettyExecute_\($t)")); ""),
    line("\($t) schedule throughput / drain-loop schedule (coalesced)";
         ratio(s("TaskletScheduleCoalescedBenchmark.taskletSchedule_\($t)"); s("TaskletScheduleCoalescedBenchmark.drainLoopSchedule_\($t)")); "")
  ),
  "",
  "(b) TaskletSelfRescheduleBenchmark, runs/s",
  "  tasklet \(r(s("TaskletSelfRescheduleBenchmark.tasklet"))), TPE \(r(s("TaskletSelfRescheduleBenchmark.tpe"))), Netty \(r(s("TaskletSelfRescheduleBenchmark.netty"))), drain loop \(r(s("TaskletSelfRescheduleBenchmark.drainLoop")))",
  line("tasklet / TPE"; ratio(s("TaskletSelfRescheduleBenchmark.tasklet"); s("TaskletSelfRescheduleBenchmark.tpe")); ">= 3"),
  line("tasklet / Netty"; ratio(s("TaskletSelfRescheduleBenchmark.tasklet"); s("TaskletSelfRescheduleBenchmark.netty")); ">= 1"),
  line("tasklet / drain loop"; ratio(s("TaskletSelfRescheduleBenchmark.tasklet"); s("TaskletSelfRescheduleBenchmark.drainLoop")); ""),
  "",
  "(c) TaskletWakeupLatencyBenchmark, ns (lower is better; ratios are latency / floor)",
  ( ["taskletPark", "tpe", "netty", "baselineParkHandOff", "taskletSpin", "baselineSpinHandOff"][] as $m |
    .["TaskletWakeupLatencyBenchmark.\($m)"] as $v |
    "  \($m): p50 \(r($v.p50)), p99 \(r($v.p99)), mean \(r($v.score))" ),
  line("p50 taskletPark / park-unpark hand-off"; ratio(.["TaskletWakeupLatencyBenchmark.taskletPark"].p50; .["TaskletWakeupLatencyBenchmark.baselineParkHandOff"].p50); ""),
  line("p50 taskletPark / TPE"; ratio(.["TaskletWakeupLatencyBenchmark.taskletPark"].p50; .["TaskletWakeupLatencyBenchmark.tpe"].p50); ""),
  line("p50 taskletPark / Netty"; ratio(.["TaskletWakeupLatencyBenchmark.taskletPark"].p50; .["TaskletWakeupLatencyBenchmark.netty"].p50); ""),
  line("p50 taskletSpin / busy-spin hand-off"; ratio(.["TaskletWakeupLatencyBenchmark.taskletSpin"].p50; .["TaskletWakeupLatencyBenchmark.baselineSpinHandOff"].p50); ""),
  "",
  "Allocation, B/op (-prof gc, whole JVM; compare with the baselines, see README)",
  ( to_entries[] | "  \(.key): \(r(.value.alloc))" )
' "$OUT/scores.json" | tee "$OUT/summary.txt"

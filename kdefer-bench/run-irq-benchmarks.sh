#!/usr/bin/env bash
# Runs the interrupt-line benchmarks of kdefer-bench (IrqRaiseLatencyBenchmark: raise -> handler
# latency from a foreign thread, against LMAX Disruptor, Agrona, a ThreadPoolExecutor and bare
# hand-offs) on one JVM and writes JMH results.
#
#   kdefer-bench/run-irq-benchmarks.sh [java] [output-dir]
#
#   java        the java executable to run (default: java); JMH forks with the same one
#   output-dir  where results go (default: kdefer-bench/results/irq-jdk-<jdk version>-<date>)
#
# Build the jar first:  mvn -q -B package -pl kdefer-bench -am -DskipTests
#
# Each benchmark method runs in its own JMH invocation, so that the host's load can be recorded
# next to it: the run is only as good as the two host cores are free. Writes, per method,
# <method>.json (JMH JSON, -rf json) and <method>.txt (JMH's text output, including the
# per-iteration CPU time and allocation of every consumer thread), allocation.txt (exact bytes
# per raise of every thread involved, from IrqRaiseAllocation, outside JMH), env.txt (JVM,
# kernel, CPU count, load before each method and the share of host CPU that other processes took
# while it ran), and threads.json, scores.json and summary.txt (medians, the p50 of every
# iteration, ratios, targets and allocation; needs jq).
#
# Settings: 1 fork, 3 x 1 s warm-up, 5 x 1 s measurement, -prof gc; about 3 minutes in all.
# WARMUP_ITERATIONS / MEASUREMENT_ITERATIONS override the iteration counts (e.g. for a smoke run);
# IRQ_BENCH_METHODS (space-separated method names) narrows the set; IRQ_BENCH_QUIET_WAIT=<s> waits
# up to that long before each method until the host is at least 90% idle (a shared host).
set -euo pipefail

JAVA="${1:-java}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JAR="$HERE/target/benchmarks.jar"
CLASS="IrqRaiseLatencyBenchmark"

if [[ ! -f "$JAR" ]]; then
    echo "no $JAR: build it with  mvn -q -B package -pl kdefer-bench -am -DskipTests" >&2
    exit 1
fi
if ! "$JAVA" -version >/dev/null 2>&1; then
    echo "cannot run '$JAVA'" >&2
    exit 1
fi

JDK_VERSION="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.version = //p')"
OUT="${2:-$HERE/results/irq-jdk-${JDK_VERSION:-unknown}-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"

WI="${WARMUP_ITERATIONS:-3}"
MI="${MEASUREMENT_ITERATIONS:-5}"
# spinning consumers first, then parked ones (see the class comment of IrqRaiseLatencyBenchmark)
METHODS=(${IRQ_BENCH_METHODS:-primarySpin threadSpin oneshotSpin disruptorBusySpin agronaBusySpin baselineSpinHandOff
         primaryPark threadPark oneshotPark disruptorBlocking tpe baselineParkHandOff})

load() {
    echo "$(cut -d' ' -f1-4 /proc/loadavg 2>/dev/null || echo '?')"
}

{
    echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "java:    $JAVA"
    "$JAVA" -version 2>&1 | sed 's/^/         /'
    echo "kernel:  $(uname -srm)"
    echo "cpus:    $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')"
    echo "load:    $(load)   (1, 5, 15 min; runnable/total tasks)"
    echo "runs:    1 fork, warm-up ${WI}x1s, measurement ${MI}x1s, -prof gc"
} > "$OUT/env.txt"
cat "$OUT/env.txt"

# Host CPU ticks (USER_HZ) spent outside idle, and the ticks of this script's finished children.
host_busy() {
    awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
children_ticks() {
    awk '{print $16 + $17}' "/proc/$$/stat"
}
# Waits up to $1 seconds until the host was at least 90% idle over 2 seconds.
await_quiet() {
    local waited=0 a b
    while (( waited < $1 )); do
        a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
        local total=0 i
        for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
        (( total > 0 && (b[4] - a[4]) * 100 / total >= 90 )) && return 0
        waited=$(( waited + 2 ))
    done
    echo "host still busy after $1 s; running anyway" | tee -a "$OUT/env.txt"
}
CPUS="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"

for m in "${METHODS[@]}"; do
    if (( ${IRQ_BENCH_QUIET_WAIT:-0} > 0 )); then
        await_quiet "$IRQ_BENCH_QUIET_WAIT"
    fi
    echo "load before $m: $(load)" | tee -a "$OUT/env.txt"
    busy0="$(host_busy)"; own0="$(children_ticks)"; t0="$(date +%s%N)"
    "$JAVA" -jar "$JAR" "^io\\.kdefer\\.bench\\.irq\\.${CLASS}\\.${m}\$" \
        -f 1 -wi "$WI" -w 1s -i "$MI" -r 1s \
        -prof gc \
        -rf json -rff "$OUT/$m.json" 2>&1 | tee "$OUT/$m.txt"
    busy1="$(host_busy)"; own1="$(children_ticks)"; t1="$(date +%s%N)"
    # CPU that other processes took from the host while this method ran (the benchmark's own JVMs
    # are excluded): anything well above 0% means the spinning methods competed for the cores
    awk -v m="$m" -v b="$(( busy1 - busy0 ))" -v o="$(( own1 - own0 ))" -v ns="$(( t1 - t0 ))" -v c="$CPUS" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { other = (b - o) / (ns / 1e9 * hz * c) * 100; if (other < 0) other = 0;
                 printf "other processes during %s: %.0f%% of the host CPU\n", m, other }' | tee -a "$OUT/env.txt"
done

# Exact bytes per raise of the raising thread, cpu/0 and the irq thread, outside JMH
# (2 s warm-up, 1 s measured per case).
echo "load before IrqRaiseAllocation: $(load)" | tee -a "$OUT/env.txt"
"$JAVA" -cp "$JAR" io.kdefer.bench.irq.IrqRaiseAllocation 2 1 2>&1 | tee "$OUT/allocation.txt"

if ! command -v jq >/dev/null 2>&1; then
    echo "jq not found: no summary.txt (the JSON files have everything)" >&2
    exit 0
fi

# Per-thread allocation and on-CPU share from the measurement iterations of each method: the
# largest B/op of each thread and the smallest on-CPU share of each consumer (ThreadsMeter lines).
for m in "${METHODS[@]}"; do
    awk -v method="$m" '
        /^Iteration/ && /\[/ {
            s = $0; sub(/^[^[]*\[/, "", s); sub(/\].*$/, "", s)
            n = split(s, part, ";")
            for (i = 1; i <= n; i++) {
                p = part[i]; sub(/^ +/, "", p)
                if (p == "") continue
                if (p ~ /^benchmark thread/) { name = "benchmark thread" } else { name = p; sub(/:.*$/, "", name) }
                if (match(p, /[0-9.]+ B\/op/)) {
                    b = substr(p, RSTART, RLENGTH - 5) + 0
                    if (!(name in bytes) || b > bytes[name]) bytes[name] = b
                    if (!(name in order)) { order[name] = ++k; names[k] = name }
                }
                if (match(p, /on CPU [0-9]+%/)) {
                    c = substr(p, RSTART + 7, RLENGTH - 8) + 0
                    if (!(name in cpu) || c < cpu[name]) cpu[name] = c
                }
            }
        }
        END {
            printf "{\"method\": \"%s\", \"threads\": [", method
            for (i = 1; i <= k; i++) {
                nm = names[i]
                printf "%s{\"thread\": \"%s\", \"maxBytesPerOp\": %s, \"minOnCpuPct\": %s}", (i > 1 ? ", " : ""), nm, bytes[nm], (nm in cpu ? cpu[nm] : "null")
            }
            print "]}"
        }' "$OUT/$m.txt"
done | jq -s 'map({key: .method, value: .threads}) | from_entries' > "$OUT/threads.json"

# One object per method: mean, p50/p90/p99 (SampleTime), B/op from -prof gc, per-thread meter.
jq -s --slurpfile threads "$OUT/threads.json" '
  def median(h): (h | sort_by(.[0])) as $s | ($s | map(.[1]) | add) as $n
    | reduce $s[] as $b ({c: 0, m: null};
        if .m == null then .c += $b[1] | (if .c * 2 >= $n then .m = $b[0] else . end) else . end)
    | .m;
  [ .[][] | {
      key: (.benchmark | split(".") | .[-1]),
      value: {
        mean: .primaryMetric.score,
        p50: (.primaryMetric.scorePercentiles["50.0"]),
        p90: (.primaryMetric.scorePercentiles["90.0"]),
        p99: (.primaryMetric.scorePercentiles["99.0"]),
        gcAllocPerOp: (.secondaryMetrics["gc.alloc.rate.norm"].score // null),
        iterationP50: [.primaryMetric.rawDataHistogram[][] | median(.)]
      } } ] | from_entries
  | with_entries(.value.threads = ($threads[0][.key] // []))' \
    $(for m in "${METHODS[@]}"; do echo "$OUT/$m.json"; done) > "$OUT/scores.json"

jq -r '
  def r(x): if x == null then "n/a" else ((x * 100 | round) / 100 | tostring) end;
  def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;
  def p50(m): .[m].p50;
  def best(m): if has(m) then .[m].iterationP50 | min else null end;
  def line(lbl; val; tgt): "  \(lbl): \(r(val))\(if tgt == "" then "" else "   (target \(tgt))" end)";
  "Interrupt-line benchmarks: raise -> handler latency from a foreign thread, ns (lower is better)",
  "",
  "(a) spinning consumers",
  ( ["primarySpin", "threadSpin", "oneshotSpin", "disruptorBusySpin", "agronaBusySpin", "baselineSpinHandOff"][] as $m |
    select(has($m)) | "  \($m): p50 \(r(.[$m].p50)), p90 \(r(.[$m].p90)), p99 \(r(.[$m].p99)), mean \(r(.[$m].mean))" ),
  "  per-iteration p50 (a step that the peers show as well, e.g. 130 -> 600 ns, comes from the host, likely its vCPU placement):",
  ( ["primarySpin", "threadSpin", "oneshotSpin", "disruptorBusySpin", "agronaBusySpin", "baselineSpinHandOff"][] as $m |
    select(has($m)) | "    \($m): \(.[$m].iterationP50 | map(r(.)) | join(" "))" ),
  line("p50 primarySpin / Disruptor BusySpin"; ratio(p50("primarySpin"); p50("disruptorBusySpin")); "<= 2"),
  line("same, fastest iteration of each (both at the closer placement)"; ratio(best("primarySpin"); best("disruptorBusySpin")); "<= 2"),
  line("p50 primarySpin / Agrona busy-spin agent"; ratio(p50("primarySpin"); p50("agronaBusySpin")); ""),
  line("p50 primarySpin / bare busy-spin hand-off"; ratio(p50("primarySpin"); p50("baselineSpinHandOff")); ""),
  line("p50 threadSpin / Disruptor BusySpin"; ratio(p50("threadSpin"); p50("disruptorBusySpin")); ""),
  line("p50 oneshotSpin / Disruptor BusySpin"; ratio(p50("oneshotSpin"); p50("disruptorBusySpin")); ""),
  "",
  "(b) parked consumers",
  ( ["primaryPark", "threadPark", "oneshotPark", "disruptorBlocking", "tpe", "baselineParkHandOff"][] as $m |
    select(has($m)) | "  \($m): p50 \(r(.[$m].p50)), p90 \(r(.[$m].p90)), p99 \(r(.[$m].p99)), mean \(r(.[$m].mean))" ),
  "  per-iteration p50 (a step between about 4 and 15 us that the peers show as well comes from the host, likely how fast it wakes an idle vCPU):",
  ( ["primaryPark", "threadPark", "oneshotPark", "disruptorBlocking", "tpe", "baselineParkHandOff"][] as $m |
    select(has($m)) | "    \($m): \(.[$m].iterationP50 | map(r(.)) | join(" "))" ),
  line("p50 primaryPark / bare park-unpark hand-off"; ratio(p50("primaryPark"); p50("baselineParkHandOff")); ""),
  line("p50 primaryPark / Disruptor Blocking"; ratio(p50("primaryPark"); p50("disruptorBlocking")); ""),
  line("p50 primaryPark / ThreadPoolExecutor"; ratio(p50("primaryPark"); p50("tpe")); ""),
  line("p50 threadPark / Disruptor Blocking"; ratio(p50("threadPark"); p50("disruptorBlocking")); ""),
  line("p50 oneshotPark / Disruptor Blocking"; ratio(p50("oneshotPark"); p50("disruptorBlocking")); ""),
  "",
  "Allocation per operation: -prof gc (whole JVM) | per thread, largest over the measurement iterations",
  ( to_entries[] | "  \(.key): \(r(.value.gcAllocPerOp)) B | " +
      ([.value.threads[] | "\(.thread) \(r(.maxBytesPerOp)) B"] | join(", ")) ),
  "",
  "Consumer on-CPU share, smallest over the measurement iterations (low = the consumer was starved or parked)",
  ( to_entries[] | select(.value.threads | length > 0) | "  \(.key): " +
      ([.value.threads[] | select(.minOnCpuPct != null) | "\(.thread) \(.minOnCpuPct)%"] | join(", ")) )
' "$OUT/scores.json" > "$OUT/summary.txt"
{
    echo ""
    echo "Host: CPU taken by other processes while each method ran (see env.txt)"
    sed -n 's/^other processes during \(.*\): \(.*\) of the host CPU$/  \1: \2/p' "$OUT/env.txt"
    echo ""
    echo "Exact allocation per raise outside JMH (IrqRaiseAllocation)"
    sed 's/^/  /' "$OUT/allocation.txt"
} >> "$OUT/summary.txt"
cat "$OUT/summary.txt"

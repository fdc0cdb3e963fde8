#!/usr/bin/env bash
# Timer benchmarks: kdefer's KernelTimer against the JDK's ScheduledThreadPoolExecutor, Netty's
# HashedWheelTimer and Agrona's DeadlineTimerWheel (arm + cancel, re-time, arm + expire), with
# JMH's GC profiler, then the heap taken by a million armed timers.
#
# Usage: kdefer-bench/run-timer-benchmarks.sh [java] [output-dir]
#   java        the java executable to run (default: java on the PATH)
#   output-dir  where the results go (default: kdefer-bench/target/timer-results)
# Build the jar first: mvn -B package -pl kdefer-bench -am -DskipTests
#
# Writes java-version.txt, timer-jmh.json (JMH's JSON), timer-jmh.txt (console output) and
# timer-memory.txt. One fork per benchmark, 3 x 1 s warm-up, 5 x 1 s measurement: about seven
# minutes. TIMER_BENCH_INCLUDE (a JMH regular expression) narrows the set of benchmarks.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
java_bin="${1:-java}"
out="${2:-$here/target/timer-results}"
jar="$here/target/benchmarks.jar"
include="${TIMER_BENCH_INCLUDE:-io\.kdefer\.bench\.timer\.Timer}"

if [ ! -f "$jar" ]; then
    echo "missing $jar: build it with: mvn -B package -pl kdefer-bench -am -DskipTests" >&2
    exit 1
fi
mkdir -p "$out"

"$java_bin" -version 2>&1 | tee "$out/java-version.txt"

"$java_bin" -jar "$jar" "$include" \
    -f 1 -wi 3 -w 1s -i 5 -r 1s \
    -prof gc \
    -rf json -rff "$out/timer-jmh.json" \
    2>&1 | tee "$out/timer-jmh.txt"

"$java_bin" -Xmx2g -cp "$jar" io.kdefer.bench.timer.TimerMemoryFootprint 1000000 \
    2>&1 | tee "$out/timer-memory.txt"

echo "results in $out"

package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code kdefer lab keventd}: fast tasks queued behind one slow task. In rounds, a task on one CPU
 * queues a slow task ({@code --slow-ms}, either sleeping in {@code msleep} or burning the CPU) and
 * then {@code --fast} fast tasks on the same queue; each fast task records the delay from its
 * queueing to its start, and whether it started only after the slow task had finished (blocked
 * behind it). With one {@code keventd} thread every fast task waits; cmwq starts another worker
 * when the slow one sleeps, and leaves a busy one to its CPU until it is found CPU-intensive.
 */
@Command(name = "keventd", mixinStandardHelpOptions = true,
        description = "Fast tasks queued behind one slow task: the shared queue designs compared.")
final class KeventdCommand extends LabExperiment {
    @Option(names = "--slow-ms", defaultValue = "50", description = "How long the slow task takes (default: ${DEFAULT-VALUE}).")
    long slowMs;

    @Option(names = "--fast", defaultValue = "8", description = "Fast tasks queued behind it per round (default: ${DEFAULT-VALUE}).")
    int fast;

    private long slowNanos() {
        return options.quick() ? 20_000_000L : slowMs * 1_000_000L;
    }

    @Override
    long expectedNanos() {
        return TaskTarget.KEVENTD.size() * 2L * Math.max(options.phaseNanos(), 2 * slowNanos());
    }

    @Override
    Table run(Progress progress, HtmlReport report) throws Exception {
        if (slowMs < 1 || slowMs > 10_000 || fast < 1 || fast > 10_000) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--slow-ms must be in 1..10000 and --fast in 1..10000");
        }
        int cpu = options.cpus() - 1;
        Table t = new Table(String.format("keventd: %d fast tasks behind one slow task of %.0f ms, queued on CPU %d",
                fast, slowNanos() / 1e6, cpu), "queue", "fast_p50_us", "fast_p99_us", "fast_max_us",
                "blocked_pct", "rounds");
        Map<String, Histogram> plots = new LinkedHashMap<>();
        for (TaskTarget target : TaskTarget.KEVENTD) {
            for (boolean sleeping : new boolean[] {true, false}) {
                String name = target.name() + (sleeping ? "/sleeping" : "/busy");
                try (Kernel k = Kernel.builder().cpus(options.cpus()).build()) {
                    Executor q = target.open(k, cpu);
                    Histogram h = Latency.histogram();
                    long[] blocked = new long[1];
                    long rounds = 0;
                    long end = System.nanoTime() + options.phaseNanos();
                    do {
                        blocked[0] += round(k, q, cpu, sleeping, h);
                        rounds++;
                        progress.update(name);
                    } while (System.nanoTime() - end < 0 && rounds < 10_000);
                    t.row(name, Latency.us(h, 50), Latency.us(h, 99), Latency.maxUs(h),
                            100.0 * blocked[0] / (rounds * fast), rounds);
                    plots.put(name, h);
                }
            }
        }
        t.note("sleeping: the slow task sleeps in msleep; busy: it burns the CPU; blocked_pct: share of fast"
                + " tasks that started only after the slow task ended");
        report.paragraph("One slow task then fast tasks on the same queue, from a task on CPU " + cpu + ".");
        report.table(t);
        report.svg(Svg.cdf("fast-task queueing delay behind a slow task", plots));
        return t;
    }

    /** One round; returns how many fast tasks started after the slow one ended. */
    private long round(Kernel k, Executor q, int cpu, boolean sleeping, Histogram h) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(fast + 1);
        AtomicLong slowEnded = new AtomicLong(Long.MAX_VALUE);
        AtomicLong blocked = new AtomicLong();
        long slow = slowNanos();
        k.runOnCpu(cpu, () -> {
            q.execute(() -> {
                if (sleeping) {
                    k.msleep(Math.max(1, slow / 1_000_000));
                } else {
                    Burn.nanos(slow);
                }
                slowEnded.set(System.nanoTime());
                done.countDown();
            });
            for (int i = 0; i < fast; i++) {
                long queued = System.nanoTime();
                q.execute(() -> {
                    long start = System.nanoTime();
                    h.recordValue(Math.max(0, start - queued));
                    if (start - slowEnded.get() >= 0 && slowEnded.get() != Long.MAX_VALUE) {
                        blocked.incrementAndGet();
                    }
                    done.countDown();
                });
            }
            return null;
        });
        if (!done.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("a round of the keventd experiment did not finish in 60 s");
        }
        return blocked.get();
    }
}

package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * {@code kdefer lab bottom-halves}: N CPUs each with work to defer, for N from 1 to
 * {@code --cpus}. Each mechanism of {@link ParallelDeferral#BOTTOM_HALVES} runs, on a fresh kernel of
 * N CPUs, self-re-arming units of {@code --cost-us} on every CPU for {@code --duration}; the table
 * gives the runs per second and the speed-up over one CPU. The virtual CPUs share the host's
 * cores: past the number of cores the speed-up cannot grow, whatever the mechanism.
 */
@Command(name = "bottom-halves", mixinStandardHelpOptions = true,
        description = "Deferred-work throughput as CPUs are added: tasklets and a softirq (old bottom halves to come).")
final class BottomHalvesCommand extends LabExperiment {
    @Option(names = "--cost-us", defaultValue = "20", description = "Microseconds each run spends (default: ${DEFAULT-VALUE}).")
    long costUs;

    @Override
    long expectedNanos() {
        return ParallelDeferral.BOTTOM_HALVES.size() * (long) options.cpus() * options.phaseNanos();
    }

    @Override
    Table run(Progress progress, HtmlReport report) throws Exception {
        if (costUs < 0 || costUs > 100_000) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--cost-us must be in 0..100000");
        }
        Table t = new Table("bottom-halves: self-re-arming work of " + costUs + " us on each of N CPUs",
                "mechanism", "cpus", "runs_per_s", "speedup");
        Map<String, Double> bars = new LinkedHashMap<>();
        for (ParallelDeferral d : ParallelDeferral.BOTTOM_HALVES) {
            double one = 0;
            for (int n = 1; n <= options.cpus(); n++) {
                double rate = measure(d, n, progress);
                if (n == 1) {
                    one = rate;
                }
                t.row(d.name(), n, rate, one > 0 ? rate / one : 0.0);
                bars.put(d.name() + " x" + n, rate);
            }
        }
        t.note("the virtual CPUs share " + Runtime.getRuntime().availableProcessors()
                + " host cores: the speed-up cannot pass that");
        report.paragraph("Each CPU runs deferred work that re-arms itself; throughput as CPUs are added.");
        report.table(t);
        report.svg(Svg.bars("deferred-work throughput by CPUs", "runs/s", bars));
        return t;
    }

    private double measure(ParallelDeferral d, int n, Progress progress) {
        LongAdder runs = new LongAdder();
        AtomicBoolean on = new AtomicBoolean(true);
        long cost = costUs * 1000;
        try (Kernel k = Kernel.builder().cpus(n).build()) {
            List<Runnable> starts = d.install(k, n, () -> {
                Burn.nanos(cost);
                runs.increment();
            }, on::get);
            long t0 = System.nanoTime();
            for (int c = 0; c < n; c++) {
                k.smpCallFunctionSingle(c, starts.get(c), false);
            }
            long end = t0 + options.phaseNanos();
            while (System.nanoTime() - end < 0) {
                java.util.concurrent.locks.LockSupport.parkNanos(Math.min(20_000_000L, Math.max(1, end - System.nanoTime())));
                progress.update(d.name() + " x" + n);
            }
            long count = runs.sum();
            long elapsed = System.nanoTime() - t0;
            on.set(false);
            return count * 1e9 / elapsed;
        }
    }
}

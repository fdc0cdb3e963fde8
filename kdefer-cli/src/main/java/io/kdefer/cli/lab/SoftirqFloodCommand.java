package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import io.kdefer.irq.IrqReturn;
import io.kdefer.tasklet.Tasklet;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code kdefer lab softirq-flood}: what {@code ksoftirqd} buys. {@code --tasklets} tasklets on
 * one CPU each spend {@code --cost-us} and schedule themselves again, for {@code --duration};
 * meanwhile a probe thread raises an interrupt line of that CPU every half millisecond and records
 * how long its hardirq handler waited, and a task-context thread on the CPU records how late it
 * wakes ({@link TaskProbe}).
 *
 * <p>Variants: the kernel's budget (10 passes or 2 ms, then {@code ksoftirqd}), no budget at all
 * ({@code Kernel.builder().noSoftirqBudget()}: the loop on irq exit runs while anything is pending,
 * so the CPU's next interrupt waits until the flood stops), and forced threading (softirqs never
 * run on irq exit). The probe raises its line only once the previous raise was handled, so a CPU
 * that never leaves its softirq loop holds one interrupt outstanding, whose wait is recorded when
 * the flood ends.
 */
@Command(name = "softirq-flood", mixinStandardHelpOptions = true,
        description = "Self-rescheduling tasklets flood one CPU: hardirq and task latency with the softirq"
                + " budget, without it, and with forced threading.")
final class SoftirqFloodCommand extends LabExperiment {
    private static final int IRQ = 11;
    private static final long PROBE_PERIOD_NANOS = 500_000;

    @Option(names = "--tasklets", defaultValue = "4", description = "Self-rescheduling tasklets in the flood (default: ${DEFAULT-VALUE}).")
    int tasklets;

    @Option(names = "--cost-us", defaultValue = "50", description = "Microseconds each tasklet run spends (default: ${DEFAULT-VALUE}).")
    long costUs;

    /** A variant: its name and its kernel. */
    private static final class Variant {
        final String name;
        final boolean threadIrqs;
        final boolean budget;

        Variant(String name, boolean threadIrqs, boolean budget) {
            this.name = name;
            this.threadIrqs = threadIrqs;
            this.budget = budget;
        }

        Kernel.Builder kernel(int cpus) {
            Kernel.Builder b = Kernel.builder().cpus(cpus).threadIrqs(threadIrqs);
            return budget ? b : b.noSoftirqBudget();
        }
    }

    /** The variants, in table order. */
    private static final List<Variant> VARIANTS = List.of(
            new Variant("budget-10x2ms", false, true),
            new Variant("budget-disabled", false, false),
            new Variant("forced-threading", true, true));

    @Override
    long expectedNanos() {
        return VARIANTS.size() * options.phaseNanos();
    }

    @Override
    Table run(Progress progress, HtmlReport report) throws Exception {
        if (tasklets < 1 || tasklets > 1000 || costUs < 0 || costUs > 100_000) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--tasklets must be in 1..1000 and --cost-us in 0..100000");
        }
        int cpu = options.cpus() - 1;
        Table t = new Table("softirq-flood: " + tasklets + " self-rescheduling tasklets of " + costUs
                + " us on CPU " + cpu, "variant", "tasklet_runs_per_s", "ksoftirqd_pct",
                "hardirq_p50_us", "hardirq_p99_us", "hardirq_max_us", "task_p99_us", "task_max_us");
        Map<String, Histogram> hard = new LinkedHashMap<>();
        Map<String, Histogram> task = new LinkedHashMap<>();
        for (Variant v : VARIANTS) {
            try (Kernel k = v.kernel(options.cpus()).build()) {
                Histogram hardirq = Latency.histogram();
                LongAdder runs = new LongAdder();
                LongAdder byDaemon = new LongAdder();
                long[] raisedAt = new long[1];
                java.util.concurrent.atomic.AtomicBoolean handled = new java.util.concurrent.atomic.AtomicBoolean(true);
                Object dev = new Object();
                k.irqs().requestIrq(IRQ, (l, d) -> {
                    hardirq.recordValue(Math.max(0, System.nanoTime() - raisedAt[0]));
                    handled.set(true);
                    return IrqReturn.HANDLED;
                }, "flood-probe", dev);
                k.irqs().setAffinity(IRQ, cpu);
                java.util.concurrent.atomic.AtomicBoolean on = new java.util.concurrent.atomic.AtomicBoolean(true);
                List<Tasklet> flood = new ArrayList<>();
                for (int i = 0; i < tasklets; i++) {
                    flood.add(Tasklet.setup(k, x -> {
                        Burn.nanos(costUs * 1000);
                        runs.increment();
                        if (Thread.currentThread().getName().startsWith("ksoftirqd")) {
                            byDaemon.increment();
                        }
                        if (on.get()) {
                            x.schedule();
                        }
                    }));
                }
                long start;
                long elapsed;
                try (TaskProbe probe = new TaskProbe(k, cpu).start()) {
                    // not waited for: without a budget that interrupt's exit runs the flood until it stops
                    k.smpCallFunctionSingle(cpu, () -> flood.forEach(Tasklet::schedule), false);
                    start = System.nanoTime();
                    long end = start + options.phaseNanos();
                    while (System.nanoTime() - end < 0) {
                        if (handled.compareAndSet(true, false)) {   // one interrupt outstanding at a time
                            raisedAt[0] = System.nanoTime();
                            k.irqs().raise(IRQ);
                        }
                        LockSupport.parkNanos(PROBE_PERIOD_NANOS);
                        progress.update(v.name);
                    }
                    elapsed = System.nanoTime() - start;
                    on.set(false);
                    k.irqs().synchronizeIrq(IRQ);
                    task.put(v.name, probe.latency());
                }
                for (Tasklet x : flood) {
                    x.kill();
                }
                k.irqs().freeIrq(IRQ, dev);
                long n = runs.sum();
                t.row(v.name, n * 1e9 / elapsed, 100.0 * byDaemon.sum() / Math.max(1, n),
                        Latency.us(hardirq, 50), Latency.us(hardirq, 99), Latency.maxUs(hardirq),
                        Latency.us(task.get(v.name), 99), Latency.maxUs(task.get(v.name)));
                hard.put(v.name, hardirq);
            }
        }
        t.note("hardirq: from a raise of a line on CPU " + cpu + " to its handler; task: how late a task-context"
                + " thread on CPU " + cpu + " wakes from a 500 us sleep");
        report.paragraph("A flood of self-rescheduling tasklets on one CPU. With the kernel's budget the"
                + " softirq loop on irq exit gives up after 10 passes or 2 ms and leaves the rest to ksoftirqd,"
                + " so the CPU's interrupts keep being served; without a budget the loop on irq exit runs as long as"
                + " the flood lasts and the CPU's next interrupt waits for its end; forced threading moves all softirq"
                + " work into threads.");
        report.table(t);
        report.svg(Svg.cdf("hardirq latency on the flooded CPU", hard));
        report.svg(Svg.cdf("task-context wake-up latency on the flooded CPU", task));
        return t;
    }
}

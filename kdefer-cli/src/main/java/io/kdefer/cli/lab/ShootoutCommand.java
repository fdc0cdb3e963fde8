package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code kdefer lab shootout}: one simulated device, its bottom half delivered by each mechanism in
 * turn ({@link Deferrals#SHOOTOUT}), on a fresh kernel each.
 *
 * <p>Per mechanism: a short warm-up at the set rate; a measured phase of {@code --duration} at the
 * set rate, with a task-context probe ({@link TaskProbe}) on the line's CPU, giving the raise to
 * bottom-half pick-up latency (p50, p99, p99.9, max), the process CPU time per event and the
 * probe's wake-up latency; then a sweep of doubling rates, each for a quarter of the duration,
 * that stops at the first rate whose backlog grows (events dropped, or more left at the end of the
 * step than {@code max(32, 2 ms of events)}). The highest rate that held is the sustained rate.
 * When the device itself cannot raise at the rate asked (the host is too slow or too loaded) the
 * sweep stops there too, and a note says so.
 */
@Command(name = "shootout", mixinStandardHelpOptions = true,
        description = "One device, every bottom-half mechanism: latency, sustained rate, CPU per event,"
                + " task latency.")
final class ShootoutCommand extends LabExperiment {
    private static final int IRQ = 10;

    @Option(names = "--rate", defaultValue = "2000", description = "Events per second during the measured phase (default: ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--cost-us", defaultValue = "20", description = "CPU microseconds each event's bottom half spends (default: ${DEFAULT-VALUE}).")
    double costUs;

    @Option(names = "--mechanism", paramLabel = "NAME", split = ",",
            description = "Only these mechanisms (default: all): ${COMPLETION-CANDIDATES}.",
            completionCandidates = Names.class)
    List<String> only;

    /** The mechanism names, for the help text. */
    static final class Names extends ArrayList<String> {
        Names() {
            Deferrals.SHOOTOUT.forEach(d -> add(d.name()));
        }
    }

    private List<Deferral> mechanisms() {
        if (only == null || only.isEmpty()) {
            return Deferrals.SHOOTOUT;
        }
        List<Deferral> out = new ArrayList<>();
        for (String n : only) {
            try {
                out.add(Deferrals.named(n));
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
        }
        return out;
    }

    private int sweepSteps() {
        return options.quick() ? 3 : 7;
    }

    private long sweepSliceNanos() {
        return options.quick() ? 30_000_000L : options.phaseNanos() / 4;
    }

    private long warmupNanos() {
        return options.quick() ? 20_000_000L : Math.min(500_000_000L, options.phaseNanos() / 2);
    }

    @Override
    long expectedNanos() {
        long per = warmupNanos() + options.phaseNanos() + sweepSteps() * sweepSliceNanos();
        return per * mechanisms().size();
    }

    @Override
    Table run(Progress progress, HtmlReport report) throws Exception {
        if (!(rate > 0 && rate <= 1_000_000) || !(costUs >= 0 && costUs <= 100_000)) {
            throw new ParameterException(spec.commandLine(), "--rate must be in (0, 1e6] and --cost-us in [0, 1e5]");
        }
        int cpu = options.cpus() - 1;
        long cost = Math.round(costUs * 1000);
        Table t = new Table(String.format("shootout: %.0f events/s, %.1f us per event, line on CPU %d, %d CPUs",
                rate, costUs, cpu, options.cpus()),
                "mechanism", "p50_us", "p99_us", "p99.9_us", "max_us", "events",
                "sustained_per_s", "cpu_us_per_event", "task_p99_us", "task_max_us");
        Map<String, Histogram> bh = new LinkedHashMap<>();
        Map<String, Histogram> task = new LinkedHashMap<>();
        Map<String, Double> sustainedBars = new LinkedHashMap<>();
        Map<String, Double> cpuBars = new LinkedHashMap<>();
        for (Deferral d : mechanisms()) {
            Kernel.Builder b = Kernel.builder().cpus(options.cpus());
            d.configure(b);
            try (Kernel k = b.build()) {
                Device dev = new Device(k, IRQ, cost, options.seed());
                try (Deferral.Installed in = d.install(k, IRQ, cpu, dev.bottomHalf())) {
                    dev.run(rate, warmupNanos(), progress, d.name());
                    drain(dev, d);
                    dev.takeLatency();   // the warm-up's
                    long handled0 = dev.handled();
                    Histogram probe;
                    CpuTime cpu0;
                    try (TaskProbe p = new TaskProbe(k, cpu)) {
                        cpu0 = CpuTime.start(Thread.currentThread(), p.thread());
                        p.start();
                        dev.run(rate, options.phaseNanos(), progress, d.name());
                        drain(dev, d);
                        probe = p.latency();
                    }
                    long events = dev.handled() - handled0;
                    double cpuPerEvent = cpu0.elapsedNanos() / 1000.0 / Math.max(1, events);
                    Histogram lat = dev.takeLatency();   // before the sweep records its overloads
                    double sustained = sweep(dev, d, t, progress);
                    if (lat.getTotalCount() != events) {
                        throw new IllegalStateException(d.name() + ": the latency histogram holds "
                                + lat.getTotalCount() + " samples for " + events + " events of the measured phase"
                                + " (rule: the row's latencies are the measured phase's, not the sweep's)");
                    }
                    t.row(d.name(), Latency.us(lat, 50), Latency.us(lat, 99), Latency.us(lat, 99.9),
                            Latency.maxUs(lat), events, sustained, cpuPerEvent,
                            Latency.us(probe, 99), Latency.maxUs(probe));
                    bh.put(d.name(), lat);
                    task.put(d.name(), probe);
                    sustainedBars.put(d.name(), sustained);
                    cpuBars.put(d.name(), cpuPerEvent);
                }
            }
        }
        t.note("latency: from the device's raise to the bottom half picking the event up; task: how late a"
                + " task-context thread on CPU " + cpu + " wakes from a 500 us sleep meanwhile");
        t.note("cpu_us_per_event: CPU time of the kernel's threads (all but the device and the probe) per event handled, cost included");
        report.paragraph("The same device (a line raised at " + (long) rate + " events/s, Poisson arrivals, each"
                + " event needing " + costUs + " us of bottom-half work) with its bottom half delivered by each"
                + " mechanism.");
        report.table(t);
        report.svg(Svg.cdf("raise to bottom-half latency", bh));
        report.svg(Svg.cdf("task-context wake-up latency on the line's CPU", task));
        report.svg(Svg.bars("highest rate sustained without a growing backlog", "events/s", sustainedBars));
        report.svg(Svg.bars("CPU per event", "us of CPU per event (kernel threads)", cpuBars));
        return t;
    }

    private static void drain(Device dev, Deferral d) {
        if (!dev.awaitDrained(5_000_000_000L)) {
            throw new IllegalStateException(d.name() + ": the bottom half did not catch up within 5 s");
        }
    }

    /** The doubling-rate sweep; returns the highest rate that held (0 if the first did not). */
    private double sweep(Device dev, Deferral d, Table t, Progress progress) {
        double best = 0;
        double r = rate;
        for (int i = 0; i < sweepSteps(); i++, r *= options.quick() ? 4 : 2) {
            Device.Run run = dev.run(r, sweepSliceNanos(), progress, d.name() + " sweep");
            boolean drained = dev.awaitDrained(2_000_000_000L);
            if (run.achievedRate() < 0.9 * r) {
                t.note(String.format("%s: the device reached only %.0f of %.0f events/s; the sweep stopped there",
                        d.name(), run.achievedRate(), r));
                break;
            }
            boolean held = run.dropped == 0 && run.backlogAtEnd <= Math.max(32, r * 0.002) && drained;
            if (!held) {
                break;
            }
            best = r;
        }
        return best;
    }
}

package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.tasklet.Tasklet;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * {@code kdefer lab jit}: LDD3's observation about {@code /proc/jitasklet} (chapter 7), measured. A
 * tasklet is scheduled from hardirq context on one CPU and the delay until its callback starts is
 * recorded, one sample at a time: on an idle CPU, and on a CPU loaded with a softirq flood (a
 * NET_RX action that spends {@code --load-us} per pass and raises itself again), with
 * {@code tasklet_schedule} and with {@code tasklet_hi_schedule}. Also counted: the share of runs
 * that {@code ksoftirqd} made (the loop's budget ran out and the daemon took over).
 */
@Command(name = "jit", mixinStandardHelpOptions = true,
        description = "Tasklet start delay on an idle and on a loaded CPU, normal and HI priority (LDD3 ch. 7).")
final class JitLabCommand extends LabExperiment {
    @Option(names = "--load-us", defaultValue = "300", description = "Microseconds each flood pass burns on the loaded CPU (default: ${DEFAULT-VALUE}).")
    long loadUs;

    /** A NET_RX action that, while on, burns and raises itself again: the CPU's busy work. */
    private static final class Flood implements Runnable {
        private final Kernel kernel;
        private final long burnNanos;
        volatile boolean on;

        Flood(Kernel kernel, long burnNanos) {
            this.kernel = kernel;
            this.burnNanos = burnNanos;
            kernel.softirqs().open(SoftirqVector.NET_RX, this);
        }

        @Override
        public void run() {
            if (on) {
                Burn.nanos(burnNanos);
                kernel.softirqs().raise(SoftirqVector.NET_RX);
            }
        }
    }

    @Override
    long expectedNanos() {
        return 4 * options.phaseNanos();
    }

    @Override
    Table run(Progress progress, HtmlReport report) throws Exception {
        int cpu = options.cpus() - 1;
        Table t = new Table("jit: tasklet start delay after a schedule from hardirq context on CPU " + cpu,
                "variant", "p50_us", "p99_us", "max_us", "samples", "ksoftirqd_pct");
        Map<String, Histogram> plots = new LinkedHashMap<>();
        try (Kernel k = Kernel.builder().cpus(options.cpus()).build()) {
            Flood flood = new Flood(k, loadUs * 1000);
            for (boolean loaded : new boolean[] {false, true}) {
                if (loaded) {
                    flood.on = true;
                    k.smpCallFunctionSingle(cpu, () -> k.softirqs().raise(SoftirqVector.NET_RX), true);
                }
                for (boolean hi : new boolean[] {false, true}) {
                    String name = (hi ? "tasklet-hi" : "tasklet") + (loaded ? "/loaded" : "/idle");
                    Histogram h = Latency.histogram();
                    long[] byDaemon = new long[1];
                    long samples = sample(k, cpu, hi, h, byDaemon, progress, name);
                    t.row(name, Latency.us(h, 50), Latency.us(h, 99), Latency.maxUs(h), samples,
                            100.0 * byDaemon[0] / Math.max(1, samples));
                    plots.put(name, h);
                }
                flood.on = false;
            }
        }
        t.note("loaded: a NET_RX flood spends " + loadUs + " us per pass on CPU " + cpu
                + "; ksoftirqd_pct: share of tasklet runs made by ksoftirqd");
        report.paragraph("LDD3 (chapter 7) notes that a tasklet runs at once on an idle CPU and only after"
                + " the busy work on a loaded one, and that the HI priority makes no difference a person could see.");
        report.table(t);
        report.svg(Svg.cdf("tasklet start delay", plots));
        return t;
    }

    /** Schedules the tasklet one sample at a time until the phase is over; returns the samples taken. */
    private long sample(Kernel k, int cpu, boolean hi, Histogram h, long[] byDaemon, Progress progress, String name)
            throws InterruptedException {
        Semaphore ran = new Semaphore(0);
        long[] stamp = new long[1];   // written before the schedule, read by the callback after it
        Tasklet tasklet = Tasklet.setup(k, x -> {
            h.recordValue(Math.max(0, System.nanoTime() - stamp[0]));
            if (Thread.currentThread().getName().startsWith("ksoftirqd")) {
                byDaemon[0]++;
            }
            ran.release();
        });
        long end = System.nanoTime() + options.phaseNanos();
        long n = 0;
        try {
            while (System.nanoTime() - end < 0 && n < 100_000) {
                k.smpCallFunctionSingle(cpu, () -> {
                    stamp[0] = System.nanoTime();
                    if (hi) {
                        tasklet.hiSchedule();
                    } else {
                        tasklet.schedule();
                    }
                }, false);
                if (!ran.tryAcquire(10, TimeUnit.SECONDS)) {
                    throw new IllegalStateException(name + ": the tasklet did not run within 10 s");
                }
                n++;
                progress.update(name);
                java.util.concurrent.locks.LockSupport.parkNanos(100_000);   // let the CPU go idle between samples
            }
        } finally {
            tasklet.kill();
        }
        return n;
    }
}

package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.tasklet.Tasklet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code /proc/jitasklet} and {@code /proc/jitasklethi}: a reader prints a header and one row from
 * task context, then schedules a tasklet that prints a row and re-schedules itself until it has
 * printed {@code JIT_ASYNC_LOOPS} (5) rows.
 *
 * <p>Columns as in LDD3: {@code time} is jiffies, {@code delta} the jiffies since the previous
 * row, {@code inirq} is {@code in_interrupt()}, {@code pid} and {@code command} are the id and
 * name of the Java thread that produced the row ({@code cpu/N} for the CPU's interrupt context,
 * {@code ksoftirqd/N} for the daemon), {@code cpu} is {@code smp_processor_id()}.
 *
 * <p>Where the first run happens: LDD3's read() schedules from process context; on the book's
 * busy machine the tasklet was reached at the exit of the next timer interrupt, in the context of
 * the task that interrupt had interrupted. kdefer has no periodic tick to wait for, so by default
 * the reader hands the schedule to its CPU's interrupt context, and the rows come from
 * {@code cpu/N}'s irq exit. {@code --from-task} schedules from the reader's own task context,
 * where the raise wakes {@code ksoftirqd/N} at once, as a modern idle kernel does.
 * The command reads twice and prints the second read, so that class loading and JIT
 * compilation of the first do not show up as deltas ({@code --cold} prints the first).
 * {@code --load} floods the CPU with a softirq that burns most of each pass, so the 2 ms budget
 * runs out and the remaining rows come from {@code ksoftirqd/N}, a jiffy or two apart.
 */
abstract class JitTaskletCommand implements java.util.concurrent.Callable<Integer> {
    /** {@code JIT_ASYNC_LOOPS}. */
    static final int JIT_ASYNC_LOOPS = 5;

    @Spec
    CommandSpec spec;

    @Option(names = "--cpus", defaultValue = "2", description = "Virtual CPUs (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--cpu", defaultValue = "0", description = "CPU the reader runs on (default: ${DEFAULT-VALUE}).")
    int cpu;

    @Option(names = "--hz", defaultValue = "1000", description = "HZ: 100, 250, 300 or 1000 (default: ${DEFAULT-VALUE}).")
    int hz;

    @Option(names = "--load", description = "Keep the CPU busy with a softirq flood, so the budget runs out"
            + " and the tasklet is handed to ksoftirqd.")
    boolean load;

    @Option(names = "--load-us", defaultValue = "600", description = "Microseconds each flood pass burns (default: ${DEFAULT-VALUE}).")
    long loadMicros;

    @Option(names = "--cold", description = "Print the first read of a fresh JVM (class loading and"
            + " compilation show up as large deltas) instead of reading once to warm up.")
    boolean cold;

    @Option(names = "--from-task", description = "Schedule from the reader's task context (wakes ksoftirqd)"
            + " instead of from the CPU's interrupt context.")
    boolean fromTask;

    abstract boolean hi();

    @Override
    public Integer call() throws Exception {
        CpuOptions.check(spec, cpus, cpu);
        try (Kernel kernel = Kernel.builder().cpus(cpus).hz(hz).build()) {
            if (!cold) {
                read(kernel);   // like cat-ing the file twice: the first read pays for class loading and JIT
            }
            String table = read(kernel);
            PrintWriter out = spec.commandLine().getOut();
            out.print(table);
            out.flush();
        }
        return 0;
    }

    /** One read of the /proc file: the whole table. */
    String read(Kernel kernel) throws InterruptedException {
        final JitRows rows = new JitRows(JIT_ASYNC_LOOPS + 1);
        final int[] loops = {JIT_ASYNC_LOOPS};
        final CountDownLatch done = new CountDownLatch(1);
        final boolean hi = hi();
        final Flood flood = load ? Flood.of(kernel, loadMicros * 1000) : null;

        kernel.runOnCpu(cpu, () -> {
            rows.add(kernel);
            return null;
        });

        // the callback: one row per run, re-schedule until the loops are spent (jit_tasklet_fn)
        Tasklet tasklet = Tasklet.setup(kernel, t -> {
            rows.add(kernel);
            if (--loops[0] > 0) {
                if (hi) {
                    t.hiSchedule();
                } else {
                    t.schedule();
                }
            } else {
                done.countDown();
            }
        });

        Runnable arm = () -> {
            if (flood != null) {
                flood.start();
            }
            if (hi) {
                tasklet.hiSchedule();
            } else {
                tasklet.schedule();
            }
        };
        if (fromTask) {
            kernel.runOnCpu(cpu, () -> {
                arm.run();
                return null;
            });
        } else {
            kernel.smpCallFunctionSingle(cpu, arm, false);
        }
        if (!done.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the tasklet did not finish its " + JIT_ASYNC_LOOPS + " runs in 30 s");
        }
        if (flood != null) {
            flood.stop();
        }
        tasklet.kill();
        return rows.format();
    }

    /** A NET_RX flood: each pass burns some microseconds and raises the vector again. */
    static final class Flood implements Runnable {
        private final Kernel kernel;
        private final long burnNanos;
        private volatile boolean on;

        private static final java.util.Map<Kernel, Flood> FLOODS = new java.util.WeakHashMap<>();

        private Flood(Kernel kernel, long burnNanos) {
            this.kernel = kernel;
            this.burnNanos = burnNanos;
            kernel.softirqs().open(SoftirqVector.NET_RX, this);
        }

        /** The kernel's flood (open_softirq is once per vector, so one per kernel). */
        static synchronized Flood of(Kernel kernel, long burnNanos) {
            return FLOODS.computeIfAbsent(kernel, k -> new Flood(k, burnNanos));
        }

        /** Raises the flood on the caller's CPU (call it in interrupt context). */
        void start() {
            on = true;
            kernel.softirqs().raise(SoftirqVector.NET_RX);
        }

        void stop() {
            on = false;
        }

        @Override
        public void run() {
            if (!on) {
                return;
            }
            long end = System.nanoTime() + burnNanos;
            while (System.nanoTime() - end < 0) {
                Thread.onSpinWait();
            }
            kernel.softirqs().raise(SoftirqVector.NET_RX);
        }
    }

    @Command(name = "tasklet", mixinStandardHelpOptions = true,
            description = "/proc/jitasklet: a self-rescheduling tasklet (TASKLET_SOFTIRQ) prints 5 rows.")
    static final class Normal extends JitTaskletCommand {
        @Override
        boolean hi() {
            return false;
        }
    }

    @Command(name = "tasklethi", mixinStandardHelpOptions = true,
            description = "/proc/jitasklethi: the same with tasklet_hi_schedule (HI_SOFTIRQ).")
    static final class Hi extends JitTaskletCommand {
        @Override
        boolean hi() {
            return true;
        }
    }
}

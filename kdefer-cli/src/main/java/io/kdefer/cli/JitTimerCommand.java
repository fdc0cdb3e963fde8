package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.timer.KernelTimer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code /proc/jitimer}: the reader prints a header and one row from task context, arms a kernel
 * timer {@code tdelay} jiffies ahead and waits; the timer's callback prints a row and re-arms
 * itself with {@code expires += tdelay} until it has printed {@code JIT_ASYNC_LOOPS} (5) rows.
 *
 * <p>Columns as in {@code jit tasklet}: {@code time} is jiffies, {@code delta} the jiffies since the
 * previous row, {@code inirq} is {@code in_interrupt()}, {@code pid} and {@code command} the id and
 * name of the Java thread that produced the row, {@code cpu} is {@code smp_processor_id()}.
 *
 * <p>Expected deltas: the first expiry, {@code j + tdelay}, falls into the level-0 bucket that
 * expires one jiffy later (a timer never fires early), so the first delta is {@code tdelay + 1}.
 * Each re-arm adds {@code tdelay} to the previous <em>expiry</em>, not to the time the callback
 * ran, so the later rows are exactly {@code tdelay} apart and do not drift. A callback that runs
 * late (a busy machine) shows a larger delta, and the next row a smaller one.
 *
 * <p>The timer is armed from the reader's task context on {@code --cpu}, so its rows come from
 * that CPU's timer softirq ({@code cpu/N} at irq exit, or {@code ksoftirqd/N}). The command reads
 * twice and prints the second read ({@code --cold} prints the first), as {@code jit tasklet} does.
 */
@Command(name = "timer", mixinStandardHelpOptions = true,
        description = "/proc/jitimer: a kernel timer that re-arms itself every tdelay jiffies prints 5 rows.")
final class JitTimerCommand implements Callable<Integer> {
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

    @Option(names = "--tdelay", defaultValue = "10", description = "Jiffies between expiries (default: ${DEFAULT-VALUE}).")
    long tdelay;

    @Option(names = "--cold", description = "Print the first read of a fresh JVM (class loading and"
            + " compilation may make a callback late) instead of reading once to warm up.")
    boolean cold;

    @Override
    public Integer call() throws Exception {
        CpuOptions.check(spec, cpus, cpu);
        if (tdelay < 0) {
            throw new ParameterException(spec.commandLine(), "--tdelay must not be negative: " + tdelay);
        }
        try (Kernel kernel = Kernel.builder().cpus(cpus).hz(hz).build()) {
            if (!cold) {
                read(kernel);
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
        final long step = tdelay;

        // jit_timer_fn: one row per expiry; re-arm relative to the previous expiry
        final KernelTimer timer = KernelTimer.setup(kernel, t -> {
            rows.add(kernel);
            if (--loops[0] > 0) {
                t.add(t.expires() + step);
            } else {
                done.countDown();
            }
        });

        kernel.runOnCpu(cpu, () -> {
            long j = rows.add(kernel);
            timer.add(j + step);
            return null;
        });

        // the timer needs about 5 * tdelay + 1 jiffies; allow for a slow machine on top
        long expectedMillis = kernel.jiffiesToMsecs(JIT_ASYNC_LOOPS * step + 1);
        if (!done.await(30_000 + expectedMillis, TimeUnit.MILLISECONDS)) {
            timer.shutdownSync();
            throw new IllegalStateException("the timer did not fire " + JIT_ASYNC_LOOPS + " times in "
                    + (30_000 + expectedMillis) + " ms");
        }
        timer.deleteSync();
        return rows.format();
    }
}

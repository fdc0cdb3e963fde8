package io.kdefer.tasklet;

import io.kdefer.Kernel;
import io.kdefer.KernelStats;
import io.kdefer.ManualClock;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Waits;

import java.util.List;

/**
 * A kernel for one tasklet test, with a {@link ManualClock} (time moves only when a test ticks it)
 * and an error handler that records what callbacks threw.
 *
 * <p>The constructor returns once every {@code cpu/N} and {@code ksoftirqd/N} thread of the new
 * kernel is parked ({@link TestKernels#start}). Without that, a {@code ksoftirqd} that has just
 * started could see a vector raised by a test's hardirq and take the CPU's bottom halves before
 * that hardirq's {@code irq_exit}, which would make "runs at irq_exit on {@code cpu/N}" a race.
 *
 * <p>{@link #close()} closes the kernel (idempotent) and then fails if a callback reported an
 * error the test did not take with {@link #takeErrors()}. The waits, the worker threads and the
 * error collector are the testkit's ({@link Waits}, {@link io.kdefer.testkit.Worker},
 * {@link CollectingErrors}).
 */
final class TaskletHarness implements AutoCloseable {
    /** A test body that may throw anything. */
    @FunctionalInterface
    interface Body {
        void run() throws Exception;
    }

    final ManualClock clock;
    final Kernel kernel;
    private final CollectingErrors errors = new CollectingErrors();

    TaskletHarness(int cpus) {
        this(cpus, false);
    }

    TaskletHarness(int cpus, boolean faithful) {
        this.kernel = TestKernels.start(TestKernels.manual(cpus, errors).faithful(faithful));
        this.clock = TestKernels.clock(kernel);
    }

    // ---------------------------------------------------------------- running code on a CPU

    /** Runs {@code body} in task context on {@code cpu} (bottom halves enabled), on this thread. */
    void onCpu(int cpu, Body body) {
        kernel.workOnCpu(cpu, () -> {
            body.run();
            return null;
        });
    }

    /**
     * Runs {@code body} on {@code cpu} with bottom halves disabled; the softirqs it raises run on
     * this thread inside the closing {@code localBhEnable()}, before this method returns.
     */
    void bhSection(int cpu, Body body) {
        onCpu(cpu, () -> {
            kernel.localBhDisable();
            try {
                body.run();
            } finally {
                kernel.localBhEnable();
            }
        });
    }

    /** Runs {@code fn} in hardirq context on {@code cpu/N} and waits for it and its irq_exit. */
    void hardirq(int cpu, Runnable fn) {
        kernel.smpCallFunctionSingle(cpu, fn, true);
    }

    // ---------------------------------------------------------------- statistics

    long stat(int cpu, KernelStats.Counter counter) {
        return kernel.stats().get(cpu, counter);
    }

    /** Spins until {@code counter} on {@code cpu} reaches {@code atLeast}. */
    void awaitStat(int cpu, KernelStats.Counter counter, long atLeast) {
        Waits.spinUntil(() -> stat(cpu, counter) >= atLeast,
                () -> counter + " on cpu " + cpu + " reaching " + atLeast + ": " + kernel.stats());
    }

    // ---------------------------------------------------------------- errors

    /** The errors reported so far, removed from the record. */
    List<CollectingErrors.Report> takeErrors() {
        return errors.take();
    }

    /** Closes the kernel, then fails if an error was reported that the test did not take. */
    @Override
    public void close() {
        kernel.close();
        errors.assertNone();
    }
}

package io.kdefer.tasklet;

import io.kdefer.Kernel;
import io.kdefer.KernelStats;
import io.kdefer.ManualClock;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Waits;
import io.kdefer.workqueue.Work;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A kernel for one tasklet test, on one {@link TaskletBackend}, with a {@link ManualClock} (time
 * moves only when a test ticks it) and an error handler that records what callbacks threw.
 *
 * <p>The tasklet tests run once per backend ({@code @ParameterizedClass} over
 * {@link TaskletBackend}). What depends on the backend is answered here, in one place: the context
 * and the thread a callback runs on ({@link #callbackContext()}, {@link #runner}), whether the
 * callbacks a bottom-half-disabled section queued have run when it ends
 * ({@link #awaitSectionRuns}), and the assumptions that skip a property a backend does not have.
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

    /** Where a tasklet was scheduled from: this decides which thread runs it. */
    enum From {
        /** Task context, bottom halves enabled ({@link #onCpu}, {@code runOnCpu}). */
        TASK,
        /** A hardirq on {@code cpu/N} ({@link #hardirq}). */
        HARDIRQ,
        /** A bottom-half-disabled section on the test thread ({@link #bhSection}). */
        BH_SECTION
    }

    /** {@link #context()} of a thread serving a softirq (a softirq action, also in ksoftirqd). */
    static final String SOFTIRQ = "softirq";
    /** {@link #context()} of a task that disabled bottom halves and serves no softirq. */
    static final String TASK_BH_DISABLED = "task, bottom halves disabled";

    final TaskletBackend backend;
    final ManualClock clock;
    final Kernel kernel;
    private final CollectingErrors errors = new CollectingErrors();

    TaskletHarness(TaskletBackend backend, int cpus) {
        this(backend, cpus, false);
    }

    TaskletHarness(TaskletBackend backend, int cpus, boolean faithful) {
        this.backend = backend;
        this.kernel = TestKernels.start(TestKernels.manual(cpus, errors).faithful(faithful).taskletBackend(backend));
        this.clock = TestKernels.clock(kernel);
    }

    // ---------------------------------------------------------------- what the backend decides

    /**
     * True when callbacks of {@code backend} run serving a softirq (TASKLET or HI vector): the
     * per-CPU lists ({@code SOFTIRQ}) and BH work items ({@code BH_WORKQUEUE}). False for
     * {@code WORKQUEUE}, whose callbacks run on a kworker with bottom halves disabled.
     */
    static boolean servesSoftirq(TaskletBackend backend) {
        return backend != TaskletBackend.WORKQUEUE;
    }

    /** {@link #servesSoftirq(TaskletBackend)} of this kernel's backend. */
    boolean servesSoftirq() {
        return servesSoftirq(backend);
    }

    /** The context every tasklet callback runs in on this backend, as {@link #context()} names it. */
    String callbackContext() {
        return servesSoftirq() ? SOFTIRQ : TASK_BH_DISABLED;
    }

    /** The caller's context: "hardirq", {@link #SOFTIRQ}, {@link #TASK_BH_DISABLED} or "task". */
    String context() {
        if (kernel.inHardirq()) {
            return "hardirq";
        }
        if (kernel.inServingSoftirq()) {
            return SOFTIRQ;
        }
        return kernel.inSoftirq() ? TASK_BH_DISABLED : "task";
    }

    /**
     * A regular expression for the name of the thread that runs a callback scheduled on {@code cpu}
     * from {@code from} (for {@link From#BH_SECTION}: by the calling thread). Serving a softirq, that
     * is where the vector was raised from: a task wakes {@code ksoftirqd/N}, a hardirq runs it at its
     * irq exit on {@code cpu/N}, a section at its closing {@code localBhEnable()} on the caller. On
     * {@code WORKQUEUE} it is always a kworker of the CPU's pool: {@code kworker/N:M} for
     * {@code ktasklets}, {@code kworker/N:MH} for {@code ktasklets_hi}.
     */
    String runner(int cpu, From from, boolean hi) {
        if (!servesSoftirq()) {
            return "kworker/" + cpu + ":\\d+" + (hi ? "H" : "");
        }
        switch (from) {
            case TASK:
                return "ksoftirqd/" + cpu;
            case HARDIRQ:
                return "cpu/" + cpu;
            case BH_SECTION:
                return Pattern.quote(Thread.currentThread().getName());
            default:
                throw new IllegalArgumentException(String.valueOf(from));
        }
    }

    /**
     * Call after a {@link #bhSection} that queued the callbacks counting {@code ran} down. Serving
     * a softirq they ran inside the section's closing {@code localBhEnable()}, on this thread, before
     * it returned: asserted. On {@code WORKQUEUE} a kworker runs them once the section gave the CPU's
     * bottom halves back (its own {@code localBhDisable()} waits for that): awaited.
     */
    void awaitSectionRuns(CountDownLatch ran) {
        if (servesSoftirq()) {
            assertThat(ran.getCount()).as("callbacks left to run after the section's localBhEnable()").isZero();
        } else {
            Waits.await(ran);
        }
    }

    /** Skips the rest of the test unless {@code backend} is {@code expected}; {@code why} says why. */
    static void assumeBackend(TaskletBackend backend, TaskletBackend expected, String why) {
        assumeTrue(backend == expected, () -> "not on " + backend + ": " + why);
    }

    /** Skips the rest of the test unless callbacks of {@code backend} serve a softirq; {@code why} says why. */
    static void assumeServesSoftirq(TaskletBackend backend, String why) {
        assumeTrue(servesSoftirq(backend), () -> "not on " + backend + ": " + why);
    }

    /** The work item that carries {@code t}'s runs for the vector on a workqueue backend. */
    Work carrier(Tasklet t, boolean hi) {
        assertThat(backend).as("carriers exist on the workqueue backends").isNotEqualTo(TaskletBackend.SOFTIRQ);
        return t.carriers[hi ? 1 : 0];
    }

    // ---------------------------------------------------------------- running code on a CPU

    /** Runs {@code body} in task context on {@code cpu} (bottom halves enabled), on this thread. */
    void onCpu(int cpu, Body body) {
        kernel.runOnCpu(cpu, () -> {
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

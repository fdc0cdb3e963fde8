package io.kdefer.jcstress.workqueue;

import io.kdefer.Kernel;
import io.kdefer.testkit.BoundedSpin;
import io.kdefer.workqueue.Work;
import io.kdefer.workqueue.Workqueue;

import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;

/**
 * The kdefer kernel of the workqueue litmus tests, one per test JVM: a kernel starts two threads
 * per CPU and its worker pools start kworkers on demand, far too costly to build per jcstress
 * state. Every state makes its own fresh {@link Work} items on it. It is closed by a shutdown hook
 * when the test JVM ends, which runs whatever is still queued and joins every thread it started.
 *
 * <p>Two CPUs with the default idle strategy (park), so that a test can queue from and to either
 * CPU and an item's runs happen on the kworkers of both CPUs' pools, or on an actor's own thread
 * for the BH queue ({@link #queueBhAndRunHere}).
 *
 * <p>How jcstress drives the actors matters to the tests: each actor thread runs its method over a
 * whole stride of states without waiting for the other actor, so two actors are only loosely in
 * step, and the arbiters run after the stride. A test that needs its actors to meet on one state
 * makes them wait for each other with {@link #meet}, a bounded wait.
 */
final class WqKernel {
    static final int CPU0 = 0;
    static final int CPU1 = 1;
    /** Recorded when a wait ran out of its budget: the run or the event owed never came. */
    static final int TIMEOUT = BoundedSpin.TIMEOUT;
    /** Recorded when more runs came than the calls that returned true owed. */
    static final int EXTRA_RUN = -2;

    static final Kernel KERNEL = Kernel.builder().cpus(2).build();
    /** A per-CPU workqueue of the tests' own ({@code alloc_workqueue("jcstress", 0, 0)}). */
    static final Workqueue PERCPU = KERNEL.allocWorkqueue("jcstress", 0);
    /** {@code system_bh_wq}: items run in the queueing CPU's TASKLET softirq. */
    static final Workqueue BH = KERNEL.systemBhWq();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(KERNEL::close, "kdefer-jcstress-close"));
    }

    private WqKernel() {
    }

    /** Runs {@code fn} on the calling thread in task context on {@code cpu} ({@code Kernel.runOnCpu}). */
    static <T> T onCpu(int cpu, Callable<T> fn) {
        return KERNEL.runOnCpu(cpu, fn);
    }

    /**
     * On {@code cpu}, with bottom halves disabled, runs {@code queue} (which queues on the BH
     * workqueue); the outermost {@code local_bh_enable()} then runs the CPU's pending BH items on
     * the calling thread before this returns. This is how an actor becomes the worker that runs an
     * item: its clear of PENDING and its call of the function happen on the actor's own thread, in
     * step with the other actor.
     */
    static boolean queueBhAndRunHere(int cpu, Callable<Boolean> queue) {
        return KERNEL.runOnCpu(cpu, () -> {
            KERNEL.localBhDisable();
            try {
                return queue.call();
            } finally {
                KERNEL.localBhEnable();
            }
        });
    }

    /**
     * The rendezvous of two actors on one state: waits (bounded) until {@code partnerArrived}
     * holds. Each actor publishes its own arrival before it waits for the other's, so the two never
     * wait for each other in a cycle. False when the partner never came.
     */
    static boolean meet(BooleanSupplier partnerArrived) {
        return BoundedSpin.hold(partnerArrived);
    }

    /** How long {@link #spinUntil} spins without yielding before it falls back to {@link #meet}. */
    private static final long TIGHT_SPIN_NANOS = 1_000_000;

    /**
     * As {@link #meet}, but spins without yielding for the first millisecond: for an actor that must
     * react to its partner within nanoseconds (a yield can take microseconds).
     */
    static boolean spinUntil(BooleanSupplier partnerArrived) {
        long start = System.nanoTime();
        for (int i = 1; ; i++) {
            if (partnerArrived.getAsBoolean()) {
                return true;
            }
            if ((i & 63) == 0 && System.nanoTime() - start > TIGHT_SPIN_NANOS) {
                return meet(partnerArrived);
            }
            Thread.onSpinWait();
        }
    }

    /**
     * Waits until {@code work} has made at least {@code expectedRuns} runs (as counted by
     * {@code runs}, which its function increments) and is neither pending nor running, so no further
     * run can start without a new queueing. False when the budget ran out.
     */
    static boolean quiescent(Work work, IntSupplier runs, int expectedRuns) {
        return BoundedSpin.until(() -> runs.getAsInt() >= expectedRuns && work.busy() == 0);
    }

    /** 1 for true, 0 for false. */
    static int bit(boolean b) {
        return b ? 1 : 0;
    }
}

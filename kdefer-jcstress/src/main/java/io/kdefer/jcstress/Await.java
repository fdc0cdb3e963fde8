package io.kdefer.jcstress;

import io.kdefer.tasklet.Tasklet;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;

/**
 * Bounded waits for arbiters: "the run that must follow has happened". A liveness check, not a
 * timing assumption: the budget is generous, and running out of it is reported as a FORBIDDEN
 * outcome (TIMEOUT) rather than waited out.
 *
 * <p>After the first timeout in a JVM the budget shrinks, so that a core that lost a run does not
 * make every later state of the test wait the full budget too.
 */
final class Await {
    /** Returned in place of an observation when the awaited run never came. */
    static final int TIMEOUT = -1;

    private static final long BUDGET_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long BUDGET_AFTER_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private static volatile boolean timedOut;

    private Await() {
    }

    /**
     * Waits until the tasklet has made at least {@code expectedRuns} runs (as counted by
     * {@code runs}, which the callback increments) and is neither queued nor running, so no
     * further run can start without a new schedule. Returns false when the budget ran out.
     */
    static boolean quiescent(Tasklet tasklet, IntSupplier runs, int expectedRuns) {
        return until(() -> runs.getAsInt() >= expectedRuns && !tasklet.isScheduled() && !tasklet.isRunning());
    }

    /**
     * Spins until {@code done} holds; false when the budget ran out (5 s, 20 ms after a first
     * timeout in this JVM). The caller reports false as a FORBIDDEN outcome (TIMEOUT).
     */
    static boolean until(BooleanSupplier done) {
        long start = System.nanoTime();
        long budget = timedOut ? BUDGET_AFTER_TIMEOUT_NANOS : BUDGET_NANOS;
        for (int i = 1; ; i++) {
            if (done.getAsBoolean()) {
                return true;
            }
            if ((i & 63) == 0) {
                if (System.nanoTime() - start > budget) {
                    timedOut = true;
                    return false;
                }
                Thread.yield();   // two host CPUs: let the kdefer thread we wait for have one
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /**
     * As {@link #until}, but with the full budget always and without counting a timeout: for an
     * actor that only keeps a state's conditions in place (holds a resource, stays away from a
     * shared one) while another actor judges the state, so that a slow partner is never mistaken
     * for a lost run.
     */
    static boolean hold(BooleanSupplier done) {
        long start = System.nanoTime();
        for (int i = 1; ; i++) {
            if (done.getAsBoolean()) {
                return true;
            }
            if ((i & 63) == 0) {
                if (System.nanoTime() - start > BUDGET_NANOS) {
                    return false;
                }
                Thread.yield();
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /** Busy-waits about {@code n} spin hints: widens a callback's window without sleeping. */
    static void spin(int n) {
        for (int i = 0; i < n; i++) {
            Thread.onSpinWait();
        }
    }
}

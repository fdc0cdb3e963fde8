package io.kdefer.testkit;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Bounded spinning for code that must report a missed event rather than fail: jcstress arbiters
 * and actors, which record "the run that had to follow never came" as an outcome of their own.
 * Needs no test framework.
 *
 * <p>A liveness check, not a timing assumption: the budget is generous, and running out of it
 * returns false, which the caller reports (as {@link #TIMEOUT}, a FORBIDDEN outcome). After the
 * first timeout in a JVM the budget shrinks, so that a broken core does not make every later
 * state of the test wait the full budget too.
 */
public final class BoundedSpin {
    /** What a caller records in place of an observation when {@link #until} returned false. */
    public static final int TIMEOUT = -1;

    private static final long BUDGET_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long BUDGET_AFTER_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private static volatile boolean timedOut;

    private BoundedSpin() {
    }

    /**
     * Spins until {@code done} holds: true then; false when the budget (5 s, 20 ms after a first
     * timeout in this JVM) ran out. Yields now and then, so that on a host with few CPUs the
     * threads being waited for get one.
     */
    public static boolean until(BooleanSupplier done) {
        if (spin(done, timedOut ? BUDGET_AFTER_TIMEOUT_NANOS : BUDGET_NANOS)) {
            return true;
        }
        timedOut = true;
        return false;
    }

    /**
     * As {@link #until}, but always with the full budget and without counting a timeout: for an
     * actor that only keeps a state's conditions in place (holds a resource, stays away from a
     * shared one) while another actor judges the state, so that a slow partner on a loaded host is
     * never mistaken for a lost run.
     */
    public static boolean hold(BooleanSupplier done) {
        return spin(done, BUDGET_NANOS);
    }

    private static boolean spin(BooleanSupplier done, long budget) {
        long start = System.nanoTime();
        for (int i = 1; ; i++) {
            if (done.getAsBoolean()) {
                return true;
            }
            if ((i & 63) == 0) {
                if (System.nanoTime() - start > budget) {
                    return false;
                }
                Thread.yield();
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /** Busy-waits about {@code n} spin hints: widens a callback's window without sleeping. */
    public static void spin(int n) {
        for (int i = 0; i < n; i++) {
            Thread.onSpinWait();
        }
    }
}

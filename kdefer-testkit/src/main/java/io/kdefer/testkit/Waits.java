package io.kdefer.testkit;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Waits for things another thread does, each bounded by a hang guard.
 *
 * <p>Nothing here waits for time to pass. {@link #HANG_GUARD_SECONDS} only bounds a wait that
 * would otherwise last forever on a broken kernel, so that the test fails naming what did not
 * happen instead of hanging: a passing run never comes near it, and no assertion depends on how
 * long anything took.
 *
 * <p>Every method throws {@link AssertionError} on failure and no checked exception, so each is
 * usable from a callback too (a tasklet that holds its CPU until the test releases a latch). An
 * interrupt of the waiting thread fails the wait and stays set.
 */
public final class Waits {
    /** Upper bound for a wait that must end in a working kernel; a hang guard, not a timing claim. */
    public static final long HANG_GUARD_SECONDS = 30;

    private Waits() {
    }

    /** The hang guard's deadline for a wait that starts now, on {@link System#nanoTime()}. */
    static long deadline() {
        return System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_GUARD_SECONDS);
    }

    /** Waits for {@code latch}; fails if it is not released. */
    public static void await(CountDownLatch latch) {
        await(latch, "latch released");
    }

    /** Waits for {@code latch}; fails with {@code what} if it is not released. */
    public static void await(CountDownLatch latch, String what) {
        boolean released;
        try {
            released = latch.await(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for: " + what, e);
        }
        if (!released) {
            throw new AssertionError("never happened: " + what);
        }
    }

    /** Waits at {@code barrier}; fails if not every party arrives. */
    public static void await(CyclicBarrier barrier) {
        try {
            barrier.await(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted at a barrier", e);
        } catch (Exception e) {
            throw new AssertionError("barrier not reached by every party", e);
        }
    }

    /**
     * Spins until {@code condition} holds; fails with {@code what} if it does not. For states
     * another thread reaches by itself, never as a delay.
     */
    public static void spinUntil(BooleanSupplier condition, String what) {
        spinUntil(condition, () -> what);
    }

    /** As {@link #spinUntil(BooleanSupplier, String)}; {@code what} is computed only on failure. */
    public static void spinUntil(BooleanSupplier condition, Supplier<String> what) {
        long deadline = deadline();
        while (!condition.getAsBoolean()) {
            check(deadline, what);
            Thread.onSpinWait();
        }
    }

    /** Spins until {@code thread} is parked (WAITING, or TIMED_WAITING for a timed idle) or has ended. */
    public static void awaitParked(Thread thread) {
        spinUntilState(thread, false, thread.getName() + " parked or ended");
    }

    /**
     * Spins until {@code thread} is parked or blocked on a monitor (or has ended). Used to know
     * that a thread reached the point where it waits, never as a delay.
     */
    public static void awaitBlocked(Thread thread) {
        spinUntilState(thread, true, thread.getName() + " parked, blocked or ended");
    }

    /**
     * Spins until {@code thread} is parked ({@link Thread.State#WAITING}) with a blocker that
     * {@code blocker} accepts ({@link java.util.concurrent.locks.LockSupport#getBlocker}: kdefer's
     * sleeps and waits name the kernel or its wait queue), or has ended.
     */
    public static void awaitParkedOn(Thread thread, Predicate<Object> blocker) {
        long deadline = deadline();
        while (thread.isAlive()
                && !(thread.getState() == Thread.State.WAITING && blocker.test(LockSupport.getBlocker(thread)))) {
            check(deadline, () -> thread.getName() + " parked on the expected blocker or ended");
            Thread.onSpinWait();
        }
    }

    /** Spins until {@code thread} is {@link Thread.State#WAITING}; fails if it ends instead. */
    public static void awaitWaiting(Thread thread) {
        long deadline = deadline();
        for (;;) {
            Thread.State s = thread.getState();
            if (s == Thread.State.WAITING) {
                return;
            }
            if (s == Thread.State.TERMINATED) {
                throw new AssertionError(thread.getName() + " ended instead of blocking");
            }
            check(deadline, () -> thread.getName() + " blocked (state " + s + ")");
            Thread.onSpinWait();
        }
    }

    /** Joins {@code thread}; fails if it does not end. */
    public static void join(Thread thread) {
        try {
            thread.join(TimeUnit.SECONDS.toMillis(HANG_GUARD_SECONDS));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while joining " + thread.getName(), e);
        }
        if (thread.isAlive()) {
            throw new AssertionError(thread.getName() + " did not end");
        }
    }

    private static void spinUntilState(Thread thread, boolean orBlocked, String what) {
        long deadline = deadline();
        for (;;) {
            Thread.State s = thread.getState();
            if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING || s == Thread.State.TERMINATED
                    || (orBlocked && s == Thread.State.BLOCKED)) {
                return;
            }
            check(deadline, () -> what);
            Thread.onSpinWait();
        }
    }

    private static void check(long deadline, Supplier<String> what) {
        if (Thread.currentThread().isInterrupted()) {
            throw new AssertionError("interrupted while waiting for: " + what.get());
        }
        if (System.nanoTime() - deadline > 0) {
            throw new AssertionError("never happened: " + what.get());
        }
    }
}

package io.kdefer.internal;

import io.kdefer.IdleStrategy;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * Idle and wake-up for one kdefer thread, with wake-ups elided while the thread is awake.
 *
 * <h2>The no-lost-wake-up protocol</h2>
 * <pre>
 *   waker (any thread)                        sleeper (the owner)
 *   publish work (volatile write or RMW)      sleeping = 1            (volatile write)
 *   if (sleeping == 1 && CAS(sleeping,1,0))   if (hasWork()) { sleeping = 0; return }
 *       unpark(owner)                         park()
 * </pre>
 * Both sides write one location and then read the other's, all with volatile (sequentially
 * consistent) accesses, so at least one of them sees the other's write: either the waker sees
 * {@code sleeping == 1} and unparks, or the sleeper sees the work and does not park. An unpark
 * that lands before the park leaves a permit, so the park returns at once. Verified by
 * {@code kdefer-jcstress: ParkerNoLostWakeupTest}.
 *
 * <p>Field access codes: {@code F} final; {@code A} VarHandle, volatile accesses.
 */
public final class Parker {
    private static final VarHandle SLEEPING;

    static {
        try {
            SLEEPING = MethodHandles.lookup().findVarHandle(Parker.class, "sleeping", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** What the owner checks before it sleeps. */
    public interface Condition {
        /** True when the owner has something to do and must not sleep. */
        boolean hasWork();
    }

    private final IdleStrategy strategy;   // F
    private volatile Thread owner;         // A: set once by the owner before its first idle()
    @SuppressWarnings("unused")
    private volatile int sleeping;         // A: 1 while the owner is parked or about to park

    public Parker(IdleStrategy strategy) {
        this.strategy = strategy;
    }

    /** Binds the parker to the thread that will call {@link #idle}. */
    public void bind(Thread thread) {
        owner = thread;
    }

    /**
     * Wakes the owner if it sleeps. Returns true when this call unparked it, false when the
     * wake-up was elided because the owner was awake (or another waker got there first).
     */
    public boolean wake() {
        if ((int) SLEEPING.getVolatile(this) != 0 && SLEEPING.compareAndSet(this, 1, 0)) {
            LockSupport.unpark(owner);
            return true;
        }
        return false;
    }

    /**
     * Called by the owner when it found nothing to do: spins (if the strategy says so) while
     * watching {@code condition}, then parks until {@link #wake()} or until {@code deadlineNanos}
     * ({@code 0} for none). Returns when there may be work; callers re-check.
     */
    public void idle(Condition condition, long deadlineNanos) {
        final long spinNanos = strategy.spinNanos();
        if (spinNanos > 0 && spin(condition, spinNanos)) {
            return;
        }
        beginSleep();
        if (condition.hasWork()) {
            cancelSleep();
            return;
        }
        if (deadlineNanos == 0) {
            LockSupport.park(this);
        } else {
            long left = deadlineNanos - System.nanoTime();
            if (left > 0) {
                LockSupport.parkNanos(this, left);
            }
        }
        cancelSleep();
    }

    /** First half of going to sleep: announce it. The owner must re-check its work next. */
    public void beginSleep() {
        SLEEPING.setVolatile(this, 1);
    }

    /** The owner is awake again (it found work after {@link #beginSleep()}, or it woke up). */
    public void cancelSleep() {
        SLEEPING.setVolatile(this, 0);
    }

    /** True while the owner announced it sleeps. For tests and diagnostics. */
    public boolean isSleeping() {
        return (int) SLEEPING.getVolatile(this) != 0;
    }

    private static boolean spin(Condition condition, long spinNanos) {
        long deadline = 0;
        for (int i = 1; ; i++) {
            if (condition.hasWork()) {
                return true;
            }
            Thread.onSpinWait();
            if ((i & 127) == 0) {
                long now = System.nanoTime();
                if (deadline == 0) {
                    deadline = now + spinNanos;
                } else if (now - deadline > 0) {
                    return false;
                }
                // on a host with fewer cores than busy threads, let the thread that will wake us
                // (or that we would otherwise starve) run
                Thread.yield();
            }
        }
    }
}

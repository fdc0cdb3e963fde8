package io.kdefer.internal;

import java.util.ArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * The kernel's bit wait-queues ({@code wait_on_bit}, {@code wake_up_bit}) for one kernel: threads
 * wait for a condition on an object and are woken when that object changes.
 *
 * <p>Waiting is rare (disable, kill, lock contention), so the waiter side may allocate and lock.
 * The waker side is on hot paths (every tasklet unlock calls {@link #wakeAll}) and costs one
 * volatile read while nobody waits.
 *
 * <p>No lost wake-ups: a waiter increments {@link #waiters} (a full fence) before it evaluates its
 * condition; a waker changes the state with a volatile write or RMW before it reads
 * {@code waiters}. One of the two sees the other, as in {@link Parker}.
 */
public final class WaitQueue {
    private final AtomicInteger waiters = new AtomicInteger();   // A: registered waiters
    private final ArrayList<Entry> entries = new ArrayList<>();  // L: guarded by this

    private static final class Entry {
        final Object key;
        final Thread thread;

        Entry(Object key, Thread thread) {
            this.key = key;
            this.thread = thread;
        }
    }

    /**
     * Blocks until {@code done} is true, re-evaluating it whenever {@link #wakeAll} is called for
     * {@code key}. Uninterruptible, like the kernel's {@code TASK_UNINTERRUPTIBLE} waits: an
     * interrupt is remembered and re-asserted on return.
     */
    public void await(Object key, BooleanSupplier done) {
        if (done.getAsBoolean()) {
            return;
        }
        Entry e = new Entry(key, Thread.currentThread());
        synchronized (this) {
            entries.add(e);
        }
        waiters.incrementAndGet();
        boolean interrupted = false;
        try {
            while (!done.getAsBoolean()) {
                LockSupport.park(this);
                if (Thread.interrupted()) {
                    interrupted = true;
                }
            }
        } finally {
            waiters.decrementAndGet();
            synchronized (this) {
                entries.remove(e);
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Wakes every thread waiting on {@code key}; they re-check their conditions. */
    public void wakeAll(Object key) {
        if (waiters.get() == 0) {
            return;
        }
        synchronized (this) {
            for (int i = 0, n = entries.size(); i < n; i++) {
                Entry e = entries.get(i);
                if (e.key == key) {
                    LockSupport.unpark(e.thread);
                }
            }
        }
    }

    /** Number of threads waiting now, on any key. */
    public int waiters() {
        return waiters.get();
    }
}

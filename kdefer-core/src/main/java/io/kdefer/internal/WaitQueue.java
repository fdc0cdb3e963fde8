package io.kdefer.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * The kernel's bit wait-queues ({@code wait_on_bit}, {@code wake_up_bit}, {@code bit_waitqueue()}
 * in {@code kernel/sched/wait_bit.c}) for one kernel: threads wait for a condition on an object
 * (the key) and are woken when that object changes.
 *
 * <p>Waiting is rare (disable, kill, lock contention), so the waiter side may allocate and lock.
 * The waker side is on hot paths (every tasklet unlock, the end of a softirq loop, every timer
 * callback call {@link #wakeAll}) and costs one volatile read while nobody waits anywhere, and a
 * second one (plus the key's identity hash) while nobody waits in its key's bucket.
 *
 * <h2>Buckets</h2>
 * Waiters are hashed by the key's identity hash into {@link #BUCKETS} buckets, as the kernel hashes
 * a word's address into {@code bit_wait_table}. Each bucket has its own waiter count and its own
 * lock (the bucket's monitor), so a thread waiting on one object costs nothing to wakers of objects
 * in other buckets, and wakers of different buckets never meet on a lock. Keys that share a bucket
 * share its lock and its count; {@link #wakeAll} still unparks only the waiters of its own key.
 *
 * <h2>No lost wake-ups</h2>
 * <pre>
 *   waker (any thread)                              waiter
 *   change state (volatile write or RMW)            lock bucket; add entry; unlock
 *   if (active == 0) return        (volatile read)  bucket.waiters += 1     (getAndAdd: full fence)
 *   if (bucket.waiters != 0)       (volatile read)  active += 1             (getAndAdd: full fence)
 *       lock bucket; unpark key's entries           while (!done()) park()
 * </pre>
 * The queue-wide {@code active} count is a filter in front of the buckets: a waker that reads 0
 * there read it before the waiter's increment, so the waiter's later {@code done()} sees the new
 * state. A waker that reads it non-zero (perhaps for a waiter of another bucket) goes on to the
 * bucket, which the waiter incremented first, and the argument below applies to that pair.
 * Both sides write one location and then read the other's, all with sequentially consistent
 * accesses, so at least one sees the other's write: either the waker sees the count (then its lock
 * acquisition comes after the waiter added its entry, which happened before the increment, and it
 * unparks the waiter) or the waiter's {@code done()} sees the new state. An unpark that lands
 * before the park leaves a permit, so the park returns at once. This is the {@link Parker} protocol
 * with a count instead of a flag. Verified by {@code kdefer-jcstress: WaitQueueNoLostWakeupTest}.
 *
 * <p>The state a waiter's condition reads must be written with a volatile write, an atomic RMW or
 * under a lock the condition also takes: a plain write followed by {@link #wakeAll} may be
 * reordered after the count read, exactly where the kernel's waker needs {@code smp_mb()} before
 * {@code waitqueue_active()}.
 *
 * <p>Waits are uninterruptible ({@code TASK_UNINTERRUPTIBLE}) and tell the thread's
 * {@link SleepHooks} that it sleeps; see {@link TaskSleep}.
 *
 * <p>Field access codes: {@code F} final; {@code A} VarHandle, volatile accesses; {@code L} guarded
 * by the bucket's monitor.
 */
public final class WaitQueue {
    /**
     * Buckets per kernel (a power of two). The kernel uses 256 ({@code WAIT_TABLE_BITS = 8}) for the
     * whole machine; a kdefer kernel has far fewer concurrent waiters (a handful of threads in
     * {@code kill}, {@code disable}, {@code deleteSync} or {@code close} at once), and 64 makes two
     * of them share a bucket rarely while the table stays at a few kilobytes. Fewer buckets make
     * unrelated wakers take a lock more often; more cost memory for nothing.
     */
    public static final int BUCKETS = 64;

    private static final VarHandle WAITERS;
    private static final VarHandle ACTIVE;

    static {
        try {
            WAITERS = MethodHandles.lookup().findVarHandle(Bucket.class, "waiters", int.class);
            ACTIVE = MethodHandles.lookup().findVarHandle(WaitQueue.class, "active", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Bucket[] buckets;   // F
    private final int mask;           // F: buckets.length - 1
    /**
     * A: waiters in every bucket together. Wakers read it first: while nobody waits anywhere (the
     * usual case) a wake costs this one read of a line nobody writes, with no identity hash.
     */
    @SuppressWarnings("unused")
    private volatile int active;

    /** One bucket: the waiters of the keys that hash here. */
    static final class Bucket {
        @SuppressWarnings("unused")
        private volatile int waiters;                            // A: registered waiters
        private final ArrayList<Entry> entries = new ArrayList<>();  // L
        private long lockedWakes;                                // L: wakeAll calls that took the lock
        private long unparks;                                    // L: threads unparked by wakeAll

        int waitersVolatile() {
            return (int) WAITERS.getVolatile(this);
        }
    }

    private static final class Entry {
        final Object key;       // F
        final Thread thread;    // F

        Entry(Object key, Thread thread) {
            this.key = key;
            this.thread = thread;
        }
    }

    /** A wait queue with {@link #BUCKETS} buckets. */
    public WaitQueue() {
        this(BUCKETS);
    }

    /** A wait queue with {@code buckets} buckets, a power of two (tests use 1 to force sharing). */
    WaitQueue(int buckets) {
        if (buckets < 1 || Integer.bitCount(buckets) != 1) {
            throw new IllegalArgumentException("buckets must be a power of two: " + buckets);
        }
        this.buckets = new Bucket[buckets];
        for (int i = 0; i < buckets; i++) {
            this.buckets[i] = new Bucket();
        }
        this.mask = buckets - 1;
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
        final Bucket b = bucket(key);
        final Entry e = new Entry(key, Thread.currentThread());
        synchronized (b) {
            b.entries.add(e);
        }
        WAITERS.getAndAdd(b, 1);   // full fence; pairs with the volatile read in wakeAll
        ACTIVE.getAndAdd(this, 1);  // after the bucket's count: a waker that sees this sees that
        final TaskSleep sleep = new TaskSleep(this, false);
        try {
            while (!done.getAsBoolean()) {
                sleep.park();
            }
        } finally {
            ACTIVE.getAndAdd(this, -1);
            WAITERS.getAndAdd(b, -1);
            synchronized (b) {
                b.entries.remove(e);
            }
            sleep.finish();
        }
    }

    /** Wakes every thread waiting on {@code key}; they re-check their conditions. */
    public void wakeAll(Object key) {
        if ((int) ACTIVE.getVolatile(this) == 0) {   // nobody waits anywhere: see "No lost wake-ups"
            return;
        }
        final Bucket b = bucket(key);
        if ((int) WAITERS.getVolatile(b) == 0) {   // pairs with the getAndAdd in await
            return;
        }
        synchronized (b) {
            b.lockedWakes++;
            final ArrayList<Entry> entries = b.entries;
            for (int i = 0, n = entries.size(); i < n; i++) {
                Entry e = entries.get(i);
                if (e.key == key) {
                    b.unparks++;
                    LockSupport.unpark(e.thread);
                }
            }
        }
    }

    /** Number of threads waiting now, on any key (a sum of the buckets' counts, not a snapshot). */
    public int waiters() {
        int n = 0;
        for (Bucket b : buckets) {
            n += b.waitersVolatile();
        }
        return n;
    }

    // ---------------------------------------------------------------- hashing

    /**
     * The bucket index of {@code key}: its identity hash with the high half folded into the low
     * one (as {@code HashMap} spreads), masked. The identity hash lives in the object's header once
     * computed, so this is a header read on the hot path.
     */
    int bucketIndex(Object key) {
        int h = System.identityHashCode(key);
        return (h ^ (h >>> 16)) & mask;
    }

    private Bucket bucket(Object key) {
        return buckets[bucketIndex(key)];
    }

    // ---------------------------------------------------------------- for tests

    /** Waiters registered in {@code key}'s bucket, on any key of that bucket. */
    int bucketWaiters(Object key) {
        return bucket(key).waitersVolatile();
    }

    /** Calls of {@link #wakeAll} that found waiters in their bucket and took its lock, all buckets. */
    long lockedWakes() {
        long n = 0;
        for (Bucket b : buckets) {
            synchronized (b) {
                n += b.lockedWakes;
            }
        }
        return n;
    }

    /** Threads unparked by {@link #wakeAll}, all buckets. */
    long unparks() {
        long n = 0;
        for (Bucket b : buckets) {
            synchronized (b) {
                n += b.unparks;
            }
        }
        return n;
    }
}

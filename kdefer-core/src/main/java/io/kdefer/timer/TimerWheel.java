package io.kdefer.timer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One CPU's timer base ({@code struct timer_base}): the hierarchical wheel of
 * {@code kernel/time/timer.c}, with the kernel's geometry and arithmetic.
 *
 * <h2>Implementation overview</h2>
 *
 * <p><b>Geometry.</b> {@link #LVL_SIZE} = 64 buckets per level; level {@code n} has a granularity of
 * {@code 8^n} jiffies. A timer goes to the lowest level that can hold its distance from the wheel's
 * clock, in the bucket whose expiry is the first multiple of that level's granularity strictly
 * after {@code expires}: it never fires early, and fires up to one granule late. There is no
 * cascading: a timer stays in its bucket until it expires.
 * <pre>
 *   level  granularity  distance covered (jiffies)     HZ=1000          HZ=250
 *     0        1        0 .. 62                        1 ms, 0-63 ms    4 ms, 0-255 ms
 *     1        8        63 .. 503                      8 ms             32 ms
 *     2       64        504 .. 4031                    64 ms            256 ms
 *     3      512        4032 .. 32255                  ~0.5 s           ~2 s
 *     4     4096        32256 .. 258047                ~4 s             ~16 s
 *     5    32768        258048 .. 2064383              ~33 s            ~2 min
 *     6   262144        2064384 .. 16515071            ~4 min           ~17 min
 *     7  2097152        16515072 .. 132120575          ~35 min          ~2.3 h
 *     8 16777216        132120576 .. cutoff - 1        ~4.7 h           ~18.6 h   (only when HZ > 100)
 * </pre>
 * Beyond the last level: a distance of {@code WHEEL_TIMEOUT_CUTOFF} or more is clamped to
 * {@code WHEEL_TIMEOUT_MAX} (the timer fires early, at the wheel's capacity). A past expiry goes
 * to the bucket of the wheel's clock and fires at the next tick.
 *
 * <p><b>State.</b> {@link #heads} holds one LIFO list per bucket (the link fields live in the
 * timers, so arming allocates nothing); {@link #pendingMap} has one {@code long} per level with a
 * bit per non-empty bucket; {@link #clk} is the wheel's notion of now (at most {@code jiffies}, moved
 * forward lazily); {@link #nextExpiry} is the earliest bucket expiry, recomputed lazily after a
 * removal empties a bucket. While expired buckets are being run they sit in {@link #expiring}, one
 * list per level, and their timers are still pending (a delete takes them off those lists).
 *
 * <p><b>Locking.</b> Every field except {@link #running} and the published next expiry is guarded
 * by {@link #lock} (a spin lock: critical sections are a few dozen instructions; the lock is
 * dropped while callbacks run). {@code running} is written under the lock and read without it.
 *
 * <p>Field access codes: {@code F} final; {@code L} guarded by the base lock; {@code A} VarHandle
 * or volatile, written under the lock.
 */
final class TimerWheel {
    static final int LVL_CLK_SHIFT = 3;
    static final int LVL_CLK_DIV = 1 << LVL_CLK_SHIFT;
    static final long LVL_CLK_MASK = LVL_CLK_DIV - 1;
    static final int LVL_BITS = 6;
    static final int LVL_SIZE = 1 << LVL_BITS;
    static final long LVL_MASK = LVL_SIZE - 1;
    /** {@code NEXT_TIMER_MAX_DELTA}: "no timer" is represented as clk plus this. */
    static final long NEXT_TIMER_MAX_DELTA = (1L << 30) - 1;

    private static final VarHandle LOCK;
    private static final VarHandle NEXT_EXPIRY_PUBLISHED;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            LOCK = l.findVarHandle(TimerWheel.class, "lock", int.class);
            NEXT_EXPIRY_PUBLISHED = l.findVarHandle(TimerWheel.class, "nextExpiryPublished", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final int cpu;                       // F
    final boolean deferrable;            // F
    final int depth;                     // F: LVL_DEPTH, 9 when HZ > 100, else 8
    final long cutoff;                   // F: WHEEL_TIMEOUT_CUTOFF = LVL_START(depth)
    final long timeoutMax;               // F: WHEEL_TIMEOUT_MAX
    final KernelTimer[] heads;           // L: bucket lists, most recently armed first
    final long[] pendingMap;             // L: bit i of word n: bucket n*64+i non-empty
    final KernelTimer[] expiring;        // L: collected buckets being expired, per level
    long clk;                            // L
    long nextExpiry;                     // L
    boolean nextExpiryRecalc;            // L
    boolean timersPending;               // L: false when nextExpiry is only the "no timer" marker
    volatile KernelTimer running;        // A: timer whose callback runs now (running_timer)
    @SuppressWarnings("unused")
    private volatile long nextExpiryPublished;   // A: copy of nextExpiry for lock-free readers
    @SuppressWarnings("unused")
    private volatile int lock;                   // A: 0 free, 1 held

    TimerWheel(int cpu, boolean deferrable, int hz, long jiffies) {
        this.cpu = cpu;
        this.deferrable = deferrable;
        this.depth = hz > 100 ? 9 : 8;
        this.cutoff = lvlStart(depth);
        this.timeoutMax = cutoff - lvlGran(depth - 1);
        this.heads = new KernelTimer[depth * LVL_SIZE];
        this.pendingMap = new long[depth];
        this.expiring = new KernelTimer[depth];
        this.clk = jiffies;
        this.nextExpiry = jiffies + NEXT_TIMER_MAX_DELTA;
        this.timersPending = false;
        publishNextExpiry();
    }

    // ---------------------------------------------------------------- geometry

    /** {@code LVL_SHIFT(n)}. */
    static int lvlShift(int n) {
        return n * LVL_CLK_SHIFT;
    }

    /** {@code LVL_GRAN(n)}: granularity of level n in jiffies. */
    static long lvlGran(int n) {
        return 1L << lvlShift(n);
    }

    /** {@code LVL_START(n)}: the smallest distance from clk that goes to level n (n >= 1). */
    static long lvlStart(int n) {
        return (LVL_SIZE - 1L) << ((n - 1) * LVL_CLK_SHIFT);
    }

    /**
     * {@code calc_wheel_index()}: the bucket for {@code expires} given the wheel clock {@code clk}.
     * Returns the index; the bucket's expiry is left in {@link #lastBucketExpiry}.
     */
    int calcWheelIndex(long expires, long clk) {
        long delta = expires - clk;
        if (delta < 0) {
            lastBucketExpiry = clk;
            return (int) (clk & LVL_MASK);
        }
        // LVL_START(1..8) = 63 << 3(n-1)
        int lvl = delta < 63L ? 0 : delta < 504L ? 1 : delta < 4032L ? 2 : delta < 32256L ? 3
                : delta < 258048L ? 4 : delta < 2064384L ? 5 : delta < 16515072L ? 6
                : delta < 132120576L ? 7 : 8;
        if (lvl >= depth - 1) {
            lvl = depth - 1;
            if (delta >= cutoff) {
                expires = clk + timeoutMax;
            }
        }
        return calcIndex(expires, lvl);
    }

    /** L: bucket expiry computed by the last {@link #calcWheelIndex} (an out-parameter, as in C). */
    long lastBucketExpiry;

    /** {@code calc_index()}: first multiple of the level's granularity strictly after expires. */
    private int calcIndex(long expires, int lvl) {
        long e = (expires >>> lvlShift(lvl)) + 1;
        lastBucketExpiry = e << lvlShift(lvl);
        return lvl * LVL_SIZE + (int) (e & LVL_MASK);
    }

    // ---------------------------------------------------------------- lock

    void lock() {
        if (LOCK.compareAndSet(this, 0, 1)) {
            return;
        }
        for (int spins = 0; ; spins++) {
            if ((int) LOCK.getVolatile(this) == 0 && LOCK.compareAndSet(this, 0, 1)) {
                return;
            }
            if (spins < 100) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }

    void unlock() {
        LOCK.setRelease(this, 0);
    }

    // ---------------------------------------------------------------- clock

    /** {@code forward_timer_base()}: move clk up to jiffies, or to the next expiry if that is earlier. */
    void forward(long jiffies) {
        if (jiffies - clk <= 0) {
            return;
        }
        if (nextExpiry - jiffies > 0) {
            clk = jiffies;
        } else if (nextExpiry - clk >= 0) {
            clk = nextExpiry;
        }
    }

    // ---------------------------------------------------------------- enqueue / detach

    /**
     * {@code enqueue_timer()}: head of the bucket (LIFO), pending bit, maybe a new first expiry.
     * Returns true when the timer became the wheel's earliest (the CPU may need a kick).
     */
    boolean enqueue(KernelTimer t, int idx, long bucketExpiry) {
        KernelTimer h = heads[idx];
        t.next = h;
        t.prev = null;
        if (h != null) {
            h.prev = t;
        }
        heads[idx] = t;
        pendingMap[idx >>> LVL_BITS] |= 1L << (idx & LVL_MASK);
        t.setIndexRelease(idx);
        if (bucketExpiry - nextExpiry < 0 || !timersPending) {
            nextExpiry = bucketExpiry;
            nextExpiryRecalc = false;
            timersPending = true;
            publishNextExpiry();
            return true;
        }
        return false;
    }

    /** {@code internal_add_timer()}: computes the bucket from the timer's expires. */
    boolean add(KernelTimer t) {
        int idx = calcWheelIndex(t.expiresPlain(), clk);
        return enqueue(t, idx, lastBucketExpiry);
    }

    /** {@code detach_if_pending()}: unlinks a pending timer; true if it was pending. */
    boolean detachIfPending(KernelTimer t) {
        int idx = t.indexPlain();
        if (idx < 0) {
            return false;
        }
        detach(t, idx);
        return true;
    }

    private void detach(KernelTimer t, int idx) {
        KernelTimer n = t.next;
        KernelTimer p = t.prev;
        if (n != null) {
            n.prev = p;
        }
        if (p != null) {
            p.next = n;
        } else if (idx >= heads.length) {
            expiring[idx - heads.length] = n;
        } else {
            heads[idx] = n;
            if (n == null) {
                pendingMap[idx >>> LVL_BITS] &= ~(1L << (idx & LVL_MASK));
                nextExpiryRecalc = true;
            }
        }
        t.next = null;
        t.prev = null;
        t.setIndexRelease(-1);
    }

    // ---------------------------------------------------------------- expiry

    /**
     * {@code collect_expired_timers()}: sets clk to the next expiry and moves each level's due
     * bucket to {@link #expiring}; a level is looked at only when the lower levels' clock bits are
     * zero. Returns the number of levels collected (levels are collected lowest first, so
     * {@code expiring[0..levels)} are the lists to run, highest level last).
     */
    int collectExpired() {
        long c = clk = nextExpiry;
        int levels = 0;
        for (int lvl = 0; lvl < depth; lvl++) {
            int idx = (int) (c & LVL_MASK) + lvl * LVL_SIZE;
            long bit = 1L << (idx & LVL_MASK);
            if ((pendingMap[lvl] & bit) != 0) {
                pendingMap[lvl] &= ~bit;
                KernelTimer list = heads[idx];
                heads[idx] = null;
                expiring[levels] = list;
                for (KernelTimer t = list; t != null; t = t.next) {
                    t.setIndexRelease(heads.length + levels);
                }
                levels++;
            }
            if ((c & LVL_CLK_MASK) != 0) {
                break;
            }
            c >>>= LVL_CLK_SHIFT;
        }
        return levels;
    }

    /**
     * {@code timer_recalc_next_expiry()}: the earliest bucket expiry over all levels, scanning each
     * level from the wheel clock's position in that level.
     */
    void recalcNextExpiry() {
        long next = clk + NEXT_TIMER_MAX_DELTA;
        long c = clk;
        for (int lvl = 0; lvl < depth; lvl++) {
            int pos = nextPendingBucket(lvl, (int) (c & LVL_MASK));
            long lvlClk = c & LVL_CLK_MASK;
            if (pos >= 0) {
                long tmp = (c + pos) << lvlShift(lvl);
                if (tmp - next < 0) {
                    next = tmp;
                }
                // expires before the next level's clock moves: no need to look further
                if (pos <= ((LVL_CLK_DIV - lvlClk) & LVL_CLK_MASK)) {
                    break;
                }
            }
            long adj = lvlClk != 0 ? 1 : 0;
            c >>>= LVL_CLK_SHIFT;
            c += adj;
        }
        nextExpiry = next;
        nextExpiryRecalc = false;
        timersPending = next != clk + NEXT_TIMER_MAX_DELTA;
        publishNextExpiry();
    }

    /** {@code next_pending_bucket()}: distance from {@code start} to the next set bucket of a level, or -1. */
    private int nextPendingBucket(int lvl, int start) {
        long map = pendingMap[lvl];
        if (map == 0) {
            return -1;
        }
        long upper = map & (-1L << start);
        if (upper != 0) {
            return Long.numberOfTrailingZeros(upper) - start;
        }
        return Long.numberOfTrailingZeros(map) + LVL_SIZE - start;
    }

    /** True when the wheel has no timer at all. */
    boolean isEmpty() {
        for (long m : pendingMap) {
            if (m != 0) {
                return false;
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- lock-free readers

    /*
     * Volatile (not just release): pairs with the idle cpu/N thread, which announces its sleep
     * (Parker.beginSleep, volatile) and then re-reads this value (CpuThread.hasWork: timerDue,
     * deadlineStale); the arming thread publishes here and then reads the parker's sleeping word in
     * Parker.wake() (TimerEngine.kick). One of the two sees the other:
     *
     *   T0 (arm): nextExpiryPublished = e        cpu/N (idle): sleeping = 1
     *             r0 = sleeping (kick)                         r1 = nextExpiryPublished
     *   Forbidden: r0 == 0, r1 != e (no kick, and cpu/N parks past e with its old deadline)
     *
     * With a release store the arm's read of `sleeping` may pass it. Verified by
     * kdefer-jcstress: TimerArmWakesIdleCpuTest.
     */
    private void publishNextExpiry() {
        NEXT_EXPIRY_PUBLISHED.setVolatile(this, timersPending ? nextExpiry : Long.MAX_VALUE);
    }

    /**
     * The next expiry as of the last change, {@link Long#MAX_VALUE} when no timer is pending. May
     * be early after a removal: the expiry path then finds nothing and recomputes it.
     */
    long nextExpiryVolatile() {
        return (long) NEXT_EXPIRY_PUBLISHED.getVolatile(this);
    }

    /** The exact next expiry ({@link Long#MAX_VALUE} if none), recomputed under the lock if stale. */
    long nextExpiryExact() {
        lock();
        try {
            if (nextExpiryRecalc) {
                recalcNextExpiry();
            }
            return timersPending ? nextExpiry : Long.MAX_VALUE;
        } finally {
            unlock();
        }
    }

    // ---------------------------------------------------------------- consistency (Invariants)

    /**
     * Under the lock: each bucket's pending bit is set exactly when the bucket is non-empty, and
     * every timer in a bucket (or in a collected list being expired) names this wheel as its base,
     * has the bucket's index and consistent links. When {@code quiescent}, no list is being expired
     * and no callback is running either. {@code name} identifies the wheel in the messages.
     */
    void checkInvariants(String name, boolean quiescent, java.util.List<String> out) {
        lock();
        try {
            for (int idx = 0; idx < heads.length; idx++) {
                boolean bit = (pendingMap[idx >>> LVL_BITS] & (1L << (idx & LVL_MASK))) != 0;
                if (bit != (heads[idx] != null)) {
                    out.add(name + " bucket " + idx + " (level " + (idx >>> LVL_BITS) + "): "
                            + (bit ? "empty with its pending bit set" : "non-empty with its pending bit clear")
                            + " (rule: the pending bitmap matches the non-empty buckets)");
                }
                checkList(name + " bucket " + idx, heads[idx], idx, out);
            }
            for (int lvl = 0; lvl < depth; lvl++) {
                checkList(name + " expiring list " + lvl, expiring[lvl], heads.length + lvl, out);
                if (quiescent && expiring[lvl] != null) {
                    out.add(name + " expiring list " + lvl + ": not empty"
                            + " (rule: in a quiet kernel no timer list is being expired)");
                }
            }
            if (quiescent && running != null) {
                out.add(name + ": " + running + " is running"
                        + " (rule: in a quiet kernel no timer callback runs)");
            }
        } finally {
            unlock();
        }
    }

    private void checkList(String where, KernelTimer first, int idx, java.util.List<String> out) {
        KernelTimer prev = null;
        for (KernelTimer t = first; t != null; prev = t, t = t.next) {
            if (t.prev != prev) {
                // also ends the walk of a cycle: its first timer's prev cannot be both null and set
                out.add(t + " in " + where + ": its prev link is wrong (rule: bucket lists are doubly linked)");
                return;
            }
            if (t.baseAcquire() != this) {
                out.add(t + " in " + where + ": its base is another wheel"
                        + " (rule: every timer in a bucket points back to that wheel)");
            }
            if (t.indexPlain() != idx) {
                out.add(t + " in " + where + ": its index is " + t.indexPlain()
                        + " (rule: a listed timer records its bucket)");
            }
        }
    }
}

package io.kdefer.timer;

import io.kdefer.Kernel;
import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Secrets;
import io.kdefer.internal.Subsystems;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A kernel timer ({@code struct timer_list}): a callback that runs once in TIMER_SOFTIRQ context on
 * the CPU whose wheel holds it, at the first tick at or after its expiry's bucket.
 *
 * <pre>{@code
 * KernelTimer t = KernelTimer.setup(kernel, self -> {
 *     poll();
 *     self.mod(kernel.jiffies() + kernel.msecsToJiffies(100));   // periodic: re-arm from the callback
 * });
 * t.mod(kernel.jiffies() + 10);   // arms on the caller's CPU
 * t.deleteSync();                 // not pending and not running anywhere when it returns
 * }</pre>
 *
 * <h2>Guarantees</h2>
 * <ul>
 *   <li><b>Never early.</b> It fires at the first multiple of its wheel level's granularity strictly
 *       after {@code expires} (one jiffy late at level 0, up to one granule late above); only a
 *       timeout beyond the wheel's capacity ({@code WHEEL_TIMEOUT_MAX}) is clamped and fires early.</li>
 *   <li><b>Self-serialised.</b> A callback never runs concurrently with itself, and a timer is never
 *       moved to another CPU while its callback runs. Callbacks of one CPU's wheel run one at a time.</li>
 *   <li><b>Ordering.</b> The callback sees every write made before the {@code add}/{@code mod} that armed
 *       it; everything the callback did is visible after a {@link #deleteSync()} that waited for it.</li>
 * </ul>
 * Not guaranteed: order among timers of one bucket (most recently armed first, as in the kernel),
 * or between CPUs.
 *
 * <h2>Caveats</h2>
 * The callback runs in softirq context and must not block. {@link #deleteSync()} from the timer's own
 * callback would wait forever and is refused; from hardirq context it is allowed only for
 * {@link TimerFlag#IRQSAFE} timers; arming a pending timer with {@link #add} is refused (the kernel
 * WARNs). {@code faithful(true)} reproduces the kernel instead. After {@link #shutdown()}, arming is
 * silently ignored, in both modes: that is what shutdown is for.
 */
public final class KernelTimer {
    /*
     * Implementation overview
     *
     * State: a timer is pending while `index` >= 0: the bucket it sits in (0..depth*64-1), or
     * depth*64+level while its bucket has been collected for expiry. `base` is the wheel that owns
     * it; while it moves between CPUs it is MIGRATING, and lockBase() spins until it settles
     * (lock_timer_base). `function` is null after shutdown: every arm checks it under the lock.
     *
     * Access codes: F final; L guarded by the owning wheel's lock, written with release stores so
     * that isPending() (volatile) and expires() (acquire) may read them without the lock; A VarHandle.
     *
     * Memory ordering: arming takes the wheel lock (CAS, acquire) and releases it; the expiry path
     * takes the same lock before it reads the timer and calls it, so writes before add()/mod()
     * happen-before the callback (kdefer-jcstress: TimerArmPublishesPriorWritesTest). The fast
     * path of mod() (pending, same expiry) takes no lock: it reads `index` volatile after the
     * caller's writes; the expiry path sets `index` to -1 and then issues a full fence before the
     * callback reads anything. Dekker: either the fast path sees -1 and takes the locked path, or
     * the callback sees the caller's volatile writes (TimerModCoalescedVolatileTest); plain writes
     * may be reordered after the fast path's read (TimerModCoalescedPlainTest). deleteSync()
     * returns after it saw `running != this` under the lock, which the expiry path writes after the
     * callback returned (TimerDeleteSyncWaitsForCallbackTest).
     *
     * Deviations from Linux: one wheel per CPU for normal timers (no BASE_LOCAL/BASE_GLOBAL split
     * and no timer-migration hierarchy: a timer expires on the CPU it was armed on); a shut-down
     * timer object stays shut down (setup() makes a new one); misuse that WARNs throws unless faithful.
     */

    static final int PINNED = 1;
    static final int DEFERRABLE = 2;
    static final int IRQSAFE = 4;
    /** Internal: a timer of kdefer's own subsystems; close() shuts it down without running or reporting it. */
    static final int KERNEL_OWNED = 8;

    static final int MOD_PENDING_ONLY = 1;
    static final int MOD_REDUCE = 2;

    private static final VarHandle BASE;
    private static final VarHandle EXPIRES;
    private static final VarHandle INDEX;
    private static final VarHandle FUNCTION;

    static {
        Subsystems.provide(Subsystems.Kind.TIMERS, (kernel, rt) -> new TimerEngine(rt));
        Secrets.setOwnTimerFactory((kernel, fn, pinned) -> {
            KernelRuntime rt = Secrets.runtime(kernel);
            int f = KERNEL_OWNED | (pinned ? PINNED : 0);
            TimerEngine engine = TimerEngine.of(rt);
            return new KernelTimer(engine, Objects.requireNonNull(fn, "fn"), f, engine.wheel(rt.context().cpu, false));
        });
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            BASE = l.findVarHandle(KernelTimer.class, "base", TimerWheel.class);
            EXPIRES = l.findVarHandle(KernelTimer.class, "expires", long.class);
            INDEX = l.findVarHandle(KernelTimer.class, "index", int.class);
            FUNCTION = l.findVarHandle(KernelTimer.class, "function", Consumer.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final TimerEngine engine;          // F
    private final int flags;                   // F
    private Consumer<KernelTimer> function;    // A: null once shut down
    private TimerWheel base;                   // A: owning wheel, or TimerEngine.MIGRATING
    private long expires;                      // L (release stores)
    private int index = -1;                    // L (release stores): bucket, or -1
    KernelTimer next;                          // L: bucket list links
    KernelTimer prev;                          // L

    private KernelTimer(TimerEngine engine, Consumer<KernelTimer> function, int flags, TimerWheel base) {
        this.engine = engine;
        this.function = function;
        this.flags = flags;
        this.base = base;
    }

    /**
     * {@code timer_setup()}: a new, inactive timer on the caller's CPU.
     *
     * @param flags any of {@link TimerFlag#PINNED}, {@link TimerFlag#DEFERRABLE}, {@link TimerFlag#IRQSAFE}
     */
    public static KernelTimer setup(Kernel kernel, Consumer<KernelTimer> callback, TimerFlag... flags) {
        Objects.requireNonNull(callback, "callback");
        KernelRuntime rt = Secrets.runtime(kernel);
        rt.checkOpen();
        int f = 0;
        for (TimerFlag flag : flags) {
            switch (Objects.requireNonNull(flag, "flag")) {
                case PINNED: f |= PINNED; break;
                case DEFERRABLE: f |= DEFERRABLE; break;
                case IRQSAFE: f |= IRQSAFE; break;
                default: throw new IllegalArgumentException(String.valueOf(flag));
            }
        }
        TimerEngine engine = TimerEngine.of(rt);
        return new KernelTimer(engine, callback, f, engine.wheel(rt.context().cpu, (f & DEFERRABLE) != 0));
    }

    // ---------------------------------------------------------------- arming

    /**
     * {@code add_timer()}: arms an inactive timer at {@code expires} (absolute jiffies) on the caller's
     * CPU. A past expiry fires at the next tick. Ignored after {@link #shutdown()}.
     *
     * @throws IllegalStateException if the timer is pending (the kernel WARNs and leaves it as it is;
     *         faithful mode does that)
     */
    public void add(long expires) {
        if (isPending()) {
            if (!engine.rt.faithful) {
                throw new IllegalStateException("add_timer() on " + this
                        + ", which is pending: use mod() to re-arm a pending timer");
            }
            engine.warn("add_timer() on a pending timer " + this + "; left unchanged");
            return;
        }
        modTimer(expires, 0);
    }

    /**
     * {@code add_timer_on()}: arms an inactive timer on {@code cpu}'s wheel (it expires there). From
     * the timer's own running callback it stays on its current CPU: a running timer is never moved.
     *
     * @throws IllegalStateException if the timer is pending (the kernel WARNs), unless faithful
     */
    public void addOn(int cpu, long expires) {
        KernelRuntime rt = engine.rt;
        rt.checkCpu(cpu);
        CpuContext ctx = rt.context();
        rt.checkAccepting(ctx);
        if (isPending()) {
            if (!rt.faithful) {
                throw new IllegalStateException("add_timer_on(" + cpu + ") on " + this + ", which is pending");
            }
            engine.warn("add_timer_on() on a pending timer " + this + "; left unchanged");
            return;
        }
        TimerWheel target = engine.wheel(cpu, (flags & DEFERRABLE) != 0);
        TimerWheel b = lockBaseAdmitted(rt, ctx);
        boolean earliest;
        boolean section = false;
        try {
            if (functionAcquire() == null) {
                return;
            }
            b.detachIfPending(this);
            // a timer whose callback runs is never moved (deleteSync() and self-serialisation
            // rely on it): re-armed from its own callback, it stays on its CPU
            if (b != target && b.running != this) {
                section = openMigrationSection(rt, ctx);
                b = migrate(b, target);
            }
            b.forward(rt.clock.jiffies());
            setExpiresRelease(expires);
            earliest = b.add(this);
        } finally {
            b.unlock();
            if (section) {
                rt.exit(ctx);
            }
        }
        if (earliest) {
            engine.kick(b);
        }
    }

    /**
     * {@code mod_timer()}: (re)arms the timer at {@code expires}, whether or not it is pending, on the
     * caller's CPU (unless its callback runs right now, then on its current CPU). Ignored after
     * {@link #shutdown()} (returns false).
     *
     * <p>Memory ordering: a call that arms the timer (returns {@code false}, or {@code true} after
     * re-timing it under the lock) publishes the caller's earlier writes to the run it arms
     * ({@code kdefer-jcstress: TimerArmPublishesPriorWritesTest}). A call that finds the timer
     * pending at the same expiry returns {@code true} at once, without the lock or an atomic, as the
     * kernel's {@code __mod_timer} does: a run still follows it, but it sees the caller's earlier
     * writes only if they were ordered before the call by a volatile write (or a lock the callback
     * also takes, or {@link java.lang.invoke.VarHandle#fullFence()}); plain writes alone are not
     * guaranteed. The twin of a coalesced {@code Tasklet.schedule()} (see its "Not guaranteed").
     * <pre>
     *   CPU0: a = 1; r0 = t.mod(e)      CPU1: b = 1; r1 = t.mod(e)      callback: r2 = a; r3 = b
     *   plain a, b:    Forbidden: r0 == false, r2 == 0 (or r1 == false, r3 == 0)
     *                  Allowed:   r0 == true,  r2 == 0 (or r1 == true,  r3 == 0)
     *   volatile a, b: Forbidden: r2 == 0 or r3 == 0
     * </pre>
     * Verified by {@code kdefer-jcstress: TimerModCoalescedPlainTest} and
     * {@code TimerModCoalescedVolatileTest}; see {@code docs/deviations.md}.
     *
     * @return true if the timer was pending (re-timed, or left as it was when the new expiry maps to
     *         the same bucket), false if it was inactive (now started) or shut down
     */
    public boolean mod(long expires) {
        return modTimer(expires, 0);
    }

    /** {@code mod_timer_pending()}: as {@link #mod}, but never starts an inactive timer. */
    public boolean modPending(long expires) {
        return modTimer(expires, MOD_PENDING_ONLY);
    }

    /** {@code timer_reduce()}: as {@link #mod}, but only ever moves a pending timer earlier. */
    public boolean reduce(long expires) {
        return modTimer(expires, MOD_REDUCE);
    }

    /** {@code __mod_timer()}. */
    private boolean modTimer(long expires, int options) {
        final KernelRuntime rt = engine.rt;
        final CpuContext ctx = rt.context();
        // the kernel state is checked under the wheel lock (lockBaseAdmitted); the fast path below
        // reads none: the pending timer it leaves alone was armed by an admitted call
        int idx = -1;
        long bucketExpiry = 0;
        long clk = 0;
        TimerWheel b;
        if (isPending()) {
            // same expiry (or, for reduce, not earlier): nothing to do, not even the lock. No
            // ordering for the caller's plain writes (see mod()); the volatile read of the index
            // pairs with the fence the expiry path issues after it took the timer off its list
            // (TimerEngine.expireTimers), so a volatile write before this call is seen by the run.
            long diff = expiresAcquire() - expires;
            if (diff == 0 || ((options & MOD_REDUCE) != 0 && diff <= 0)) {
                return true;
            }
            b = lockBaseAdmitted(rt, ctx);
            if (functionAcquire() == null) {
                b.unlock();
                return false;
            }
            b.forward(rt.clock.jiffies());
            if (indexPlain() >= 0 && (options & MOD_REDUCE) != 0 && expiresPlain() - expires <= 0) {
                b.unlock();
                return true;
            }
            clk = b.clk;
            idx = b.calcWheelIndex(expires, clk);
            bucketExpiry = b.lastBucketExpiry;
            if (idx == indexPlain()) {
                // same bucket: only the stored expiry changes; it still fires with the bucket
                if ((options & MOD_REDUCE) == 0 || expiresPlain() - expires > 0) {
                    setExpiresRelease(expires);
                }
                b.unlock();
                return true;
            }
        } else {
            b = lockBaseAdmitted(rt, ctx);
            if (functionAcquire() == null) {
                b.unlock();
                return false;
            }
            b.forward(rt.clock.jiffies());
        }
        boolean wasPending;
        boolean earliest;
        boolean section = false;
        try {
            wasPending = b.detachIfPending(this);
            if (!wasPending && (options & MOD_PENDING_ONLY) != 0) {
                return false;
            }
            TimerWheel target = engine.wheel(ctx.cpu, (flags & DEFERRABLE) != 0);
            // never move a timer whose callback runs: deleteSync() and self-serialisation rely on it
            if (b != target && b.running != this) {
                section = openMigrationSection(rt, ctx);
                b = migrate(b, target);
                b.forward(rt.clock.jiffies());
            }
            setExpiresRelease(expires);
            if (idx >= 0 && clk == b.clk) {
                earliest = b.enqueue(this, idx, bucketExpiry);
            } else {
                earliest = b.add(this);
            }
        } finally {
            b.unlock();
            if (section) {
                rt.exit(ctx);
            }
        }
        if (earliest) {
            engine.kick(b);   // trigger_dyntick_cpu(): it may sleep past this expiry
        }
        return wasPending;
    }

    /**
     * Locks the timer's base, then checks under the lock that the kernel takes the arm: the wheel
     * lock is the entry section of timer arms (see "Entry protocol" in {@code Lifecycle}), so an
     * arm either sees CLOSING here and is refused, or finishes before {@code close()} has passed
     * through this lock, and the drain finds the timer.
     */
    private TimerWheel lockBaseAdmitted(KernelRuntime rt, CpuContext ctx) {
        TimerWheel b = lockBase();
        if (!rt.accepts(ctx)) {
            b.unlock();
            throw rt.refusal();
        }
        return b;
    }

    /**
     * Before an admitted foreign arm lets go of its first wheel lock to move the timer, it opens an
     * entry section so that {@code close()}, having passed that lock, waits for the move to finish.
     */
    private static boolean openMigrationSection(KernelRuntime rt, CpuContext ctx) {
        if (ctx.kdeferThread) {
            return false;
        }
        rt.extendSection(ctx);
        return true;
    }

    /** Moves this (detached) timer from {@code from} (locked) to {@code to}; returns {@code to}, locked. */
    private TimerWheel migrate(TimerWheel from, TimerWheel to) {
        BASE.setRelease(this, TimerEngine.MIGRATING);
        from.unlock();
        to.lock();
        BASE.setRelease(this, to);
        return to;
    }

    // ---------------------------------------------------------------- deleting

    /**
     * {@code timer_delete()} ({@code del_timer}): deactivates a pending timer. Does not wait for a
     * running callback and does not stop it from re-arming the timer.
     *
     * @return true if the timer was pending
     */
    public boolean delete() {
        engine.rt.checkOpen();
        if (!isPending()) {
            return false;
        }
        TimerWheel b = lockBase();
        try {
            return b.detachIfPending(this);
        } finally {
            b.unlock();
        }
    }

    /**
     * {@code timer_delete_sync_try()} ({@code try_to_del_timer_sync}): one attempt.
     *
     * @return 1 if it was pending and is now deactivated, 0 if it was not pending, -1 if its callback
     *         is running (then nothing was changed)
     */
    public int deleteSyncTry() {
        engine.rt.checkOpen();
        return tryDelete(false);
    }

    private int tryDelete(boolean shutdown) {
        TimerWheel b = lockBase();
        try {
            int ret = -1;
            if (b.running != this) {
                ret = b.detachIfPending(this) ? 1 : 0;
            }
            if (shutdown) {
                FUNCTION.setRelease(this, (Consumer<KernelTimer>) null);
            }
            return ret;
        } finally {
            b.unlock();
        }
    }

    /**
     * {@code timer_delete_sync()} ({@code del_timer_sync}): deactivates the timer and waits until its
     * callback is not running anywhere. Unless someone re-arms it concurrently, on return it is neither
     * pending nor running.
     *
     * <p>Memory ordering: everything the last finished callback run did is visible after this returns.
     * Verified by {@code kdefer-jcstress: TimerDeleteSyncWaitsForCallbackTest}.
     *
     * @return true if the timer was pending
     * @throws IllegalStateException from the timer's own callback (it would wait forever), or from
     *         hardirq context for a timer that is not IRQSAFE, unless faithful
     */
    public boolean deleteSync() {
        return deleteSync(false, "timer_delete_sync()");
    }

    /**
     * {@code timer_shutdown()}: deactivates the timer and makes every later arm a silent no-op (also
     * from its own running callback). Does not wait for a running callback.
     *
     * @return true if the timer was pending
     */
    public boolean shutdown() {
        engine.rt.checkOpen();
        TimerWheel b = lockBase();
        try {
            boolean ret = b.detachIfPending(this);
            FUNCTION.setRelease(this, (Consumer<KernelTimer>) null);
            return ret;
        } finally {
            b.unlock();
        }
    }

    /** {@code timer_shutdown_sync()}: {@link #shutdown()} and wait for a running callback, as {@link #deleteSync()}. */
    public boolean shutdownSync() {
        return deleteSync(true, "timer_shutdown_sync()");
    }

    private boolean deleteSync(boolean shutdown, String what) {
        final KernelRuntime rt = engine.rt;
        final CpuContext ctx = rt.context();
        rt.checkOpen();
        if (ctx.running == this) {
            if (!rt.faithful) {
                throw new IllegalStateException(what + " on " + this
                        + " from its own callback: it would wait for itself forever");
            }
        } else if (ctx.inHardirq() && (flags & IRQSAFE) == 0) {
            if (!rt.faithful) {
                throw new IllegalStateException(what + " on " + this
                        + " from hardirq context: allowed only for IRQSAFE timers (the kernel WARNs)");
            }
            engine.warn(what + " from hardirq context on a timer that is not IRQSAFE: " + this);
        }
        for (;;) {
            int r = tryDelete(shutdown);
            if (r >= 0) {
                return r == 1;
            }
            rt.waitQueue().await(this, () -> !engine.isRunning(this));
        }
    }

    // ---------------------------------------------------------------- queries

    /** {@code timer_pending()}: armed and not yet expired (or being expired but not yet called). */
    public boolean isPending() {
        return indexVolatile() >= 0;
    }

    /** The expiry last set, in jiffies. */
    public long expires() {
        return expiresAcquire();
    }

    /** The CPU whose wheel holds (or last held) this timer. */
    public int cpu() {
        TimerWheel b = (TimerWheel) BASE.getAcquire(this);
        return b == TimerEngine.MIGRATING ? -1 : b.cpu;
    }

    /** True after {@link #shutdown()} or {@link #shutdownSync()}. */
    public boolean isShutdown() {
        return functionAcquire() == null;
    }

    /** The flags given to {@link #setup}. */
    public java.util.Set<TimerFlag> flags() {
        java.util.EnumSet<TimerFlag> s = java.util.EnumSet.noneOf(TimerFlag.class);
        if ((flags & PINNED) != 0) {
            s.add(TimerFlag.PINNED);
        }
        if ((flags & DEFERRABLE) != 0) {
            s.add(TimerFlag.DEFERRABLE);
        }
        if ((flags & IRQSAFE) != 0) {
            s.add(TimerFlag.IRQSAFE);
        }
        return s;
    }

    @Override
    public String toString() {
        Consumer<KernelTimer> fn = functionAcquire();
        return "KernelTimer@" + Integer.toHexString(System.identityHashCode(this))
                + "[" + (fn == null ? "shut down" : fn.getClass().getName())
                + (isPending() ? " pending expires=" + expires() : " inactive") + " cpu=" + cpu() + "]";
    }

    // ---------------------------------------------------------------- wheel side

    /** {@code lock_timer_base()}: locks the wheel that owns this timer, waiting out a migration. */
    TimerWheel lockBase() {
        for (;;) {
            TimerWheel b = (TimerWheel) BASE.getAcquire(this);
            if (b != TimerEngine.MIGRATING) {
                b.lock();
                if (BASE.getAcquire(this) == b) {
                    return b;
                }
                b.unlock();
            }
            Thread.onSpinWait();
        }
    }

    /** The wheel that owns this timer, or {@link TimerEngine#MIGRATING}. */
    TimerWheel baseAcquire() {
        return (TimerWheel) BASE.getAcquire(this);
    }

    @SuppressWarnings("unchecked")
    Consumer<KernelTimer> functionAcquire() {
        return (Consumer<KernelTimer>) FUNCTION.getAcquire(this);
    }

    long expiresPlain() {
        return expires;
    }

    long expiresAcquire() {
        return (long) EXPIRES.getAcquire(this);
    }

    void setExpiresRelease(long e) {
        EXPIRES.setRelease(this, e);
    }

    int indexPlain() {
        return index;
    }

    /** Volatile: the fast path of {@link #modTimer} relies on it (see the fence in the expiry path). */
    int indexVolatile() {
        return (int) INDEX.getVolatile(this);
    }

    void setIndexRelease(int i) {
        INDEX.setRelease(this, i);
    }

    /** Kernel close: no arm is accepted from now on. */
    /** True for timers of kdefer's own subsystems ({@code Secrets.ownTimer}). */
    boolean kernelOwned() {
        return (flags & KERNEL_OWNED) != 0;
    }

    void shutdownForClose() {
        FUNCTION.setRelease(this, (Consumer<KernelTimer>) null);
    }

    /** Calls the callback in the expiry path; what it throws goes to the error handler. */
    void invoke(Consumer<KernelTimer> fn, CpuContext ctx) {
        final Object outer = ctx.running;
        ctx.running = this;
        try {
            fn.accept(this);
        } catch (Throwable e) {
            engine.rt.reportError(this, e);
        } finally {
            ctx.running = outer;
        }
    }
}

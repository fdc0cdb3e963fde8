package io.kdefer.internal;

import io.kdefer.Clock;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One virtual CPU: its pending-softirq mask, its bottom-half ownership, the softirq processing
 * loop ({@code handle_softirqs}) and its two threads, {@code cpu/N} and {@code ksoftirqd/N}.
 *
 * <h2>Implementation overview</h2>
 *
 * <p><b>Model.</b> Several Java threads are "on" a CPU at once: its {@code cpu/N} thread running
 * hardirqs, its {@code ksoftirqd/N}, and any number of task threads whose current CPU is N. The
 * kernel gets per-CPU exclusion of softirqs for free (one CPU runs one thing); here it is an
 * explicit owner word, {@link #bhOwner}: only the thread that owns it may run this CPU's
 * softirqs. A thread takes ownership (a) at {@code irq_exit} of a hardirq, by try-lock, (b) in
 * {@code ksoftirqd/N}, by try-lock, or (c) at the outermost {@code local_bh_disable()} of a task,
 * by a blocking lock held until the matching {@code local_bh_enable()}, which then runs pending
 * softirqs before it releases. Hardirqs never wait for it: a hardirq that finds the owner word
 * taken leaves its raised bits pending for the owner.
 *
 * <p><b>State.</b> {@link #pending} is the raised-vector bitmask. Raising is an atomic OR, so raising
 * twice before processing yields one invocation. The loop takes the whole mask with
 * {@code getAndSet(0)} before each pass, exactly as the kernel clears the mask before it enables
 * interrupts, so a vector raised during a pass runs in the next pass. The owner of the bottom
 * halves raises into a plain word of its own, {@link #ownerPending}, instead (a callback that
 * re-schedules a tasklet, a task inside {@code local_bh_disable}): nobody else reads it, the loop
 * merges it with the shared mask (whose RMW it skips when that is zero), and the owner publishes
 * whatever is left into {@link #pending} before it releases the owner word. This is the kernel's
 * situation exactly (a CPU raising on itself writes plain per-CPU data) and saves the two
 * atomics per pass that a self-rescheduling tasklet would otherwise pay.
 *
 * <p><b>Memory ordering.</b> No pending bit is stranded: a raiser ORs its bit (full fence) and then
 * tries the owner word; an owner releases the word (volatile write) and then reads
 * {@link #pending}, waking {@code ksoftirqd/N} if anything is set. Sequential consistency of
 * these volatile accesses means at least one side sees the other's write.
 * <pre>
 *   T0 (hardirq): raiseIrqoff(v): pending |= v      T1 (owner): unlockBh(): bhOwner = null
 *                 irq exit: r0 = tryLockBh()                    r1 = pending & v
 *   Forbidden: r0 == false, r1 == 0 (the bit stays pending with nobody to run it)
 * </pre>
 * Verified by {@code kdefer-jcstress: SoftirqRaiseRacingBhReleaseTest}. A raise from task context
 * ({@link #raise}) also ORs first and then wakes {@code ksoftirqd/N}, whose re-check reads the
 * owner word: the same pair. The OR and the runner's {@code getAndSet} of the mask also publish the
 * raiser's earlier writes to the action ({@code SoftirqRaisePublishesPriorWritesTest}).
 *
 * <p><b>Progress.</b> One loop invocation does at most {@link #MAX_SOFTIRQ_RESTART} passes (or the
 * builder's {@code softirqBudget}) and stops
 * restarting once {@code jiffies} reaches its start plus {@code msecs_to_jiffies(2)} or when
 * {@link #needResched} is set; anything still pending is handed to {@code ksoftirqd/N}.
 * When {@code cpu/N}'s irq exit hands work over that way, {@code ksoftirqd/N} counts as running on
 * the CPU until it finds nothing pending and goes idle ({@link #ksoftirqdDue}): later irq exits on
 * {@code cpu/N} leave the pending vectors to it. An idle kernel CPU switches to the woken ksoftirqd
 * before its next interrupt, and while ksoftirqd runs the softirqs are its own (an interrupt finds
 * bottom halves disabled, or runs them on ksoftirqd's stack as {@code current}). A host thread may
 * be scheduled late; without this the CPU thread would win the next tick's softirqs back and
 * ksoftirqd would never run what it was handed.
 *
 * <p><b>Deviations from Linux.</b> "Interrupts disabled" does not exist: the pending mask is an
 * atomic word instead of a per-CPU variable guarded by {@code local_irq_save}. A task thread that
 * disables bottom halves on CPU N holds N's owner word, so {@code ksoftirqd/N} and irq-exit
 * processing wait for it, as they would wait for that task on a real CPU.
 *
 * <p>Field access codes: {@code F} final; {@code A} VarHandle/volatile; {@code W} single writer
 * (the owner of {@link #bhOwner}), opaque reads by others.
 */
public final class Cpu {
    /** {@code MAX_SOFTIRQ_RESTART}: passes per invocation of the loop (kernel/softirq.c). */
    public static final int MAX_SOFTIRQ_RESTART = 10;

    // Counter indexes, see KernelStats.
    public static final int STAT_INVOCATIONS = 0;
    public static final int STAT_PASSES = 1;
    public static final int STAT_HANDOFFS = 2;
    public static final int STAT_KSOFTIRQD_BATCHES = 3;
    public static final int STAT_KSOFTIRQD_WAKEUPS = 4;
    public static final int STAT_TASKLET_RUNS = 5;
    public static final int STAT_TASKLET_REQUEUES = 6;
    public static final int STAT_IPIS = 7;
    public static final int STAT_TICKS = 8;
    public static final int NR_STATS = 9;

    private static final VarHandle PENDING;
    private static final VarHandle BH_OWNER;
    private static final VarHandle BH_WAITERS;
    private static final VarHandle NEED_RESCHED;
    private static final VarHandle PENDING_TIMER;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    /** Interrupt lines a CPU can be asserted on: {@code 0 .. NR_IRQS-1}. */
    public static final int NR_IRQS = 256;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            PENDING = l.findVarHandle(Cpu.class, "pending", int.class);
            BH_OWNER = l.findVarHandle(Cpu.class, "bhOwner", Thread.class);
            BH_WAITERS = l.findVarHandle(Cpu.class, "bhWaiters", int.class);
            NEED_RESCHED = l.findVarHandle(Cpu.class, "needResched", boolean.class);
            PENDING_TIMER = l.findVarHandle(Cpu.class, "pendingTimer", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** F: this CPU's number. */
    public final int id;
    private final KernelRuntime rt;                 // F
    @SuppressWarnings("unused")
    private volatile int pending;                   // A: raised vectors, bit n = vector n
    @SuppressWarnings("unused")
    private volatile Thread bhOwner;                // A: the thread that may run softirqs here
    private volatile int bhWaiters;                 // A: threads waiting in lockBh
    @SuppressWarnings("unused")
    private volatile boolean needResched;           // A: set by resched_curr, cleared by ksoftirqd
    /** A: cpu/N's irq exit handed work to ksoftirqd/N, which has not taken the owner word since. */
    private volatile boolean ksoftirqdDue;
    @SuppressWarnings("unused")
    private volatile int pendingTimer;              // A: forced threading: timer vectors for ktimers/N
    /** W: vectors raised by the bottom-half owner itself; merged into the loop without atomics. */
    private int ownerPending;
    /** A: asserted device interrupt lines waiting for {@code cpu/N}, bit n of word n/64 = line n. */
    private final long[] irqPending = new long[NR_IRQS / 64];
    private final long[] vectorCounts = new long[KernelRuntime.NR_SOFTIRQS]; // W: /proc/softirqs
    private final long[] stats = new long[NR_STATS];                          // W, or atomic adds

    final CpuThread cpuThread;        // F
    final SoftirqDaemon ksoftirqd;    // F
    /** F: {@code ktimers/N}, only with forced interrupt threading; null otherwise. */
    final KtimersDaemon ktimers;
    /** F: this CPU's tick ({@code update_process_times}), run in hardirq context. */
    final Runnable tick;

    Cpu(KernelRuntime rt, int id) {
        this.rt = rt;
        this.id = id;
        this.tick = () -> rt.tickHardirq(this);
        this.cpuThread = new CpuThread(rt, this);
        this.ksoftirqd = new SoftirqDaemon(rt, this);
        this.ktimers = rt.threadIrqs ? new KtimersDaemon(rt, this) : null;
    }

    // ---------------------------------------------------------------- raising

    /**
     * {@code raise_softirq()}: marks {@code vector} pending here and, when the caller is not in
     * interrupt context (so no {@code irq_exit} or {@code local_bh_enable} is sure to follow),
     * wakes {@code ksoftirqd/N}.
     */
    public void raise(int vector, CpuContext ctx) {
        if (ctx.inSoftirq() && ctx.cpu == id) {
            // the caller owns this CPU's bottom halves (serving softirqs, or inside
            // local_bh_disable): it runs the vector itself at the end of this pass or at its
            // local_bh_enable, so a plain write will do and nobody needs waking
            ownerPending |= 1 << vector;
            return;
        }
        raiseIrqoff(vector);
        if (!ctx.inInterrupt()) {
            wakeKsoftirqd();
        }
    }

    /** Takes the raised vectors: the owner's own, and the shared mask's (an RMW only if non-zero). */
    private int takePending() {
        int bits = ownerPending;
        ownerPending = 0;
        if (pendingVolatile() != 0) {
            bits |= (int) PENDING.getAndSet(this, 0);
        }
        return bits;
    }

    /**
     * {@code local_softirq_pending()} as {@code ctx}'s thread sees it: the shared mask, plus the
     * vectors it raised itself when it owns this CPU's bottom halves.
     */
    public int pendingSeenBy(CpuContext ctx) {
        int bits = pendingVolatile();
        if (ctx.inSoftirq() && ctx.cpu == id) {
            bits |= ownerPending;
        }
        return bits;
    }

    /** True when a vector is raised, by the owner or anyone. Bottom-half owner only. */
    private boolean anyPendingOwner() {
        return ownerPending != 0 || pendingVolatile() != 0;
    }

    /** {@code __raise_softirq_irqoff()}: marks {@code vector} pending; wakes nobody. */
    public void raiseIrqoff(int vector) {
        PENDING.getAndBitwiseOr(this, 1 << vector);
    }

    /**
     * {@code raise_timer_softirq()} from the tick, in hardirq context: marks TIMER_SOFTIRQ pending,
     * or, with forced interrupt threading, leaves it for {@code ktimers/N}, woken at irq exit.
     */
    public void raiseTimerSoftirq() {
        int vector = io.kdefer.softirq.SoftirqVector.TIMER.ordinal();
        if (ktimers != null) {
            PENDING_TIMER.getAndBitwiseOr(this, 1 << vector);
        } else {
            raiseIrqoff(vector);
        }
    }

    /** {@code local_timers_pending_force_th()}: timer vectors waiting for {@code ktimers/N}. */
    public int timerPendingVolatile() {
        return (int) PENDING_TIMER.getVolatile(this);
    }

    /** Takes the timer vectors for {@code ktimers/N} and marks them pending as softirqs. */
    int takeTimerPending() {
        int bits = (int) PENDING_TIMER.getAndSet(this, 0);
        if (bits != 0) {
            PENDING.getAndBitwiseOr(this, bits);
        }
        return bits;
    }

    /** True when the timer softirqs handed to {@code ktimers/N} have all run. */
    boolean timersQuiet() {
        return ktimers == null || (timerPendingVolatile() == 0 && BH_OWNER.getVolatile(this) != ktimers);
    }

    // ---------------------------------------------------------------- device interrupts

    /**
     * A device asserts {@code irq} at this CPU: remembers the line and wakes {@code cpu/N}, which
     * runs the line's flow handler in hardirq context. Lines asserted again before {@code cpu/N}
     * took them are delivered once (an edge latched by the interrupt controller). Allocates nothing.
     */
    public void assertIrq(int irq) {
        LONGS.getAndBitwiseOr(irqPending, irq >>> 6, 1L << irq);
        cpuThread.parker.wake();
    }

    /** True when a device interrupt waits for {@code cpu/N}. */
    boolean irqPendingAny() {
        final long[] p = irqPending;
        for (int i = 0; i < p.length; i++) {
            if ((long) LONGS.getVolatile(p, i) != 0) {
                return true;
            }
        }
        return false;
    }

    /** Takes the lowest asserted line, or returns -1 when none is. {@code cpu/N} only. */
    int takeIrq() {
        final long[] p = irqPending;
        for (int i = 0; i < p.length; i++) {
            long w = (long) LONGS.getVolatile(p, i);
            if (w != 0) {
                long bit = Long.lowestOneBit(w);
                LONGS.getAndBitwiseAnd(p, i, ~bit);
                return (i << 6) | Long.numberOfTrailingZeros(bit);
            }
        }
        return -1;
    }

    /** True when {@code t} is this CPU's {@code cpu/N} thread. */
    public boolean isCpuThread(Thread t) {
        return t == cpuThread;
    }

    /** {@code local_softirq_pending()}. */
    public int pendingVolatile() {
        return (int) PENDING.getVolatile(this);
    }

    /** {@code wakeup_softirqd()}: elided when ksoftirqd is awake. */
    public void wakeKsoftirqd() {
        if (ksoftirqd.parker.wake()) {
            LONGS.getAndAdd(stats, STAT_KSOFTIRQD_WAKEUPS, 1L);
        }
    }

    /** {@code resched_curr()} for this CPU's current task: ends the softirq restart loop early. */
    public void setNeedResched() {
        NEED_RESCHED.setVolatile(this, true);
    }

    boolean needResched() {
        return (boolean) NEED_RESCHED.getVolatile(this);
    }

    void clearNeedResched() {
        NEED_RESCHED.setVolatile(this, false);
    }

    /** Called by ksoftirqd/N when it finds nothing pending and goes idle: it leaves the CPU. */
    void ksoftirqdIdle() {
        if (ksoftirqdDue) {
            ksoftirqdDue = false;
        }
    }

    // ---------------------------------------------------------------- bottom-half ownership

    /** Takes the right to run this CPU's softirqs if nobody holds it. */
    boolean tryLockBh(Thread me) {
        return BH_OWNER.getVolatile(this) == null && BH_OWNER.compareAndSet(this, null, me);
    }

    /**
     * Takes the right to run this CPU's softirqs, waiting for the current holder. While it waits it
     * is counted in {@link #bhWaiters}, and {@code ksoftirqd/N} and {@code ktimers/N} start no new
     * batch: a thread that needs the bottom halves (an interrupt thread, a task in
     * {@code local_bh_disable}) gets them at the end of the daemon's current batch. In the kernel
     * the interrupt thread is SCHED_FIFO and preempts the daemon at that point; here, without the
     * rule, the daemon would take the word back at once and could starve the waiter for as long as
     * a softirq flood lasts.
     */
    void lockBh(Thread me) {
        if (!tryLockBh(me)) {
            BH_WAITERS.getAndAdd(this, 1);
            try {
                rt.waitQueue.await(this, () -> tryLockBh(me));
            } finally {
                BH_WAITERS.getAndAdd(this, -1);   // we own the word now: our unlockBh wakes the daemons
            }
        }
    }

    /** True while a thread waits in {@link #lockBh}: the daemons leave the word to it. */
    boolean bhContended() {
        return (int) BH_WAITERS.getVolatile(this) != 0;
    }

    /**
     * Gives the right back. Then re-reads {@link #pending}: a hardirq that raised while we held
     * it left its bits for us, and we hand them to ksoftirqd (see the class comment).
     */
    void unlockBh() {
        if (ownerPending != 0) {
            // vectors the owner raised and did not run: publish them before giving up ownership
            PENDING.getAndBitwiseOr(this, ownerPending);
            ownerPending = 0;
        }
        BH_OWNER.setVolatile(this, null);
        rt.waitQueue.wakeAll(this);
        if (pendingVolatile() != 0) {
            wakeKsoftirqd();
        }
        if (ktimers != null && timerPendingVolatile() != 0) {
            ktimers.parker.wake();
        }
    }

    /** True while some thread owns this CPU's bottom halves. */
    public boolean bhOwned() {
        return BH_OWNER.getVolatile(this) != null;
    }

    /** The thread that owns this CPU's bottom halves now, or null. */
    Thread bhOwnerVolatile() {
        return (Thread) BH_OWNER.getVolatile(this);
    }

    /** The vectors the bottom-half owner raised for itself; for {@link Invariants}, quiescent only. */
    int ownerPendingPlain() {
        return ownerPending;
    }

    // ---------------------------------------------------------------- entry points

    /** {@code irq_exit()}: leaves hardirq context and runs pending softirqs if that is allowed. */
    void irqExit(CpuContext ctx, Thread me) {
        ctx.count -= CpuContext.HARDIRQ_OFFSET;
        if (ktimers != null) {
            // forced threading: softirqs are never run on irq exit (invoke_softirq wakes ksoftirqd),
            // and timer softirqs go to ktimers/N (wake_timersd)
            if (!ctx.inInterrupt() && pendingVolatile() != 0) {
                wakeKsoftirqd();
            }
            if (!ctx.inHardirq() && timerPendingVolatile() != 0) {
                ktimers.parker.wake();
            }
            return;
        }
        if (!ctx.inInterrupt() && pendingVolatile() != 0) {
            invokeSoftirq(ctx, me);
        }
    }

    private void invokeSoftirq(CpuContext ctx, Thread me) {
        if (ksoftirqdDue) {
            // ksoftirqd/N holds this CPU since the last hand-off: the interrupt leaves the work to it
            wakeKsoftirqd();
            return;
        }
        if (tryLockBh(me)) {
            try {
                handleSoftirqs(ctx, false);
            } finally {
                unlockBh();
            }
        }
        // else: the owner runs them, or hands them to ksoftirqd when it releases (unlockBh)
    }

    /** {@code local_bh_disable()}. */
    public void localBhDisable(CpuContext ctx, Thread me) {
        if ((ctx.count & CpuContext.SOFTIRQ_MASK) == 0) {
            lockBh(me);
        }
        ctx.count += CpuContext.SOFTIRQ_DISABLE_OFFSET;
    }

    /** {@code local_bh_enable()}: the outermost enable runs pending softirqs before it returns. */
    public void localBhEnable(CpuContext ctx) {
        ctx.count -= CpuContext.SOFTIRQ_DISABLE_OFFSET;
        if ((ctx.count & CpuContext.SOFTIRQ_MASK) == 0) {
            try {
                if (!ctx.inInterrupt() && anyPendingOwner()) {
                    handleSoftirqs(ctx, false);
                }
            } finally {
                unlockBh();
            }
        }
    }

    // ---------------------------------------------------------------- the loop

    /**
     * {@code handle_softirqs(ksirqd)}: the processing loop. The caller owns {@link #bhOwner}.
     *
     * <p>Takes the pending mask, serves its vectors lowest number first, and restarts while more
     * is pending, fewer than {@link #MAX_SOFTIRQ_RESTART} passes were made, {@code jiffies} has not
     * reached {@code start + MAX_SOFTIRQ_TIME}, and nobody asked for a reschedule. Anything left
     * is handed to {@code ksoftirqd/N}.
     */
    void handleSoftirqs(CpuContext ctx, boolean ksirqd) {
        final Clock clock = rt.clock;
        // jiffies as the tick keeps them (a field), as the kernel reads them, not the system
        // clock: restarts keep the tick running; a loop that does not restart never wakes it
        final JiffiesTick tick = rt.tick;
        final long end = (tick != null ? tick.peek() : clock.jiffies()) + rt.maxSoftirqTime;
        int maxRestart = rt.maxSoftirqRestart;
        int snapshot = takePending();
        ctx.count += CpuContext.SOFTIRQ_OFFSET;
        bump(STAT_INVOCATIONS);
        if (ksirqd) {
            bump(STAT_KSOFTIRQD_BATCHES);
        }
        try {
            for (;;) {
                bump(STAT_PASSES);
                runPass(ctx, snapshot);
                if (!anyPendingOwner()) {
                    return;
                }
                // the kernel's test, cheapest first: the restart count, need_resched, then the clock
                if (--maxRestart != 0 && !needResched()
                        && (tick != null ? tick.jiffies() : clock.jiffies()) - end < 0) {
                    snapshot = takePending();
                    continue;
                }
                bump(STAT_HANDOFFS);
                if (ownerPending != 0) {
                    PENDING.getAndBitwiseOr(this, ownerPending);
                    ownerPending = 0;
                }
                if (!ksirqd && Thread.currentThread() == cpuThread) {
                    ksoftirqdDue = true;   // ksoftirqd clears it when it goes idle
                }
                wakeKsoftirqd();
                return;
            }
        } finally {
            ctx.count -= CpuContext.SOFTIRQ_OFFSET;
        }
    }

    private void runPass(CpuContext ctx, int snapshot) {
        final int expected = ctx.count;
        while (snapshot != 0) {
            final int vector = Integer.numberOfTrailingZeros(snapshot);
            snapshot &= snapshot - 1;
            LONGS.setOpaque(vectorCounts, vector, (long) LONGS.getOpaque(vectorCounts, vector) + 1);
            final Runnable action = rt.softirqs.action(vector);
            if (action != null) {
                try {
                    action.run();
                } catch (Throwable t) {
                    rt.reportError(SoftirqTable.vectorName(vector) + " softirq on cpu " + id, t);
                }
            }
            if (ctx.count != expected) {
                rt.reportError("cpu " + id, new IllegalStateException(String.format(
                        "huh, entered softirq %d %s with preempt_count %08x, exited with %s?",
                        vector, SoftirqTable.vectorName(vector), expected, ctx.countHex())));
                ctx.count = expected;
            }
        }
    }

    // ---------------------------------------------------------------- statistics

    /** Adds one to a counter this CPU's bottom-half owner maintains. */
    public void bump(int stat) {
        LONGS.setOpaque(stats, stat, (long) LONGS.getOpaque(stats, stat) + 1);
    }

    public long stat(int stat) {
        return (long) LONGS.getOpaque(stats, stat);
    }

    public long vectorCount(int vector) {
        return (long) LONGS.getOpaque(vectorCounts, vector);
    }

    void countIpi() {
        bump(STAT_IPIS);
    }

    private long activityAtLastTick;   // O: cpu/N only

    /**
     * Called by the tick on {@code cpu/N}: true if the CPU did anything besides ticking since the
     * previous tick (an idle, tickless CPU would not have been ticked).
     */
    boolean awakeSinceLastTick() {
        bump(STAT_TICKS);
        long activity = stat(STAT_IPIS) - stat(STAT_TICKS) + stat(STAT_INVOCATIONS);
        boolean awake = activity != activityAtLastTick;
        activityAtLastTick = activity;
        return awake;
    }
}

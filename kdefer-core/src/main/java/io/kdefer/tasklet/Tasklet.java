package io.kdefer.tasklet;

import io.kdefer.Kernel;
import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Secrets;
import io.kdefer.internal.Subsystems;
import io.kdefer.softirq.SoftirqVector;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

/**
 * A tasklet ({@code struct tasklet_struct}): a callback that runs in softirq context, on the CPU
 * that scheduled it, at most once per scheduling, never concurrently with itself.
 *
 * <pre>{@code
 * Tasklet rx = Tasklet.setup(kernel, t -> drainRing());    // callback API (tasklet_setup)
 * Tasklet old = Tasklet.init(kernel, data -> poll(data), 42); // legacy API (tasklet_init)
 * rx.schedule();      // tasklet_schedule: TASKLET_SOFTIRQ
 * rx.hiSchedule();    // tasklet_hi_schedule: HI_SOFTIRQ, runs before every other vector
 * rx.kill();          // waits until it is neither queued nor running
 * }</pre>
 *
 * <h2>Guarantees</h2>
 * <ul>
 *   <li><b>At least once.</b> A {@link #schedule()} that returns {@code true} queued the tasklet:
 *       its callback starts afterwards and sees every write the caller made before the call
 *       (unless {@link #kill()} is in progress, which swallows schedules).</li>
 *   <li><b>Coalescing.</b> Schedules made while it is queued return {@code false} and add no
 *       run: the run already queued has not started and will start after them.</li>
 *   <li><b>Self-serialisation.</b> The callback never runs on two threads at once. Scheduled on CPU
 *       B while running on CPU A, it runs next on B, after the run on A finished.</li>
 *   <li><b>Placement and order.</b> It runs on the CPU of the thread that scheduled it; tasklets of
 *       one CPU and vector run in the order they were scheduled; HI tasklets run before the
 *       TASKLET vector (and every other vector) of the same pass.</li>
 *   <li><b>Re-run.</b> The scheduled mark is cleared just before the callback is called, so a
 *       schedule during the callback (its own included) queues one more run.</li>
 * </ul>
 *
 * <h2>Not guaranteed</h2>
 * No order between CPUs; no time bound (a softirq flood hands the work to {@code ksoftirqd}).
 * A schedule that returns {@code false} guarantees only that a run starts after it; for that run
 * to see the caller's earlier writes they must be ordered before the call by a volatile write, a
 * lock the callback also takes, or {@link VarHandle#fullFence()} (the kernel's fully-ordered
 * {@code test_and_set_bit} gives this for plain writes too; kdefer trades it for a read-only fast
 * path, see docs/deviations.md).
 *
 * <h2>Caveats</h2>
 * <ul>
 *   <li>The callback runs in softirq context: it must not block. Use a workqueue for that.</li>
 *   <li>{@link #disable()} and {@link #kill()} wait; they are refused from the tasklet's own callback
 *       and from interrupt context (where the kernel deadlocks or sleeps illegally), as is killing
 *       a tasklet that is disabled and scheduled, which could never return. With
 *       {@code Kernel.builder().faithful(true)} the kernel's behaviour is reproduced instead.</li>
 *   <li>The kernel has deprecated tasklets in favour of threaded interrupts and BH workqueues;
 *       kdefer implements them for fidelity and for study.</li>
 * </ul>
 */
public final class Tasklet {
    /*
     * Implementation overview
     *
     * State (field `state`, accessed through STATE):
     *
     *   bit    meaning
     *   SCHED  queued on some CPU's list, a run will follow (TASKLET_STATE_SCHED)
     *   RUN    a runner holds it: the callback runs now or is about to (TASKLET_STATE_RUN);
     *          a try-lock, so the tasklet never runs concurrently with itself
     *   `count` (separate word) > 0: disabled; a runner re-queues it instead of calling it
     *
     *   from           event                                 to             notes
     *   {}             schedule() wins getAndOr(SCHED)       {S}            pushes on its CPU's list, raises
     *   {S,..}         schedule()                            unchanged      returns false (coalesced)
     *   {S}            runner: tryLock                       {S,R}          then reads count
     *   {S,R}          runner: count == 0, clear SCHED       {R}            then calls the callback
     *   {R}            schedule() (any thread, any CPU)      {S,R}          queued on the caller's CPU
     *   {S,R}/{R}      runner: callback returns, unlock      RUN cleared    wakes waiters
     *   {S}            runner: tryLock fails, or disabled    {S}            re-pushed, vector re-raised
     *   {..}           kill(): SCHED clear -> set it         {S,..}         swallows schedules meanwhile
     *   {S}            kill(): RUN clear -> clear SCHED      {}             kill returns
     *
     * Invariants: at most one thread holds RUN; a tasklet with SCHED set is on exactly one list
     * (or owned by kill()); every schedule() that returns true is followed by a callback start.
     *
     * Memory ordering (pairs):
     * - schedule() -> callback: the producer's CAS on the list head publishes its writes; the
     *   runner's getAndSet of the head acquires them (TaskletList).
     * - disable(): count++ (getAndAdd, full fence) then reads RUN; the runner sets RUN (RMW) then
     *   reads count. Store-load on both sides: either disable() sees RUN and waits, or the runner
     *   sees count > 0 and does not call. kdefer-jcstress: TaskletDisableWaitsForRunTest.
     * - unlock: getAndBitwiseAnd(~RUN) then WaitQueue.wakeAll, whose waiters re-check RUN.
     * - schedule() against Kernel.close(): the OR on SCHED, the push and the raise happen inside
     *   the caller's entry section (Lifecycle, "Entry protocol"), so close() either refuses
     *   the call or waits for the push and then runs the tasklet. The already-queued fast path
     *   reads no kernel state: the queued run it coalesces into was pushed by a call that passed
     *   the protocol, so close() runs it; after CLOSED no tasklet is SCHED and the call reaches
     *   the refusal. kdefer-jcstress: CloseRacingTaskletScheduleTest.
     *
     * Deviations from Linux: schedule() returns boolean (the kernel's returns void); its already-
     * queued fast path is a volatile read, not an atomic RMW; re-initialising an object is not
     * offered (factories make fresh tasklets); misuse that hangs the kernel throws unless faithful.
     */

    static final int SCHED = 1;
    static final int RUN = 2;

    private static final VarHandle STATE;
    private static final VarHandle COUNT;

    static {
        Subsystems.provide(Subsystems.Kind.TASKLETS,
                (kernel, rt) -> new TaskletEngine(rt, (Kernel) kernel, ((Kernel) kernel).taskletBackend(),
                        ((Kernel) kernel).debugObjects()));
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            STATE = l.findVarHandle(Tasklet.class, "state", int.class);
            COUNT = l.findVarHandle(Tasklet.class, "count", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final KernelRuntime rt;             // F
    private final TaskletEngine engine;         // F
    private final Consumer<Tasklet> callback;   // F: new-style callback, or null
    private final LongConsumer func;            // F: legacy function, or null
    private final long data;                    // F: argument of func (0 for new style)
    @SuppressWarnings("unused")
    private volatile int state;                 // A: SCHED | RUN
    @SuppressWarnings("unused")
    private volatile int count;                 // A: disable depth
    Tasklet next;                               // list link: written by the pusher before its CAS,
                                                // read and cleared by the consumer after detach
    /** A: the work items that carry this tasklet's runs on a workqueue backend ([0] TASKLET, [1] HI). */
    final io.kdefer.workqueue.Work[] carriers = new io.kdefer.workqueue.Work[2];

    private Tasklet(Kernel kernel, Consumer<Tasklet> callback, LongConsumer func, long data, int count) {
        this.rt = Secrets.runtime(kernel);
        rt.checkOpen();
        this.engine = TaskletEngine.of(rt);
        this.callback = callback;
        this.func = func;
        this.data = data;
        this.count = count;
        engine.track(this);
    }

    // ---------------------------------------------------------------- creation

    /** {@code tasklet_setup()} / {@code DECLARE_TASKLET(name, callback)}: the callback receives the tasklet. */
    public static Tasklet setup(Kernel kernel, Consumer<Tasklet> callback) {
        return new Tasklet(kernel, Objects.requireNonNull(callback, "callback"), null, 0, 0);
    }

    /** {@code DECLARE_TASKLET_DISABLED(name, callback)}: as {@link #setup} with count 1. */
    public static Tasklet setupDisabled(Kernel kernel, Consumer<Tasklet> callback) {
        return new Tasklet(kernel, Objects.requireNonNull(callback, "callback"), null, 0, 1);
    }

    /** {@code tasklet_init()} / {@code DECLARE_TASKLET_OLD}: the legacy function receives {@code data}. */
    public static Tasklet init(Kernel kernel, LongConsumer func, long data) {
        return new Tasklet(kernel, null, Objects.requireNonNull(func, "func"), data, 0);
    }

    /** {@code DECLARE_TASKLET_DISABLED_OLD}: as {@link #init} with count 1. */
    public static Tasklet initDisabled(Kernel kernel, LongConsumer func, long data) {
        return new Tasklet(kernel, null, Objects.requireNonNull(func, "func"), data, 1);
    }

    // ---------------------------------------------------------------- scheduling

    /**
     * {@code tasklet_schedule()}: queues the tasklet on the caller's CPU for TASKLET_SOFTIRQ unless
     * it is already queued. Callable from any context. Allocates nothing.
     *
     * <p>Memory ordering: if this returns {@code true}, every write the caller made before the call
     * is visible to the callback run it queued.
     * <pre>
     *   T0: x = 1; r0 = t.schedule()        callback: r1 = x
     *   Forbidden: r0 == true, r1 == 0
     * </pre>
     * Verified by {@code kdefer-jcstress: TaskletSchedulePublishesPriorWritesTest}.
     *
     * @return true if this call queued the tasklet, false if it was already queued
     * @throws IllegalStateException from a foreign thread once the kernel is closing or closed; a
     *         {@code true} is followed by a run even when {@code Kernel.close()} begins right after
     *         it (close runs it), see {@code docs/design/close.md}
     */
    public boolean schedule() {
        return schedule(engine.normal, SoftirqVector.TASKLET.ordinal());
    }

    /** {@code tasklet_hi_schedule()}: as {@link #schedule()}, on HI_SOFTIRQ (vector 0). */
    public boolean hiSchedule() {
        return schedule(engine.hi, SoftirqVector.HI.ordinal());
    }

    private boolean schedule(TaskletList[] lists, int vector) {
        if (((int) STATE.getVolatile(this) & SCHED) != 0) {
            return false;
        }
        final CpuContext ctx = rt.context();
        final boolean section = rt.enter(ctx);   // the entry protocol: refused, or served by close()
        try {
            if (((int) STATE.getAndBitwiseOr(this, SCHED) & SCHED) != 0) {
                return false;
            }
            if (engine.backend != TaskletBackend.SOFTIRQ) {
                engine.carry(this, vector == SoftirqVector.HI.ordinal(), ctx);
                return true;
            }
            if (ctx.inSoftirq()) {
                lists[ctx.cpu].pushOwner(this);   // this thread owns the CPU's bottom halves
            } else {
                lists[ctx.cpu].push(this);
            }
            rt.currentCpu(ctx).raise(vector, ctx);
            return true;
        } finally {
            if (section) {
                rt.exit(ctx);
            }
        }
    }

    // ---------------------------------------------------------------- disable / enable

    /**
     * {@code tasklet_disable_nosync()}: increments the disable count and returns at once; the
     * callback may still be running on another CPU.
     */
    public void disableNosync() {
        rt.checkOpen();
        COUNT.getAndAdd(this, 1);
        rt.waitQueue().wakeAll(this);   // a kill() waiting for this tasklet re-checks its rule
    }

    /**
     * {@code tasklet_disable()}: increments the disable count, then waits until no callback is
     * running. A schedule made while disabled is kept and runs after the matching enable.
     *
     * <p>Memory ordering: when this returns, no callback is running and none starts until the
     * matching {@link #enable()}; the effects of the last finished run are visible to the caller.
     * Verified by {@code kdefer-jcstress: TaskletDisableWaitsForRunTest}.
     *
     * @throws IllegalStateException from the tasklet's own callback (a self-deadlock in the kernel)
     *         or from interrupt context (the kernel would sleep there), unless faithful
     */
    public void disable() {
        final CpuContext ctx = rt.context();
        rt.checkOpen();
        if (!rt.faithful) {
            if (ctx.running == this) {
                throw new IllegalStateException("tasklet_disable() on " + this
                        + " from its own callback: it would wait for itself forever; use disableNosync()");
            }
            if (ctx.inInterrupt()) {
                throw new IllegalStateException("tasklet_disable() on " + this
                        + " in interrupt context (preempt_count " + ctx.countHex()
                        + "): it may sleep; use disableNosync()");
            }
        }
        // No trailing fence (the kernel ends tasklet_disable() with smp_mb() because its
        // tasklet_unlock_spin_wait() polls RUN with test_bit(), an unordered load). Here both halves
        // of the contract already come from the accesses above:
        // - no run starts until enable(): count++ is a volatile RMW and the read of RUN that
        //   follows is volatile; the runner sets RUN with a volatile RMW and then reads count
        //   volatile (TaskletEngine). Volatile accesses are totally ordered, so either we see RUN
        //   and wait, or the runner sees count > 0 and does not call;
        // - the last run's writes are visible: the read of RUN that finds it clear is a volatile
        //   read of the value unlock()'s RMW wrote after the callback returned, so the callback
        //   happens-before everything after it (an acquire; nothing later can move above it).
        // Verified without a fence by TaskletDisableWaitsForRunTest; it fails when count++ is
        // weakened to a release store (the RUN read then passes it).
        COUNT.getAndAdd(this, 1);
        rt.waitQueue().wakeAll(this);
        awaitRunClear();
    }

    /**
     * {@code tasklet_enable()}: decrements the disable count. Never schedules: a tasklet that was
     * scheduled while disabled runs when its vector next runs on that CPU.
     *
     * @throws IllegalStateException when the count is already 0 (the kernel lets it go negative,
     *         after which the tasklet never runs; faithful mode does that)
     */
    public void enable() {
        rt.checkOpen();
        if (rt.faithful) {
            COUNT.getAndAdd(this, -1);
            return;
        }
        for (;;) {
            int c = (int) COUNT.getVolatile(this);
            if (c <= 0) {
                throw new IllegalStateException("tasklet_enable() on " + this
                        + " without a matching disable (count " + c + "): unbalanced enable");
            }
            if (COUNT.compareAndSet(this, c, c - 1)) {
                return;
            }
        }
    }

    // ---------------------------------------------------------------- kill

    /**
     * {@code tasklet_kill()}: waits until the tasklet is neither queued nor running. A queued run
     * is not removed: kill waits for it to start and finish. Schedules made while kill is in
     * progress are dropped (so a self-rescheduling tasklet stops after at most one more run). The
     * tasklet may be scheduled again afterwards.
     *
     * @throws IllegalStateException from interrupt context, from its own callback, or when the
     *         tasklet is disabled and scheduled (it could never run, so the kernel hangs until an
     *         enable), unless faithful
     */
    public void kill() {
        final CpuContext ctx = rt.context();
        rt.checkOpen();
        if (ctx.running == this && !rt.faithful) {
            throw new IllegalStateException("tasklet_kill() on " + this
                    + " from its own callback: it would wait for itself forever");
        }
        if (ctx.inInterrupt()) {
            if (!rt.faithful) {
                throw new IllegalStateException("tasklet_kill() on " + this + " from interrupt context (preempt_count "
                        + ctx.countHex() + "): the kernel prints \"Attempt to kill tasklet from interrupt\" and sleeps");
            }
            System.getLogger("io.kdefer").log(System.Logger.Level.WARNING, "Attempt to kill tasklet from interrupt");
        }
        // wait_on_bit_lock(SCHED): own the SCHED bit, so no schedule can queue it meanwhile
        for (;;) {
            int s = (int) STATE.getVolatile(this);
            if ((s & SCHED) == 0) {
                if (STATE.compareAndSet(this, s, s | SCHED)) {
                    break;
                }
                continue;
            }
            if (!rt.faithful && countVolatile() > 0) {
                throw new IllegalStateException("tasklet_kill() on " + this
                        + ": it is disabled (count " + countVolatile() + ") and scheduled, so it cannot run;"
                        + " the kernel would wait here until tasklet_enable()");
            }
            rt.waitQueue().await(this, () -> ((int) STATE.getVolatile(this) & SCHED) == 0
                    || (!rt.faithful && countVolatile() > 0));
        }
        awaitRunClear();
        STATE.getAndBitwiseAnd(this, ~SCHED);
        rt.waitQueue().wakeAll(this);
    }

    // ---------------------------------------------------------------- run lock (exported by the kernel too)

    /** {@code tasklet_trylock()}: takes RUN; false when the callback is running (or a runner holds it). */
    public boolean tryLock() {
        return ((int) STATE.getAndBitwiseOr(this, RUN) & RUN) == 0;
    }

    /** {@code tasklet_unlock()}: drops RUN and wakes threads waiting for it. */
    public void unlock() {
        STATE.getAndBitwiseAnd(this, ~RUN);
        rt.waitQueue().wakeAll(this);
    }

    /** {@code tasklet_unlock_wait()}: waits until RUN is clear. */
    public void unlockWait() {
        final CpuContext ctx = rt.context();
        if (ctx.running == this && !rt.faithful) {
            throw new IllegalStateException("tasklet_unlock_wait() on " + this + " from its own callback");
        }
        awaitRunClear();
    }

    private void awaitRunClear() {
        if (((int) STATE.getVolatile(this) & RUN) != 0) {
            rt.waitQueue().await(this, () -> ((int) STATE.getVolatile(this) & RUN) == 0);
        }
    }

    // ---------------------------------------------------------------- queries

    /** True while queued (TASKLET_STATE_SCHED). */
    public boolean isScheduled() {
        return ((int) STATE.getVolatile(this) & SCHED) != 0;
    }

    /** True while a runner holds it: its callback runs or is about to (TASKLET_STATE_RUN). */
    public boolean isRunning() {
        return ((int) STATE.getVolatile(this) & RUN) != 0;
    }

    /** The disable depth; the tasklet runs only when it is 0. */
    public int count() {
        return countVolatile();
    }

    /** The {@code data} given to {@link #init}; 0 for tasklets made with {@link #setup}. */
    public long data() {
        return data;
    }

    @Override
    public String toString() {
        int s = (int) STATE.getVolatile(this);
        Object fn = callback != null ? callback : func;
        return "Tasklet@" + Integer.toHexString(System.identityHashCode(this))
                + "[" + fn.getClass().getName()
                + ((s & SCHED) != 0 ? " SCHED" : "") + ((s & RUN) != 0 ? " RUN" : "")
                + " count=" + countVolatile() + "]";
    }

    // ---------------------------------------------------------------- runner side (TaskletEngine)

    int countVolatile() {
        return (int) COUNT.getVolatile(this);
    }

    /** {@code tasklet_clear_sched()}: false if SCHED was unexpectedly clear. */
    boolean clearSchedForRun() {
        boolean wasSet = ((int) STATE.getAndBitwiseAnd(this, ~SCHED) & SCHED) != 0;
        rt.waitQueue().wakeAll(this);
        return wasSet;
    }

    /** Calls the callback; what it throws goes to the error handler. */
    void invoke(CpuContext ctx) {
        final Object outer = ctx.running;
        ctx.running = this;
        try {
            if (callback != null) {
                callback.accept(this);
            } else {
                func.accept(data);
            }
        } catch (Throwable e) {
            rt.reportError(this, e);
        } finally {
            ctx.running = outer;
        }
    }

    /** Close found this tasklet disabled and scheduled: it can never run. Report and unqueue it. */
    void dropOnClose() {
        rt.reportError(this, new IllegalStateException("kernel closing: " + this
                + " is disabled and scheduled, so it can never run; dropped"));
        STATE.getAndBitwiseAnd(this, ~SCHED);
        rt.waitQueue().wakeAll(this);
    }
}

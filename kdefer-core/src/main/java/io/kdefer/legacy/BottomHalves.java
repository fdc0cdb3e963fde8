package io.kdefer.legacy;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.tasklet.Tasklet;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The 32 old-style bottom halves (Linux 1.x–2.4), as Linux 2.4 built them ({@code kernel/softirq.c}):
 * one HI tasklet per slot ({@code bh_task_vec[32]}) whose action, {@code bh_action}, takes one
 * global lock ({@code global_bh_lock}) with a trylock before calling the slot's handler
 * ({@code bh_base[nr]}).
 *
 * <h2>Guarantees</h2>
 * <ul>
 *   <li>No two bottom halves ever run at the same time, on any CPUs (the defining property that
 *       softirqs and tasklets relaxed). A bottom half that finds the lock busy re-marks itself
 *       ({@code mark_bh(nr)}, a fresh {@code tasklet_hi_schedule}) and is retried by the HI
 *       softirq of its CPU, which restarts and then hands over to {@code ksoftirqd}, as in 2.4:
 *       the waiting CPU spins through its softirq loop until the lock is free.</li>
 *   <li>{@link #mark} is idempotent until the handler starts, runs the handler once per marking
 *       that took, on the marking CPU, in HI softirq context; callable from any context.</li>
 *   <li>{@link #disable}/{@link #enable} nest with a per-slot count (the tasklet's disable count,
 *       as 2.4's {@code disable_bh} was {@code tasklet_disable}); a bottom half marked while
 *       disabled runs after the last enable.</li>
 * </ul>
 *
 * <h2>Slots</h2>
 * The slot numbers are 2.4's enum. {@link #TIMER_BH}, {@link #TQUEUE_BH} and {@link #IMMEDIATE_BH}
 * belong to kdefer: TQUEUE_BH runs {@code tq_timer}, IMMEDIATE_BH runs {@code tq_immediate};
 * TIMER_BH stays empty, since kdefer's timers run from TIMER_SOFTIRQ (as from 2.5 on). The other
 * numbers are free for the user, whatever driver owned them in 2.4.
 *
 * <p>Deviations from 2.4: {@code bh_action} also re-marked when a hardirq was in progress on its
 * CPU ({@code hardirq_trylock}); kdefer does not (a hardirq and a bottom half of one virtual CPU
 * are different threads only when the softirq runs in {@code ksoftirqd}). {@link #init} refuses a
 * slot that already has a handler, and {@link #mark} one without (2.4 overwrote silently and ran
 * nothing), unless the kernel is faithful. {@code start_bh_atomic}/{@code end_bh_atomic} (2.2) are
 * not provided.
 *
 * <p>Memory ordering: the global lock is an {@link AtomicInteger} taken by a CAS and released by a
 * volatile store, so a bottom half's writes happen-before every later bottom half's reads, on any
 * CPU. A {@link #mark} that returns true publishes the marker's earlier writes to the run it
 * queued (the tasklet's schedule contract).
 *
 * <p>Field access codes: {@code F} final; {@code A} atomic.
 */
public final class BottomHalves {
    /** Number of slots: {@code bh_base[32]}. */
    public static final int NR_BH = 32;

    /** 2.0–2.4: the timer list; empty in kdefer (timers run from TIMER_SOFTIRQ). Reserved. */
    public static final int TIMER_BH = 0;
    /** Runs {@code tq_timer}; marked by the tick. Reserved. */
    public static final int TQUEUE_BH = 1;
    public static final int DIGI_BH = 2;
    public static final int SERIAL_BH = 3;
    public static final int RISCOM8_BH = 4;
    public static final int SPECIALIX_BH = 5;
    public static final int AURORA_BH = 6;
    public static final int ESP_BH = 7;
    public static final int SCSI_BH = 8;
    /** Runs {@code tq_immediate}; marked by whoever queues there. Reserved. */
    public static final int IMMEDIATE_BH = 9;
    public static final int CYCLADES_BH = 10;
    public static final int CM206_BH = 11;
    public static final int JS_BH = 12;
    public static final int MACSERIAL_BH = 13;
    public static final int ISICOM_BH = 14;

    private final LegacyEngine engine;                 // F
    private final KernelRuntime rt;                    // F
    private final Tasklet[] vec = new Tasklet[NR_BH];  // F: bh_task_vec
    private final AtomicReferenceArray<Runnable> base = new AtomicReferenceArray<>(NR_BH);   // A: bh_base
    /** A: {@code global_bh_lock}: 0 free, else 1 + the CPU whose bottom half runs. */
    private final AtomicInteger globalLock = new AtomicInteger();
    private final AtomicLong runs = new AtomicLong();      // A
    private final AtomicLong retries = new AtomicLong();   // A: lock-busy re-marks

    BottomHalves(LegacyEngine engine) {
        this.engine = engine;
        this.rt = engine.rt;
        for (int nr = 0; nr < NR_BH; nr++) {
            final int n = nr;
            vec[nr] = Tasklet.init(engine.kernel, data -> bhAction(n), nr);
        }
        base.set(TQUEUE_BH, engine.tqTimer::run);
        base.set(IMMEDIATE_BH, engine.tqImmediate::run);
    }

    private static boolean reserved(int nr) {
        return nr == TIMER_BH || nr == TQUEUE_BH || nr == IMMEDIATE_BH;
    }

    private static void checkNr(String op, int nr) {
        if (nr < 0 || nr >= NR_BH) {
            throw new IllegalArgumentException(op + "(" + nr + "): bottom half numbers are 0.." + (NR_BH - 1));
        }
    }

    /** {@code bh_action(nr)}: the HI tasklet of slot {@code nr}. */
    private void bhAction(int nr) {
        int cpu = rt.context().cpu;
        if (!globalLock.compareAndSet(0, cpu + 1)) {
            retries.incrementAndGet();
            vec[nr].hiSchedule();   // resched: mark_bh(nr), retried by this CPU's HI softirq
            return;
        }
        try {
            Runnable h = base.get(nr);
            if (h != null) {
                runs.incrementAndGet();
                h.run();
            }
        } catch (Throwable t) {
            rt.reportError("bottom half " + nr, t);
        } finally {
            globalLock.set(0);
        }
    }

    /**
     * {@code init_bh(nr, routine)}: installs the handler of slot {@code nr}.
     *
     * @throws IllegalArgumentException for a number outside 0..31
     * @throws IllegalStateException for a slot kdefer owns (TIMER_BH, TQUEUE_BH, IMMEDIATE_BH) or
     *         one that already has a handler ({@link #remove} it first), unless faithful
     */
    public void init(int nr, Runnable routine) {
        checkNr("init_bh", nr);
        Objects.requireNonNull(routine, "routine");
        rt.checkOpen();
        if (reserved(nr)) {
            throw new IllegalStateException("init_bh(" + nr + "): slot " + nr
                    + " belongs to kdefer (TIMER_BH, TQUEUE_BH, IMMEDIATE_BH); use another number");
        }
        if (rt.faithful) {
            base.set(nr, routine);
            return;
        }
        if (!base.compareAndSet(nr, null, routine)) {
            throw new IllegalStateException("init_bh(" + nr + "): slot " + nr
                    + " already has a handler; remove_bh it first");
        }
    }

    /**
     * {@code remove_bh(nr)}: uninstalls the handler and waits until it is neither marked nor
     * running ({@code tasklet_kill}, which is how 2.4 synchronised). The handler is cleared first,
     * so a marking still pending runs nothing. Task context only.
     *
     * @throws IllegalStateException from interrupt context (it waits), for a slot kdefer owns, for
     *         an empty slot, or when the slot is disabled and marked (it could never finish)
     */
    public void remove(int nr) {
        checkNr("remove_bh", nr);
        rt.checkOpen();
        if (reserved(nr)) {
            throw new IllegalStateException("remove_bh(" + nr + "): slot " + nr + " belongs to kdefer");
        }
        CpuContext ctx = rt.context();
        if (ctx.inInterrupt()) {
            throw new IllegalStateException("remove_bh(" + nr + ") in interrupt context (preempt_count "
                    + ctx.countHex() + "): it waits for a running bottom half");
        }
        if (base.get(nr) == null) {
            throw new IllegalStateException("remove_bh(" + nr + "): slot " + nr + " has no handler");
        }
        if (vec[nr].count() > 0 && vec[nr].isScheduled()) {
            throw new IllegalStateException("remove_bh(" + nr + "): the bottom half is disabled ("
                    + vec[nr].count() + ") and marked, so it cannot run; enable_bh it first");
        }
        base.set(nr, null);
        vec[nr].kill();
    }

    /**
     * {@code mark_bh(nr)}: marks the bottom half for running on this CPU's next HI softirq
     * ({@code tasklet_hi_schedule(bh_task_vec + nr)}). Idempotent until the handler starts.
     * Callable from any context.
     *
     * @return true when this call marked it, false when it was marked already
     * @throws IllegalStateException for a slot without handler, unless faithful (which marks it;
     *         the run then does nothing, as in 2.4)
     */
    public boolean mark(int nr) {
        checkNr("mark_bh", nr);
        if (base.get(nr) == null && !rt.faithful) {
            throw new IllegalStateException("mark_bh(" + nr + "): slot " + nr
                    + " has no handler (init_bh first" + (nr == TIMER_BH
                    ? "; kdefer's timers run from TIMER_SOFTIRQ, TIMER_BH is empty)" : ")"));
        }
        return vec[nr].hiSchedule();
    }

    /** mark_bh for kdefer's own slots (the tick, the close drain). */
    void markOwned(int nr) {
        vec[nr].hiSchedule();
    }

    /**
     * {@code queue_task(task, &tq_immediate); mark_bh(IMMEDIATE_BH)}: the 2.4 idiom in one call.
     *
     * @return whether the task was queued (false: it was queued already; the mark is made anyway)
     */
    public boolean queueImmediate(Runnable task) {
        boolean queued = engine.tqImmediate.queueTask(task);
        markOwned(IMMEDIATE_BH);
        return queued;
    }

    /**
     * {@code disable_bh(nr)}: increments the slot's disable count; no run of it starts until the
     * matching {@link #enable}. From task context it also waits for a run in progress, as 2.4's
     * {@code tasklet_disable} did; from interrupt context (another bottom half, a hardirq) it
     * returns at once ({@code tasklet_disable_nosync}).
     */
    public void disable(int nr) {
        checkNr("disable_bh", nr);
        CpuContext ctx = rt.context();
        if (ctx.inInterrupt()) {
            vec[nr].disableNosync();
        } else {
            vec[nr].disable();
        }
    }

    /**
     * {@code enable_bh(nr)}: decrements the disable count; when it reaches 0 a marking made
     * meanwhile runs (at the slot's CPU's next HI softirq).
     *
     * @throws IllegalStateException without a matching {@link #disable}, unless faithful
     */
    public void enable(int nr) {
        checkNr("enable_bh", nr);
        if (!rt.faithful && vec[nr].count() <= 0) {
            throw new IllegalStateException("enable_bh(" + nr + ") without a matching disable_bh (count "
                    + vec[nr].count() + ")");
        }
        vec[nr].enable();
    }

    /** The slot's disable depth ({@code bh_mask_count[nr]}). */
    public int disableCount(int nr) {
        checkNr("disableCount", nr);
        return vec[nr].count();
    }

    /** True while the slot is marked and has not started ({@code bh_active & (1 << nr)}). */
    public boolean isMarked(int nr) {
        checkNr("isMarked", nr);
        return vec[nr].isScheduled();
    }

    /** True when slot {@code nr} has a handler. */
    public boolean isInstalled(int nr) {
        checkNr("isInstalled", nr);
        return base.get(nr) != null;
    }

    /** The CPU whose bottom half holds the global lock now, or -1. */
    public int runningOn() {
        return globalLock.get() - 1;
    }

    /** Handler calls so far (every slot). */
    public long runs() {
        return runs.get();
    }

    /** Times a bottom half found the global lock busy and re-marked itself. */
    public long retries() {
        return retries.get();
    }

    void checkInvariants(boolean quiescent, List<String> out) {
        if (quiescent && globalLock.get() != 0) {
            out.add("bottom halves: global_bh_lock is held by cpu " + (globalLock.get() - 1)
                    + " while nothing runs");
        }
    }

    @Override
    public String toString() {
        return "BottomHalves[runs=" + runs.get() + ", retries=" + retries.get() + "]";
    }
}

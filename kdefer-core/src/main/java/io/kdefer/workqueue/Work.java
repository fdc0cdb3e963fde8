package io.kdefer.workqueue;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A work item ({@code struct work_struct}, {@code include/linux/workqueue.h}): a function that a
 * {@link Workqueue} runs in process context on a kernel worker ({@code kworker/N:M}), or in softirq
 * context for a BH workqueue. An item is queued at most once at a time; queueing it while it runs
 * makes it run once more afterwards, never concurrently with itself (spec §4.5).
 *
 * <pre>{@code
 * Work w = new Work(self -> process(ring));
 * kernel.systemWq().queue(w);     // true: queued; false: already pending (or disabled)
 * w.cancelSync();                 // neither pending nor running on return
 * }</pre>
 *
 * <h2>State machine ({@code work->data}, spec §4.2)</h2>
 * One word, {@link #state}, holds the PENDING bit (bit 0) and the disable count (bits 16-31, at
 * most 65535). PENDING is the single source of truth for "pending" and whoever sets it owns the
 * item's queueing until the item is on a list or the bit is cleared again:
 * <pre>
 *   idle ──queue (RMW sets PENDING)──▶ pending, off list ──__queue_work (pool lock)──▶ queued
 *     ▲                                     │ delayed: on its timer ──timer fn──┘          │
 *     │                                     ▼                                            │
 *     │                              grab (cancel/disable/mod): timer deleted,           │
 *     │                              or unlinked under the pool lock ◀────────────────────┤
 *     │                                                                                  ▼
 *     └──function returns (not re-queued)── executing ◀──worker: unlink, clear PENDING (RMW), call
 * </pre>
 * The fields below the state word (list links, the pwq, and the flush color, INACTIVE, LINKED and CPU
 * packed in one word) are
 * guarded by the lock of the pool the item is queued on; {@link #lastPool} names that pool, and
 * stays set after the run so that a later queue can find a worker still executing it.
 *
 * <h2>Memory ordering</h2>
 * <ul>
 *   <li>A {@code queue} that returns true happens-before the function's run: the item is linked
 *       under the pool lock, which the worker takes before it runs the item. Verified by
 *       {@code kdefer-jcstress: WorkqueueQueuePublishesPriorWritesTest}.</li>
 *   <li>A {@code queue} that returns false because the item is pending still performs an atomic
 *       read-modify-write of the state word (as {@code test_and_set_bit} does); the worker clears
 *       PENDING with another one before it calls the function, so the function sees every store
 *       the failed caller made before its call (spec §4.4: no lost event). Verified by
 *       {@code kdefer-jcstress: WorkqueueFailedQueuePublishesTest}.</li>
 *   <li>The function never runs on two workers at once, even queued from two CPUs
 *       ({@code WorkqueueNoConcurrentRunTest}).</li>
 * </ul>
 *
 * <p>Field access codes: {@code F} final; {@code A} atomic (VarHandle) or volatile; {@code L}
 * guarded by the lock of {@link #lastPool}.
 */
public class Work {
    static final int PENDING = 1;
    static final int DISABLE_SHIFT = 16;
    static final int DISABLE_UNIT = 1 << DISABLE_SHIFT;
    /** {@code WORK_OFFQ_DISABLE_BITS} = 16: the highest disable count. */
    static final int DISABLE_MAX = 0xffff;
    /** {@code WORK_BUSY_PENDING}. */
    public static final int BUSY_PENDING = 1;
    /** {@code WORK_BUSY_RUNNING}. */
    public static final int BUSY_RUNNING = 2;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Work.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** F: the function ({@code work->func}). */
    final Consumer<Work> func;
    /** A: PENDING (bit 0) and the disable count (bits 16-31). */
    @SuppressWarnings("unused")
    private volatile int state;
    /** A: the pool this item was last queued on (set under that pool's lock); null before the first queue. */
    volatile WorkerPool lastPool;

    // L: queueing state, under lastPool's lock
    Work next;
    Work prev;
    WorkList list;
    /** L: the pwq the item is queued on (non-null exactly while it is on a list). */
    Pwq pwq;
    /**
     * L: the rest of the queueing state in one word, so that an idle item stays at 48 bytes:
     * bits 0-3 the flush color of the current queueing, bit 4 {@code WORK_STRUCT_INACTIVE} (on the
     * pwq's inactive list, or a barrier, which never counts), bit 5 {@code WORK_STRUCT_LINKED} (the
     * next item is a barrier that moves with this one), bits 8-31 the CPU the item was queued from
     * or for (an unbound worker runs it as that CPU).
     */
    private int qbits;

    /** {@code INIT_WORK(work, func)}. */
    public Work(Consumer<Work> func) {
        this.func = Objects.requireNonNull(func, "func");
    }

    /** For the flush barrier. */
    Work() {
        this.func = null;
    }

    // ---------------------------------------------------------------- queueing bits (L)

    private static final int COLOR_MASK = 0xf;
    private static final int INACTIVE = 1 << 4;
    private static final int LINKED = 1 << 5;
    private static final int CPU_SHIFT = 8;

    final int color() {
        return qbits & COLOR_MASK;
    }

    final void setColor(int color) {
        qbits = (qbits & ~COLOR_MASK) | color;
    }

    final boolean inactive() {
        return (qbits & INACTIVE) != 0;
    }

    final void setInactive(boolean on) {
        qbits = on ? qbits | INACTIVE : qbits & ~INACTIVE;
    }

    final boolean linked() {
        return (qbits & LINKED) != 0;
    }

    final void setLinked(boolean on) {
        qbits = on ? qbits | LINKED : qbits & ~LINKED;
    }

    final int queuedCpu() {
        return qbits >>> CPU_SHIFT;
    }

    final void setQueuedCpu(int cpu) {
        qbits = (qbits & ((1 << CPU_SHIFT) - 1)) | (cpu << CPU_SHIFT);
    }

    // ---------------------------------------------------------------- state word

    final int stateVolatile() {
        return (int) STATE.getVolatile(this);
    }

    /** {@code test_and_set_bit(PENDING)}: always a full-fence RMW, so a failed queue publishes. */
    final int testAndSetPending() {
        return (int) STATE.getAndBitwiseOr(this, PENDING);
    }

    /** Sets PENDING if clear; true when this call set it. */
    final boolean casPending(int expect) {
        return STATE.compareAndSet(this, expect, expect | PENDING);
    }

    /** {@code set_work_pool_and_clear_pending}: a full-fence RMW. */
    final void clearPending() {
        STATE.getAndBitwiseAnd(this, ~PENDING);
    }

    final boolean casState(int expect, int update) {
        return STATE.compareAndSet(this, expect, update);
    }

    static int disableCount(int s) {
        return s >>> DISABLE_SHIFT;
    }

    // ---------------------------------------------------------------- queries

    /** {@code work_pending()}: queued, or waiting on its delay timer. */
    public final boolean isPending() {
        return (stateVolatile() & PENDING) != 0;
    }

    /** The disable count ({@code disable_work} nests). */
    public final int disableCount() {
        return disableCount(stateVolatile());
    }

    /**
     * {@code work_busy()}: {@link #BUSY_PENDING} and/or {@link #BUSY_RUNNING}. Advisory only: the
     * answer may be stale by the time it is read.
     */
    public final int busy() {
        int r = isPending() ? BUSY_PENDING : 0;
        WorkerPool p = lastPool;
        if (p != null && p.isExecuting(this)) {
            r |= BUSY_RUNNING;
        }
        return r;
    }

    // ---------------------------------------------------------------- operations

    /**
     * {@code flush_work()}: waits until the instance pending or running at the time of the call has
     * finished. A re-queue after the call is not waited for.
     *
     * @return true if it waited, false if the item was idle
     * @throws IllegalStateException from atomic context, from BH context, or from the item's own
     *                               function (it would wait for itself)
     */
    public boolean flush() {
        return Flush.flushWork(this);
    }

    /**
     * {@code cancel_work()}: takes the item off its queue if it is pending. Does not wait for a
     * running instance. Any context.
     *
     * @return true if it was pending
     */
    public boolean cancel() {
        return Cancel.cancel(this, false);
    }

    /**
     * {@code cancel_work_sync()}: cancels and waits for a running instance; on return the item is
     * neither pending nor running (unless queued again afterwards), and the writes of its last run
     * are visible to the caller. Queue attempts during the call return false. An item last queued
     * on a BH workqueue may be cancelled from BH context (the wait spins). Verified by
     * {@code kdefer-jcstress: WorkCancelSyncWaitsForRunTest}.
     *
     * @return true if it was pending
     */
    public boolean cancelSync() {
        return Cancel.cancelSync(this, false);
    }

    /**
     * {@code disable_work()}: raises the disable count (nests, at most 65535) and cancels a pending
     * instance; queueing returns false and is forgotten until {@link #enable()} brings the count
     * back to 0. Does not wait. Any context.
     *
     * @return true if it was pending
     */
    public boolean disable() {
        return Cancel.disable(this, false);
    }

    /** {@code disable_work_sync()}: {@link #disable()}, then waits for a running instance. */
    public boolean disableSync() {
        return Cancel.disableSync(this);
    }

    /**
     * {@code enable_work()}: lowers the disable count. Queues nothing.
     *
     * @return true when the count reached 0
     * @throws IllegalStateException when the item is not disabled (the kernel WARNs; in faithful
     *                               mode reported, the count stays 0)
     */
    public boolean enable() {
        return Cancel.enable(this);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "@" + Integer.toHexString(System.identityHashCode(this))
                + (func != null ? "(" + func.getClass().getName() + ")" : "(barrier)");
    }
}

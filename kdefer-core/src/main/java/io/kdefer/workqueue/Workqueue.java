package io.kdefer.workqueue;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.timer.KernelTimer;
import io.kdefer.timer.TimerFlag;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A workqueue ({@code struct workqueue_struct}, spec §4): a named front end that maps work items
 * onto worker pools. It owns no threads: per-CPU queues use the CPUs' shared normal or highpri
 * pools, unbound and ordered queues the unbound pools, BH queues the CPUs' softirq context.
 *
 * <pre>{@code
 * Workqueue wq = kernel.allocWorkqueue("mydrv", 0, WqFlag.UNBOUND);
 * wq.queue(work);            // false: already pending, or disabled
 * wq.flush();                // every item queued before this call has finished
 * wq.destroy();              // drains, then refuses new work
 * }</pre>
 *
 * <h2>Flushing (spec §5.8)</h2>
 * Each queueing tags the item with the queue's current flush color (16 colors) and counts it in
 * its pwq. {@link #flush()} takes the current color, advances every pwq to the next one, and
 * waits until no item of its color is in flight on any pwq. Flushers are served one color at a
 * time, in order: the first flusher counts the pwqs that still hold its color, the last item of
 * the color to retire completes it, and the completed flusher hands over to the next queued one.
 * Items queued after the call (self-requeues included) carry a later color, so a flush cannot be
 * live-locked. At most 15 colors are in flight; a 16th concurrent flusher waits for the oldest.
 *
 * <p>Field access codes: {@code F} final; {@code A} volatile/atomic; {@code M} guarded by
 * {@link #flushMutex} ({@code wq->mutex}); pwq fields by their pool's lock.
 */
public final class Workqueue implements Executor {
    /** {@code WORK_CPU_UNBOUND}: no CPU requested. */
    public static final int WORK_CPU_UNBOUND = -1;
    /** {@code WQ_MAX_ACTIVE} (6.13+). */
    public static final int WQ_MAX_ACTIVE = 2048;
    /** {@code WQ_DFL_ACTIVE}: what {@code max_active} 0 means. */
    public static final int WQ_DFL_ACTIVE = WQ_MAX_ACTIVE / 2;

    final WorkqueueEngine engine;     // F
    final KernelRuntime rt;           // F
    private final String name;        // F
    private final Set<WqFlag> flags;  // F
    final boolean bh;                 // F
    final boolean unbound;            // F
    final boolean ordered;            // F
    final boolean cpuIntensive;       // F
    final boolean system;             // F: a system workqueue (never destroyed)
    /** F: the rescuer of a {@link WqFlag#MEM_RECLAIM} queue, else null. */
    final Rescuer rescuer;
    private volatile int maxActive;   // A
    /** F: the pwq for each CPU (one shared pwq for unbound and ordered queues). */
    final Pwq[] pwqs;
    /** F: the distinct pwqs. */
    final Pwq[] distinct;

    private final Object flushMutex = new Object();   // F: wq->mutex
    private int workColor;                             // M: color of new items (unbounded; & 15)
    private int flushColor;                            // M: oldest color not flushed yet
    private volatile Flusher firstFlusher;             // A, written under M
    private final ArrayDeque<Flusher> flushQueue = new ArrayDeque<>();   // M
    private final AtomicInteger nrPwqsToFlush = new AtomicInteger();     // A
    private final AtomicInteger drainers = new AtomicInteger();          // A: nr_drainers
    private volatile boolean destroying;               // A
    private volatile boolean destroyed;                // A

    private static final class Flusher {
        int color;
        volatile boolean done;
    }

    Workqueue(WorkqueueEngine engine, String name, int maxActive, Set<WqFlag> flags, boolean ordered, boolean system) {
        this.engine = engine;
        this.rt = engine.rt;
        this.name = name;
        this.flags = Collections.unmodifiableSet(flags.isEmpty() ? EnumSet.noneOf(WqFlag.class) : EnumSet.copyOf(flags));
        this.bh = flags.contains(WqFlag.BH);
        this.unbound = !bh && (flags.contains(WqFlag.UNBOUND) || ordered);
        this.ordered = ordered;
        this.cpuIntensive = flags.contains(WqFlag.CPU_INTENSIVE) && !unbound;
        this.system = system;
        this.maxActive = maxActive;
        boolean highpri = flags.contains(WqFlag.HIGHPRI);
        int n = rt.nrCpus;
        this.pwqs = new Pwq[n];
        int perPwq = bh ? Integer.MAX_VALUE : maxActive;
        if (unbound) {
            Pwq p = new Pwq(this, engine.unboundPool(highpri), perPwq);
            java.util.Arrays.fill(pwqs, p);
            this.distinct = new Pwq[] {p};
        } else {
            for (int c = 0; c < n; c++) {
                pwqs[c] = new Pwq(this, bh ? engine.bhPool(c, highpri) : engine.cpuPool(c, highpri), perPwq);
            }
            this.distinct = pwqs.clone();
        }
        if (flags.contains(WqFlag.MEM_RECLAIM) && !bh) {
            rescuer = new Rescuer(this, distinct[0].pool);
            rescuer.start();
        } else {
            rescuer = null;
        }
    }

    // ---------------------------------------------------------------- queries

    /** The name given at allocation ({@code events}, {@code events_unbound}, ...). */
    public String name() {
        return name;
    }

    /** {@code max_active}: per CPU for per-CPU queues, system-wide for unbound ones; 0 for BH queues. */
    public int maxActive() {
        return bh ? 0 : maxActive;
    }

    /** The flags given at allocation (ordered queues also have {@link WqFlag#UNBOUND}). */
    public Set<WqFlag> flags() {
        return flags;
    }

    /** True for {@code alloc_ordered_workqueue} queues. */
    public boolean isOrdered() {
        return ordered;
    }

    /** True once {@link #destroy()} returned. */
    public boolean isDestroyed() {
        return destroyed;
    }

    @Override
    public String toString() {
        return "workqueue " + name;
    }

    // ---------------------------------------------------------------- queueing

    /**
     * {@code queue_work()}: queues on the caller's CPU (per-CPU queues) or on the unbound pool.
     *
     * <p>Memory ordering: if this returns {@code true}, every write the caller made before the call
     * is visible to the run it queued; if it returns {@code false} because the item is pending (not
     * started), that pending run sees them too (the call is a full-fence RMW of the item's state, and
     * the worker clears PENDING with another before it calls the function).
     * <pre>
     *   T0: x = 1; r0 = wq.queue(w)          T1 (w's function, the run r0 queued or coalesced into): r1 = x
     *   Forbidden: r1 == 0
     * </pre>
     * Two concurrent calls on an idle item: exactly one returns true; a call while the item runs
     * (not pending) queues exactly one more run. Verified by {@code kdefer-jcstress:
     * WorkqueueQueuePublishesPriorWritesTest}, {@code WorkqueueFailedQueuePublishesTest},
     * {@code WorkqueueConcurrentQueueTest}, {@code WorkqueueQueueDuringRunTest}.
     *
     * @return true if this call queued it; false if it was already pending or is disabled
     * @throws IllegalStateException when the queue is destroyed, or draining and the caller is not
     *                               one of its own items (faithful mode: reported, the item stays
     *                               pending, as the kernel leaves it)
     */
    public boolean queue(Work work) {
        return queueOn(WORK_CPU_UNBOUND, work);
    }

    /** {@code queue_work_on(cpu, ...)}: runs on that CPU's pool (per-CPU queues). */
    public boolean queueOn(int cpu, Work work) {
        Objects.requireNonNull(work, "work");
        checkCpuArg(cpu);
        CpuContext ctx = rt.context();
        checkLive(ctx, work);
        boolean section = rt.enter(ctx);
        try {
            if (!claim(work)) {
                return false;
            }
            queueAdmitted(cpu, work, ctx);
            return true;
        } finally {
            if (section) {
                rt.exit(ctx);
            }
        }
    }

    /**
     * {@code queue_delayed_work()}: queues after {@code delay} jiffies (0: at once, without a
     * timer). False, with the timer left as it is, if the item is already pending.
     */
    public boolean queueDelayed(DelayedWork dwork, long delay) {
        return queueDelayedOn(WORK_CPU_UNBOUND, dwork, delay);
    }

    /** As {@link #queueDelayed(DelayedWork, long)}, the delay rounded up to whole jiffies. */
    public boolean queueDelayed(DelayedWork dwork, Duration delay) {
        return queueDelayedOn(WORK_CPU_UNBOUND, dwork, toJiffies(delay));
    }

    /** {@code queue_delayed_work_on()}: the timer is armed on {@code cpu} and queues there. */
    public boolean queueDelayedOn(int cpu, DelayedWork dwork, long delay) {
        Objects.requireNonNull(dwork, "dwork");
        checkCpuArg(cpu);
        checkDelay(delay);
        CpuContext ctx = rt.context();
        checkLive(ctx, dwork);
        boolean section = rt.enter(ctx);
        try {
            if (!claim(dwork)) {
                return false;
            }
            queueDelayedAdmitted(cpu, dwork, delay, ctx);
            return true;
        } finally {
            if (section) {
                rt.exit(ctx);
            }
        }
    }

    /**
     * {@code mod_delayed_work()}: re-times a pending item (timer or queue) to run after
     * {@code delay}, or queues an idle one. Any context.
     *
     * @return true if it was pending (and is re-timed), false if it was idle (and is now queued)
     */
    public boolean modDelayed(DelayedWork dwork, long delay) {
        return modDelayedOn(WORK_CPU_UNBOUND, dwork, delay);
    }

    /** {@code mod_delayed_work_on()}. */
    public boolean modDelayedOn(int cpu, DelayedWork dwork, long delay) {
        Objects.requireNonNull(dwork, "dwork");
        checkCpuArg(cpu);
        checkDelay(delay);
        CpuContext ctx = rt.context();
        checkLive(ctx, dwork);
        boolean section = rt.enter(ctx);
        try {
            int r = Cancel.grab(dwork, true);
            if (dwork.disableCount() != 0) {
                dwork.clearPending();
            } else {
                queueDelayedAdmitted(cpu, dwork, delay, ctx);
            }
            return r == Cancel.GRABBED_PENDING;
        } finally {
            if (section) {
                rt.exit(ctx);
            }
        }
    }

    /** {@code enable_and_queue_work()}: true when the enable brought the count to 0 and it queued. */
    public boolean enableAndQueue(Work work) {
        return work.enable() && queue(work);
    }

    /** {@link Executor#execute}: queues a fresh item that runs {@code command}; a throw is reported. */
    @Override
    public void execute(Runnable command) {
        Objects.requireNonNull(command, "command");
        try {
            queue(new Work(w -> command.run()));
        } catch (IllegalStateException e) {
            throw new RejectedExecutionException(e.getMessage(), e);
        }
    }

    /**
     * This queue as a JDK {@link java.util.concurrent.ExecutorService}, keeping the JDK contracts
     * ({@code submit}, {@code invokeAll}, {@code invokeAny}, {@code shutdown} drains,
     * {@code shutdownNow} returns the tasks never started, {@code awaitTermination}). Shutting the
     * view down does not destroy the queue.
     */
    public java.util.concurrent.ExecutorService asExecutorService() {
        return new WorkqueueExecutorService(this);
    }

    /**
     * This queue as a JDK {@link java.util.concurrent.ScheduledExecutorService} whose delays run on
     * the kernel's timer wheel ({@code schedule}, {@code scheduleAtFixedRate},
     * {@code scheduleWithFixedDelay}; cancelling removes the timer), so that a program can swap a
     * {@code ScheduledThreadPoolExecutor} for it in one line.
     */
    public java.util.concurrent.ScheduledExecutorService asScheduledExecutorService() {
        return new WorkqueueScheduledExecutorService(this);
    }

    /**
     * {@code test_and_set_bit(PENDING)} and the disable check of {@code queue_work_on}: true when the
     * caller now owns PENDING and must queue the item; false when it was pending already, or is
     * disabled (PENDING is given back then, and the request forgotten).
     */
    private static boolean claim(Work work) {
        int old = work.testAndSetPending();
        if ((old & Work.PENDING) != 0) {
            return false;
        }
        if (Work.disableCount(old) != 0) {
            work.clearPending();
            return false;
        }
        return true;
    }

    /** {@code __queue_work()}: the caller owns PENDING and is admitted. */
    void queueAdmitted(int reqCpu, Work work, CpuContext ctx) {
        final int cpu = reqCpu == WORK_CPU_UNBOUND ? ctx.cpu : reqCpu;
        Pwq pwq = pwqs[cpu];
        WorkerPool last = work.lastPool;
        if (last != null && last != pwq.pool && !ordered) {
            // non-reentrancy: still running on its last pool for this queue? go there
            last.lockPool();
            try {
                Worker w = last.findExecuting(work);
                if (w != null && w.currentPwq != null && w.currentPwq.wq == this) {
                    pwq = w.currentPwq;
                }
            } finally {
                last.lock.unlock();
            }
        }
        final WorkerPool pool = pwq.pool;
        String refused = null;
        pool.lockPool();
        try {
            if ((destroying || drainers.get() != 0) && !chained(ctx)) {
                refused = "cannot queue " + work + " on " + this + ": it is "
                        + (destroyed ? "destroyed" : destroying ? "being destroyed" : "draining")
                        + " (only its own items may queue on it meanwhile)";
            } else {
                work.lastPool = pool;
                work.pwq = pwq;
                work.setQueuedCpu(cpu);
                int color = pwq.workColor;
                work.setColor(color);
                pwq.nrInFlight[color]++;
                if (pwq.inactive.isEmpty() && pwq.nrActive < pwq.maxActive) {
                    pwq.nrActive++;
                    work.setInactive(false);
                    if (pool.worklist.isEmpty()) {
                        pool.watchdogTs = rt.clock.jiffies();
                        engine.watchdogNeeded();
                    }
                    pool.worklist.addLast(work);
                    if (!pool.kick(ctx) && pool.nrRunning > 0) {
                        pool.armSampler();   // it waits behind a counted worker: watch that one
                    }
                } else {
                    work.setInactive(true);
                    pwq.inactive.addLast(work);
                }
            }
        } finally {
            pool.lock.unlock();
        }
        if (refused != null) {
            if (rt.faithful) {
                rt.reportError(this, new IllegalStateException(refused));   // the item stays PENDING
            } else {
                work.clearPending();
                throw new IllegalStateException(refused);
            }
        }
    }

    /** {@code __queue_delayed_work()}: the caller owns PENDING and is admitted. */
    void queueDelayedAdmitted(int cpu, DelayedWork dw, long delay, CpuContext ctx) {
        if (delay == 0) {
            queueAdmitted(cpu, dw, ctx);
            return;
        }
        KernelTimer t = dw.timer;
        if (t == null) {
            t = KernelTimer.setup(engine.kernel(), self -> engine.delayedTimerFn(dw), TimerFlag.IRQSAFE);
            dw.engine = engine;
            dw.timer = t;
        } else if (dw.engine != engine) {
            dw.clearPending();
            throw new IllegalStateException(dw + " belongs to another kernel's workqueues");
        }
        dw.wq = this;
        dw.targetCpu = cpu;
        long expires = rt.clock.jiffies() + delay;
        if (cpu == WORK_CPU_UNBOUND) {
            t.add(expires);
        } else {
            t.addOn(cpu, expires);
        }
    }

    /** True when the caller is a worker executing an item of this queue ({@code is_chained_work}). */
    private boolean chained(CpuContext ctx) {
        Worker w = engine.currentWorker(ctx);
        return w != null && w.currentPwq != null && w.currentPwq.wq == this;
    }

    // ---------------------------------------------------------------- flush, drain, destroy

    /**
     * {@code flush_workqueue()}: waits until every item queued before the call has finished
     * (inactive ones included), and their writes are visible to the caller; items queued afterwards
     * are not waited for. Verified by {@code kdefer-jcstress: WorkqueueFlushWaitsForQueuedTest}.
     *
     * @throws IllegalStateException from atomic context, or from one of this queue's own items
     */
    public void flush() {
        CpuContext ctx = rt.context();
        Flush.checkSleepable(rt, ctx, "flush_workqueue()", this);
        if (chained(ctx)) {
            Flush.selfDeadlock(rt, this, "flush_workqueue() from one of the queue's own items waits for itself");
        }
        final Flusher f = new Flusher();
        for (;;) {
            synchronized (flushMutex) {
                if (workColor - flushColor < Pwq.NR_COLORS - 1) {
                    f.color = workColor;
                    workColor++;
                    int next = workColor & (Pwq.NR_COLORS - 1);
                    for (Pwq p : distinct) {
                        p.pool.lockPool();
                        try {
                            p.workColor = next;
                        } finally {
                            p.pool.lock.unlock();
                        }
                    }
                    if (firstFlusher == null) {
                        firstFlusher = f;
                        startFlush(f);
                    } else {
                        flushQueue.addLast(f);
                    }
                    break;
                }
            }
            // all colors in use: wait until the oldest flush is done (the kernel's overflow list)
            rt.waitQueue().await(flushMutex, this::colorFree);
        }
        rt.waitQueue().await(f, () -> f.done);
        synchronized (flushMutex) {
            // f was the first flusher: hand over to the next color
            flushColor = f.color + 1;
            firstFlusher = null;
            Flusher next = flushQueue.pollFirst();
            if (next != null) {
                firstFlusher = next;
                startFlush(next);
            }
        }
        rt.waitQueue().wakeAll(flushMutex);
    }

    private boolean colorFree() {
        synchronized (flushMutex) {
            return workColor - flushColor < Pwq.NR_COLORS - 1;
        }
    }

    /** M: the first flusher marks every pwq that still holds its color. */
    private void startFlush(Flusher f) {
        int c = f.color & (Pwq.NR_COLORS - 1);
        nrPwqsToFlush.set(1);
        for (Pwq p : distinct) {
            p.pool.lockPool();
            try {
                if (p.nrInFlight[c] > 0) {
                    p.flushColor = c;
                    nrPwqsToFlush.incrementAndGet();
                }
            } finally {
                p.pool.lock.unlock();
            }
        }
        if (nrPwqsToFlush.decrementAndGet() == 0) {
            f.done = true;
            rt.waitQueue().wakeAll(f);
        }
    }

    /** Under a pool lock: a pwq retired the last item of the color being flushed. */
    void pwqFlushDone() {
        if (nrPwqsToFlush.decrementAndGet() == 0) {
            Flusher f = firstFlusher;
            f.done = true;
            rt.waitQueue().wakeAll(f);
        }
    }

    /**
     * {@code drain_workqueue()}: flushes until no item is queued, inactive or running; meanwhile
     * only the queue's own items may queue on it (chains), anything else is refused.
     */
    public void drain() {
        CpuContext ctx = rt.context();
        Flush.checkSleepable(rt, ctx, "drain_workqueue()", this);
        if (chained(ctx)) {
            Flush.selfDeadlock(rt, this, "drain_workqueue() from one of the queue's own items waits for itself");
        }
        drainers.incrementAndGet();
        try {
            for (int tries = 1; ; tries++) {
                flush();
                if (empty()) {
                    return;
                }
                if (tries == 10 || (tries % 100 == 0 && tries <= 1000)) {
                    rt.reportError(this, new IllegalStateException("workqueue " + name
                            + ": drain_workqueue() isn't complete after " + tries + " tries"));
                }
            }
        } finally {
            drainers.decrementAndGet();
        }
    }

    private boolean empty() {
        for (Pwq p : distinct) {
            p.pool.lockPool();
            try {
                if (p.inFlight() != 0) {
                    return false;
                }
            } finally {
                p.pool.lock.unlock();
            }
        }
        return true;
    }

    /**
     * {@code destroy_workqueue()}: drains (items queued before run; only chains may queue
     * meanwhile), then refuses every queueing.
     *
     * @throws IllegalStateException for a system workqueue
     */
    public void destroy() {
        if (system) {
            throw new IllegalStateException("destroy_workqueue(" + name + "): a system workqueue cannot be destroyed");
        }
        if (destroyed) {
            return;
        }
        // refused calls change nothing: check before the queue starts refusing outside work
        CpuContext ctx = rt.context();
        Flush.checkSleepable(rt, ctx, "destroy_workqueue()", this);
        if (chained(ctx)) {
            Flush.selfDeadlock(rt, this, "destroy_workqueue() from one of the queue's own items waits for itself");
        }
        destroying = true;
        drain();
        destroyed = true;
        if (rescuer != null) {
            rescuer.stopRescuer();
        }
        engine.removed(this);
    }

    /**
     * {@code workqueue_set_max_active()}: inactive items are activated up to the new limit.
     *
     * @throws IllegalStateException for ordered and BH queues (the kernel WARNs and ignores it)
     * @throws IllegalArgumentException outside [1, {@link #WQ_MAX_ACTIVE}] (faithful mode: clamped
     *                                  with a reported warning)
     */
    public void setMaxActive(int maxActive) {
        if (ordered || bh) {
            String rule = "workqueue_set_max_active(" + name + "): not allowed on " + (bh ? "a BH" : "an ordered")
                    + " workqueue (the kernel WARNs and ignores it)";
            if (!rt.faithful) {
                throw new IllegalStateException(rule);
            }
            rt.reportError(this, new IllegalStateException(rule));
            return;
        }
        int m = engine.clampMaxActive(name, maxActive, false);
        this.maxActive = m;
        for (Pwq p : distinct) {
            p.pool.lockPool();
            try {
                p.maxActive = m;
                if (p.activateInactive()) {
                    p.pool.kick(rt.context());
                }
            } finally {
                p.pool.lock.unlock();
            }
        }
    }

    // ---------------------------------------------------------------- checks

    private void checkLive(CpuContext ctx, Work work) {
        if (destroyed) {
            throw new IllegalStateException("cannot queue " + work + " on " + this + ": it is destroyed");
        }
    }

    private void checkCpuArg(int cpu) {
        if (cpu != WORK_CPU_UNBOUND) {
            rt.checkCpu(cpu);
        }
    }

    private static void checkDelay(long delay) {
        if (delay < 0) {
            throw new IllegalArgumentException("delay must be >= 0 jiffies: " + delay);
        }
    }

    long toJiffies(Duration d) {
        long nanos = Objects.requireNonNull(d, "delay").toNanos();
        if (nanos < 0) {
            throw new IllegalArgumentException("delay must not be negative: " + d);
        }
        long perJiffy = 1_000_000_000L / rt.hz;
        return (nanos + perJiffy - 1) / perJiffy;
    }

    /** Consistency rules, under each pool's lock. */
    void checkInvariants(java.util.List<String> out) {
        for (Pwq p : distinct) {
            p.pool.lockPool();
            try {
                if (p.nrActive < 0) {
                    out.add(this + " on " + p.pool + ": nr_active " + p.nrActive + " is negative");
                }
                for (int c = 0; c < Pwq.NR_COLORS; c++) {
                    if (p.nrInFlight[c] < 0) {
                        out.add(this + " on " + p.pool + ": nr_in_flight[" + c + "] = " + p.nrInFlight[c]);
                    }
                }
                if (p.nrActive < p.maxActive && !p.inactive.isEmpty()) {
                    out.add(this + " on " + p.pool + ": inactive items wait while nr_active " + p.nrActive
                            + " < max_active " + p.maxActive + " (rule: an inactive item waits for a slot)");
                }
            } finally {
                p.pool.lock.unlock();
            }
        }
    }
}

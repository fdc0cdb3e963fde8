package io.kdefer.workqueue;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Secrets;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.timer.KernelTimer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A worker pool ({@code struct worker_pool}, {@code kernel/workqueue.c}, spec §5): the workers
 * that execute the items of every workqueue mapped to it, and the concurrency management that
 * keeps exactly one of them running while there is work.
 *
 * <p>Kinds: per CPU a normal and a highpri pool ({@code kworker/N:M}, {@code kworker/N:MH}),
 * concurrency-managed; two unbound pools ({@code kworker/uP:M}), whose workers never count in
 * {@code nr_running}; per CPU two BH pools whose single pseudo worker is the CPU's softirq context
 * (TASKLET and HI vectors).
 *
 * <h2>Predicates (spec §5.1), all under {@link #lock}</h2>
 * <pre>
 *   needMoreWorker   worklist non-empty and nrRunning == 0        kick, worker wake-up
 *   mayStartWorking  nrIdle > 0 (a spare can take over)           worker before working
 *   keepWorking      worklist non-empty and nrRunning <= 1        worker loop
 *   tooManyWorkers   idle > 2 and (idle - 2) * 4 >= busy          idle timer (culling)
 * </pre>
 *
 * <h2>Worker transitions (spec §5.2)</h2>
 * A worker's flags PREP, CPU_INTENSIVE and UNBOUND are its NOT_RUNNING set: setting the first of
 * them takes it out of {@link #nrRunning}, clearing the last puts it back. A worker that sleeps in a
 * kdefer blocking call leaves {@code nrRunning} ({@code wq_worker_sleeping}) and the pool wakes an
 * idle worker if work is waiting; it comes back when it wakes ({@code wq_worker_running}). A worker
 * blocked in plain JDK code is found by the sampler ({@link #sample}) one tick later and treated
 * the same; so is an item that has run past the CPU-intensive threshold (it becomes CPU_INTENSIVE
 * until it ends).
 *
 * <p>Workers are created on demand: the first when the pool is first kicked, then one more
 * whenever a worker is about to start working and no idle spare is left (the manager's job in
 * {@code worker_thread}), so that a worker that sleeps always has someone to hand over to.
 *
 * <p>Field access codes: {@code F} final; {@code L} guarded by {@link #lock}; {@code A} volatile.
 */
final class WorkerPool {
    static final int WORKER_PREP = 1;
    static final int WORKER_CPU_INTENSIVE = 2;
    static final int WORKER_UNBOUND = 4;
    static final int WORKER_IDLE = 8;
    static final int WORKER_NOT_RUNNING = WORKER_PREP | WORKER_CPU_INTENSIVE | WORKER_UNBOUND;
    /** {@code MAX_IDLE_WORKERS_RATIO}. */
    static final int MAX_IDLE_WORKERS_RATIO = 4;
    /** {@code BH_WORKER_RESTARTS}. */
    static final int BH_WORKER_RESTARTS = 10;

    final WorkqueueEngine engine;    // F
    final KernelRuntime rt;          // F
    final int id;                    // F: pool id (names of unbound workers)
    /** F: the pool's CPU; -1 for an unbound pool. */
    final int cpu;
    final boolean highpri;           // F
    final boolean bh;                // F
    /** F: pool->lock; taken with {@link #lockPool()}, released with {@code lock.unlock()}. */
    final ReentrantLock lock = new ReentrantLock();
    /** Attempts of {@link #lockPool()} before it queues on the lock. */
    private static final int LOCK_SPINS = 64;
    /** Then yields, before it queues. */
    private static final int LOCK_YIELDS = 8;
    final WorkList worklist;         // L
    /** L: workers counted as running (concurrency management). */
    int nrRunning;
    int nrWorkers;                   // L
    int nrIdle;                      // L
    /** L: idle workers, most recently idle first ({@code idle_list}, LIFO). */
    final ArrayDeque<Worker> idle = new ArrayDeque<>();
    /** L: {@code busy_hash}: item -> the worker executing it (identity, no allocation per entry). */
    final IdentityHashMap<Work, Worker> busy = new IdentityHashMap<>();
    /** L: every worker ever started and not yet joined (close joins them). */
    final ArrayList<Worker> threads = new ArrayList<>();
    private final BitSet ids = new BitSet();   // L: worker ids in use (the pool's IDA)
    /** L: the BH pool's pseudo worker; null for thread pools. */
    final Worker bhWorker;
    /** A: items executed, for close()'s activity count; written under the lock. */
    volatile long processed;
    /** L: jiffies at the last forward progress ({@code watchdog_ts}). */
    long watchdogTs;
    /** L: the sampler's timer (also culls idle workers); created on first need. */
    private KernelTimer sampler;
    private KernelTimer idleTimer;   // L: created on first need
    /** L: on the {@link FastSampler}'s list; added and removed under this pool's lock. */
    private boolean fastWatched;
    /** L: the jiffy after which the fast sampler stops watching this pool. */
    private long fastUntil;

    WorkerPool(WorkqueueEngine engine, int id, int cpu, boolean highpri, boolean bh) {
        this.engine = engine;
        this.rt = engine.rt;
        this.id = id;
        this.cpu = cpu;
        this.highpri = highpri;
        this.bh = bh;
        this.worklist = new WorkList(describe() + " worklist");
        this.bhWorker = bh ? new Worker(this, -1) : null;
    }

    /**
     * Takes the pool lock. The lock is held for a few list operations at a time, so a contended
     * acquire first retries for a moment: {@link ReentrantLock#lock()} allocates a queue node each
     * time it has to wait, which would cost every queueing that meets the worker at the lock an
     * allocation.
     */
    void lockPool() {
        final ReentrantLock l = lock;
        if (l.tryLock()) {
            return;
        }
        for (int i = 0; i < LOCK_SPINS; i++) {
            Thread.onSpinWait();
            if (l.tryLock()) {
                return;
            }
        }
        for (int i = 0; i < LOCK_YIELDS; i++) {
            Thread.yield();   // the holder may have been descheduled: let it finish
            if (l.tryLock()) {
                return;
            }
        }
        l.lock();
    }

    boolean unbound() {
        return cpu < 0;
    }

    /** The vector of a BH pool. */
    SoftirqVector vector() {
        return highpri ? SoftirqVector.HI : SoftirqVector.TASKLET;
    }

    String describe() {
        if (bh) {
            return "cpu " + cpu + " BH" + (highpri ? " highpri" : "") + " pool";
        }
        return unbound() ? "unbound" + (highpri ? " highpri" : "") + " pool " + id
                : "cpu " + cpu + (highpri ? " highpri" : "") + " pool";
    }

    String workerName(int workerId) {
        if (bh) {
            return "kworker/" + cpu + ":" + (highpri ? "BH-H" : "BH");
        }
        return unbound() ? "kworker/u" + id + ":" + workerId
                : "kworker/" + cpu + ":" + workerId + (highpri ? "H" : "");
    }

    @Override
    public String toString() {
        return describe();
    }

    // ---------------------------------------------------------------- predicates (L)

    boolean needMoreWorker() {
        return !worklist.isEmpty() && nrRunning == 0;
    }

    boolean mayStartWorking() {
        return nrIdle > 0;
    }

    boolean keepWorking() {
        return !worklist.isEmpty() && nrRunning <= 1;
    }

    boolean tooManyWorkers() {
        int idleCount = nrIdle;
        int busyCount = nrWorkers - idleCount;
        return idleCount > 2 && (idleCount - 2) * MAX_IDLE_WORKERS_RATIO >= busyCount;
    }

    // ---------------------------------------------------------------- flags (L)

    void setFlags(Worker w, int f) {
        if ((f & WORKER_NOT_RUNNING) != 0 && (w.flags & WORKER_NOT_RUNNING) == 0 && !w.sleeping) {
            nrRunning--;
        }
        w.flags |= f;
    }

    void clearFlags(Worker w, int f) {
        int old = w.flags;
        w.flags &= ~f;
        if ((f & WORKER_NOT_RUNNING) != 0 && (old & WORKER_NOT_RUNNING) != 0
                && (w.flags & WORKER_NOT_RUNNING) == 0 && !w.sleeping) {
            nrRunning++;
        }
    }

    // ---------------------------------------------------------------- kick (L)

    /**
     * {@code kick_pool()}: if work waits and no worker runs, wake the most recently idle worker
     * (creating the pool's first one if it has none), or for a BH pool raise its vector on its CPU.
     */
    boolean kick(CpuContext ctx) {
        if (!needMoreWorker()) {
            return false;
        }
        if (bh) {
            rt.raiseOn(cpu, vector(), ctx);
            return true;
        }
        Worker w = idle.peekFirst();
        if (w == null) {
            if (nrWorkers != 0) {
                return false;   // every worker is busy: the one that started last keeps a spare
            }
            w = createWorker();
            if (w == null) {
                return false;   // the mayday timer is armed: rescuers will be called
            }
        }
        w.wake();
        return true;
    }

    /** L: {@code need_to_create_worker()}. */
    boolean needToCreateWorker() {
        return needMoreWorker() && !mayStartWorking();
    }

    // ---------------------------------------------------------------- workers (L)

    /**
     * {@code create_worker()}: a new worker, idle, started; under the lock (it waits for it). Null
     * when no thread can be created (the JVM refused one, or the test hook says so): then the mayday
     * timer is armed, so that rescuers take over the items of their workqueues.
     */
    Worker createWorker() {
        if (engine.workerCreationFails) {
            creationFailed();
            return null;
        }
        int wid = ids.nextClearBit(0);
        Worker w = new Worker(this, wid);
        if (unbound()) {
            w.flags |= WORKER_UNBOUND;
        }
        try {
            w.start();
        } catch (Throwable t) {   // OutOfMemoryError: unable to create native thread
            rt.reportError(this, t);
            creationFailed();
            return null;
        }
        ids.set(wid);
        nrWorkers++;
        threads.add(w);
        enterIdle(w);
        return w;
    }

    // ---------------------------------------------------------------- mayday (L)

    private KernelTimer maydayTimer;   // L: created on first need

    /** L: a worker could not be created; in {@code MAYDAY_INITIAL_TIMEOUT} the rescuers are called. */
    private void creationFailed() {
        engine.creationFailures.incrementAndGet();
        KernelTimer t = maydayTimer;
        if (t == null) {
            t = Secrets.ownTimer(engine.kernel(), self -> maydayTimeout(), false);
            maydayTimer = t;
        }
        if (!t.isPending() && !rt.isClosing()) {
            t.mod(rt.clock.jiffies() + engine.maydayInitialTimeout);
        }
    }

    /**
     * {@code pool_mayday_timeout()}: while the pool needs a worker it cannot create, every pwq with
     * items on the worklist whose workqueue has a rescuer is sent a mayday; again every
     * {@code MAYDAY_INTERVAL}.
     */
    private void maydayTimeout() {
        lockPool();
        try {
            if (!needToCreateWorker() && !(nrWorkers == 0 && !worklist.isEmpty())) {
                return;
            }
            if (nrWorkers == 0 && !engine.workerCreationFails) {
                kick(rt.context());   // the manager's retry (CREATE_COOLDOWN): a pool with no worker at all
                if (nrWorkers != 0) {
                    return;
                }
            }
            for (Work w = worklist.first(); w != null; w = w.next) {
                Rescuer r = w.pwq != null ? w.pwq.wq.rescuer : null;
                if (r != null) {
                    r.mayday(w.pwq);
                }
            }
            if (!rt.isClosing()) {
                maydayTimer.mod(rt.clock.jiffies() + engine.maydayInterval);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * L: the rescuer takes every item of {@code pwq} from the worklist (an item another worker of
     * this pool executes goes to that worker, as {@code assign_work} does) and runs them.
     */
    void rescue(Worker rescuer, Pwq pwq, CpuContext ctx) {
        for (Work w = worklist.first(); w != null; ) {
            if (w.pwq == pwq) {
                Work next = w.next;
                while (next != null && w.linked() && next.func == null) {
                    next = next.next;   // its barriers move with it
                }
                assignWork(w, rescuer);
                w = next;
            } else {
                w = w.next;
            }
        }
        if (!rescuer.scheduled.isEmpty()) {
            processScheduled(rescuer, ctx);
        }
    }

    void enterIdle(Worker w) {
        w.flags |= WORKER_IDLE;
        nrIdle++;
        w.lastActive = rt.clock.jiffies();
        idle.addFirst(w);
        if (tooManyWorkers()) {
            armIdleTimer();
        }
    }

    void leaveIdle(Worker w) {
        if ((w.flags & WORKER_IDLE) != 0) {
            w.flags &= ~WORKER_IDLE;
            nrIdle--;
            idle.remove(w);
        }
    }

    /** A worker that ended (culled or stopped) gives back its id. */
    void workerExited(Worker w) {
        ids.clear(w.workerId);
    }

    // ---------------------------------------------------------------- processing (L)

    /**
     * {@code assign_work()}: moves {@code work} (and its linked barriers) to {@code w}'s scheduled
     * list, or to the scheduled list of the worker of this pool already executing it (whichever
     * workqueue queued it: non-reentrancy within a pool). True when {@code w} got it.
     */
    boolean assignWork(Work work, Worker w) {
        Worker collision = work.func == null ? null : busy.get(work);
        if (collision != null && collision.currentFunc == work.func) {
            work.list.moveLinked(work, collision.scheduled);
            return false;
        }
        work.list.moveLinked(work, w.scheduled);
        return true;
    }

    /** {@code process_scheduled_works()}. */
    void processScheduled(Worker w, CpuContext ctx) {
        watchdogTs = rt.clock.jiffies();
        Work work;
        while ((work = w.scheduled.first()) != null) {
            processOne(w, work, ctx);
        }
    }

    /**
     * {@code process_one_work()}: called and returns with the lock held; drops it around the
     * function. {@code ctx} is the running thread's context (the worker's, or for a BH pool the
     * thread that owns the CPU's bottom halves).
     */
    void processOne(Worker w, Work work, CpuContext ctx) {
        final Pwq pwq = work.pwq;
        final int color = work.color();
        final boolean countsActive = !work.inactive();
        final boolean barrier = work.func == null;
        if (!barrier) {
            busy.put(work, w);
        }
        w.current = work;
        w.currentFunc = work.func;
        w.currentPwq = pwq;
        w.currentColor = color;
        w.startedAt = rt.clock.jiffies();
        final int itemCpu = work.queuedCpu();
        work.list.remove(work);
        work.pwq = null;
        work.setInactive(false);
        work.setLinked(false);
        if (pwq.wq.cpuIntensive) {
            setFlags(w, WORKER_CPU_INTENSIVE);
        }
        // for workers outside concurrency management (unbound, CPU-intensive) this hands the next
        // item to another worker; for a counted worker nrRunning > 0 and it does nothing
        kick(ctx);
        if (nrRunning > 0 && !worklist.isEmpty()) {
            armSampler();   // items wait behind a counted worker: watch it
        }
        work.clearPending();   // full-fence RMW: from here on the item may be queued again
        lock.unlock();
        try {
            if (barrier) {
                ((Flush.Barrier) work).complete(rt);
            } else {
                run(w, work, ctx, itemCpu);
            }
        } finally {
            lockPool();
        }
        if ((w.flags & WORKER_CPU_INTENSIVE) != 0) {
            clearFlags(w, WORKER_CPU_INTENSIVE);
        }
        if (!barrier) {
            busy.remove(work);
        }
        itemEnded(w);
        w.lastFunc = work.func;
        w.current = null;
        w.currentFunc = null;
        w.currentPwq = null;
        processed = processed + 1;
        pwq.decInFlight(color, countsActive);
    }

    private void run(Worker w, Work work, CpuContext ctx, int itemCpu) {
        final Object savedRunning = ctx.running;
        final int savedCpu = ctx.cpu;
        if (unbound()) {
            ctx.cpu = itemCpu;   // an unbound worker runs as the CPU the item was queued from
        }
        final int count = ctx.count;
        ctx.running = work;
        try {
            work.func.accept(work);
        } catch (Throwable t) {
            rt.reportError(work, t);
        } finally {
            ctx.running = savedRunning;
            if (!bh) {
                // an interrupt the function left set must not reach the next item, nor make the
                // worker's idle park return at once (ThreadPoolExecutor clears it too)
                Thread.interrupted();
            }
            if (ctx.count != count) {
                // "BUG: workqueue leaked atomic, lock or RCU": give back what the function kept
                String hex = ctx.countHex();
                while ((ctx.count & CpuContext.SOFTIRQ_MASK) > (count & CpuContext.SOFTIRQ_MASK)
                        && (ctx.count & CpuContext.SOFTIRQ_MASK) >= CpuContext.SOFTIRQ_DISABLE_OFFSET) {
                    rt.cpu(ctx.cpu).localBhEnable(ctx);
                }
                ctx.count = count;
                rt.reportError(work, new IllegalStateException("workqueue leaked atomic context: " + work
                        + " returned with preempt_count " + hex + " (was " + String.format("%08x", count)
                        + ") on " + w.getName()));
            }
            ctx.cpu = savedCpu;
        }
    }

    /** True when a worker of this pool executes {@code work} now ({@code find_worker_executing_work}). */
    boolean isExecuting(Work work) {
        lockPool();
        try {
            return findExecuting(work) != null;
        } finally {
            lock.unlock();
        }
    }

    /** L: the worker executing {@code work} (same function), or null. */
    Worker findExecuting(Work work) {
        Worker w = busy.get(work);
        return w != null && w.currentFunc == work.func ? w : null;
    }

    // ---------------------------------------------------------------- BH pools

    /**
     * {@code bh_worker()}: runs in the softirq context of this pool's CPU, ahead of the tasklets of
     * the same vector; at most {@link #BH_WORKER_RESTARTS} items or {@code BH_WORKER_JIFFIES}, then
     * re-raises the vector for the rest.
     */
    void bhRun(CpuContext ctx) {
        lockPool();
        try {
            if (worklist.isEmpty()) {
                return;
            }
            final Worker w = bhWorker;
            final long end = rt.clock.jiffies() + rt.maxSoftirqTime;
            int restarts = BH_WORKER_RESTARTS;
            do {
                Work work = worklist.first();
                if (work == null) {
                    break;
                }
                if (assignWork(work, w)) {
                    processScheduled(w, ctx);
                }
            } while (--restarts > 0 && rt.clock.jiffies() - end < 0);
            if (!worklist.isEmpty()) {
                kick(ctx);
            }
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- concurrency management

    /** {@code wq_worker_sleeping()}: on the worker's thread, outside the lock. */
    void workerSleeping(Worker w) {
        lockPool();
        try {
            if (w.sleeping || (w.flags & WORKER_NOT_RUNNING) != 0) {
                return;
            }
            w.sleeping = true;
            nrRunning--;
            kick(w.ctx());
        } finally {
            lock.unlock();
        }
    }

    /** {@code wq_worker_running()}: on the worker's thread, outside the lock. */
    void workerRunning(Worker w) {
        lockPool();
        try {
            wakeCounted(w);
        } finally {
            lock.unlock();
        }
    }

    /** L: a sleeping worker (told by its hooks or found by the sampler) counts again. */
    private void wakeCounted(Worker w) {
        if (!w.sleeping) {
            return;
        }
        w.sleeping = false;
        w.sampledAsleep = false;
        w.startedAt = rt.clock.jiffies();   // the CPU-intensive clock restarts on wake-up
        if ((w.flags & WORKER_NOT_RUNNING) == 0) {
            nrRunning++;
        }
    }

    /** L: the worker finished an item while the sampler held it as asleep. */
    void itemEnded(Worker w) {
        if (w.sampledAsleep) {
            wakeCounted(w);
        }
    }

    /**
     * The sampler (timer callback, every jiffy while a counted worker is busy): a counted worker
     * whose thread is blocked in plain JDK code ({@code Thread.State} BLOCKED, WAITING,
     * TIMED_WAITING) is treated as sleeping; one that runs again counts again; an item that has run
     * without sleeping for {@code cpuIntensiveThresh} jiffies becomes CPU-intensive
     * ({@code wq_worker_tick}). Then the pool is kicked.
     */
    private void sample() {
        lockPool();
        try {
            sampleLocked();
        } finally {
            lock.unlock();
        }
    }

    /**
     * A pass of the {@link FastSampler} over this pool: the same check as {@link #sample()} while
     * items wait behind a counted worker, until the watch expires.
     */
    void fastSample() {
        lockPool();
        try {
            if (!fastWatched) {
                return;
            }
            if (rt.isClosing() || rt.clock.jiffies() - fastUntil > 0) {
                fastWatched = false;
                engine.fastSampler.remove(this);
                return;
            }
            if (nrRunning > 0 && !worklist.isEmpty()) {
                sampleLocked();
            }
        } finally {
            lock.unlock();
        }
    }

    /** L: a worker was found blocked in JDK code: watch this pool closely for a while. */
    private void watchFast(long now) {
        final FastSampler f = engine.fastSampler;
        if (f == null) {
            return;   // a clock that does not move by itself: the jiffy sampler alone
        }
        fastUntil = now + engine.fastSampleHold;
        if (!fastWatched) {
            fastWatched = true;
            f.add(this);
        }
    }

    /** L: the sampling pass shared by the jiffy sampler and the fast one. */
    private void sampleLocked() {
        final CpuContext ctx = rt.context();
        {
            long now = rt.clock.jiffies();
            boolean busyCounted = false;
            for (Worker w : threads) {
                if (w.current == null || w.current.func == null) {
                    continue;
                }
                Thread.State st = w.getState();
                // a worker queued on this pool's lock (the sampler holds it now) is retiring an
                // item or waking up, as a kworker spinning on pool->lock: running, not asleep
                boolean blocked = (st == Thread.State.BLOCKED || st == Thread.State.WAITING
                        || st == Thread.State.TIMED_WAITING) && !lock.hasQueuedThread(w);
                if (w.sampledAsleep) {
                    if (!blocked) {
                        wakeCounted(w);
                    }
                } else if (blocked && !w.sleeping && (w.flags & WORKER_NOT_RUNNING) == 0) {
                    w.sleeping = true;
                    w.sampledAsleep = true;
                    engine.sampledSleeps.incrementAndGet();
                    nrRunning--;
                    watchFast(now);
                } else if (!w.sleeping && (w.flags & WORKER_NOT_RUNNING) == 0
                        && now - w.startedAt >= engine.cpuIntensiveThresh) {
                    setFlags(w, WORKER_CPU_INTENSIVE);
                    engine.cpuIntensiveViolations.incrementAndGet();
                }
                if (!w.sleeping && (w.flags & WORKER_NOT_RUNNING) == 0) {
                    busyCounted = true;
                }
            }
            kick(ctx);
            if (busyCounted && !worklist.isEmpty()) {
                armSampler();
            }
        }
    }

    /**
     * L: arms the sampler for the next jiffy if it is not armed. Only while items wait on the
     * worklist behind a counted worker: a worker that blocks or runs long holds nobody back
     * otherwise, and arming a timer on every item start would put a timer arm (and the wake-up of
     * an idle {@code cpu/N}) on the queue-to-start path. So a queueing that finds a counted worker
     * busy arms it, as does a worker that starts an item with more waiting.
     */
    void armSampler() {
        if (unbound() || bh) {
            return;   // unbound workers are never counted, BH workers run in softirq context
        }
        KernelTimer t = sampler;
        if (t == null) {
            t = Secrets.ownTimer(engine.kernel(), self -> sample(), true);
            sampler = t;
        }
        if (!t.isPending() && !rt.isClosing()) {
            t.addOn(cpu, rt.clock.jiffies() + 1);
        }
    }

    // ---------------------------------------------------------------- idle culling

    /** L: arms the idle timer for the oldest idle worker's timeout. */
    private void armIdleTimer() {
        KernelTimer t = idleTimer;
        if (t == null) {
            // not deferrable (the kernel's is): an idle virtual CPU never runs deferrable timers
            t = Secrets.ownTimer(engine.kernel(), self -> cullIdle(), false);
            idleTimer = t;
        }
        if (!t.isPending() && !rt.isClosing()) {
            t.mod(rt.clock.jiffies() + engine.idleWorkerTimeout);
        }
    }

    /**
     * The idle timer: while there are too many idle workers, ends the oldest one that has been idle
     * for {@code IDLE_WORKER_TIMEOUT}, or re-arms for its expiry ({@code idle_worker_timeout} and
     * {@code idle_cull_fn}, here in one step).
     */
    private void cullIdle() {
        lockPool();
        try {
            long now = rt.clock.jiffies();
            while (tooManyWorkers()) {
                Worker oldest = idle.peekLast();
                long expires = oldest.lastActive + engine.idleWorkerTimeout;
                if (now - expires < 0) {
                    if (!rt.isClosing()) {
                        idleTimer.mod(expires);
                    }
                    return;
                }
                leaveIdle(oldest);
                nrWorkers--;
                oldest.die = true;
                engine.culled.incrementAndGet();
                oldest.wake();
            }
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- close and checks

    /** close() began: the pool's own timers stop (they re-arm only while the kernel runs). */
    void closing() {
        lockPool();
        try {
            if (sampler != null) {
                sampler.delete();
            }
            if (maydayTimer != null) {
                maydayTimer.delete();
            }
            if (idleTimer != null) {
                idleTimer.delete();
            }
        } finally {
            lock.unlock();
        }
    }

    /** close(): a pool that could not create its first worker tries again (it has items and nobody to run them). */
    void retryIfStalled() {
        lockPool();
        try {
            if (nrWorkers == 0 && !worklist.isEmpty()) {
                kick(rt.context());
            }
        } finally {
            lock.unlock();
        }
    }

    /** True when nothing is queued, inactive or running here. */
    boolean quiet() {
        lockPool();
        try {
            return worklist.isEmpty() && busy.isEmpty() && (bhWorker == null || bhWorker.current == null);
        } finally {
            lock.unlock();
        }
    }

    /** Stops and joins every worker thread; true if the caller was interrupted meanwhile. */
    boolean stopWorkers() {
        List<Worker> all;
        lockPool();
        try {
            all = new ArrayList<>(threads);
            for (Worker w : all) {
                w.die = true;
                w.wake();
            }
        } finally {
            lock.unlock();
        }
        boolean interrupted = false;
        for (Worker w : all) {
            interrupted |= KernelRuntime.join(w);
        }
        lockPool();
        try {
            threads.removeAll(all);
        } finally {
            lock.unlock();
        }
        return interrupted;
    }

    /** Consistency rules of this pool, under its lock (see {@code Invariants}). */
    void checkInvariants(List<String> out) {
        lockPool();
        try {
            int idleSeen = 0;
            int running = 0;
            for (Worker w : threads) {
                if ((w.flags & WORKER_IDLE) != 0) {
                    idleSeen++;
                } else if (!w.die && !w.sleeping && (w.flags & WORKER_NOT_RUNNING) == 0) {
                    running++;
                }
            }
            if (idleSeen != nrIdle || idle.size() != nrIdle) {
                out.add(this + ": nr_idle " + nrIdle + ", idle list " + idle.size() + ", idle workers " + idleSeen
                        + " (rule: nr_idle counts the idle list)");
            }
            if (!unbound() && !bh && running != nrRunning) {
                out.add(this + ": nr_running " + nrRunning + " but " + running
                        + " counted workers (rule: nr_running counts awake workers outside NOT_RUNNING)");
            }
            for (Work w = worklist.first(); w != null; w = w.next) {
                if (!w.isPending()) {
                    out.add(w + " on " + worklist.name + ": PENDING clear (rule: a queued item is PENDING)");
                }
                if (w.pwq == null || w.pwq.pool != this) {
                    out.add(w + " on " + worklist.name + ": its pwq is not of this pool");
                }
            }
        } finally {
            lock.unlock();
        }
    }
}

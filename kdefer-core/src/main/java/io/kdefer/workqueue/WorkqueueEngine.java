package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.internal.Cpu;
import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Secrets;
import io.kdefer.internal.SoftirqTable.BhStage;
import io.kdefer.internal.Subsystem;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.timer.KernelTimer;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The workqueue machinery of one kernel (its {@code WORKQUEUES} subsystem): the worker pools,
 * the system workqueues, the BH handlers registered at the {@link BhStage#WORK} stage of HI and
 * TASKLET (ahead of the tasklets, as {@code tasklet_action_common} runs after
 * {@code workqueue_softirq_action} in 6.9+), and the part of {@code close()} that waits for the
 * worker pools to drain and joins their threads.
 *
 * <p>Pools: per CPU a normal and a highpri pool and two BH pools; two unbound pools (normal,
 * highpri) shared by every unbound and ordered queue (the kernel shares unbound pools by identical
 * attributes; kdefer's only attribute is the priority). Pools start without threads: a pool's
 * first worker is created by its first kick.
 */
final class WorkqueueEngine implements Subsystem {
    /** {@code IDLE_WORKER_TIMEOUT}: 300 s. */
    static final int IDLE_WORKER_TIMEOUT_SECONDS = 300;

    final KernelRuntime rt;                     // F
    private final Object kernel;                // F: the io.kdefer.Kernel
    private final WorkerPool[][] cpuPools;      // F: [cpu][normal, highpri]
    private final WorkerPool[][] bhPools;       // F: [cpu][TASKLET, HI]
    private final WorkerPool[] unboundPools;    // F: [normal, highpri]
    private final List<WorkerPool> allPools = new ArrayList<>();   // F after construction
    private final CopyOnWriteArrayList<Workqueue> workqueues = new CopyOnWriteArrayList<>();
    /** F: jiffies an idle worker beyond the kept ones lives ({@code IDLE_WORKER_TIMEOUT}). */
    final long idleWorkerTimeout;
    /** F: jiffies an item may run without sleeping before it is CPU-intensive (10 ms). */
    final long cpuIntensiveThresh;
    final AtomicLong sampledSleeps = new AtomicLong();          // A
    final AtomicLong cpuIntensiveViolations = new AtomicLong(); // A
    final AtomicLong culled = new AtomicLong();                 // A
    final AtomicLong creationFailures = new AtomicLong();       // A
    final AtomicLong lockups = new AtomicLong();                // A
    /** F: the sub-jiffy sampler; null on a clock that does not move by itself (ManualClock). */
    final FastSampler fastSampler;
    /** F: jiffies a pool stays watched by it after a blocked worker was found there (HZ/10). */
    final long fastSampleHold;
    /** A: test hook: worker creation fails (as when the JVM cannot start a thread). */
    volatile boolean workerCreationFails;
    /** F: {@code MAYDAY_INITIAL_TIMEOUT}: HZ/100 if that is at least 2, else 2 jiffies. */
    final long maydayInitialTimeout;
    /** F: {@code MAYDAY_INTERVAL}: HZ/10. */
    final long maydayInterval;
    /** F: {@code wq_watchdog_thresh} in jiffies; 0: off. */
    final long watchdogThresh;
    private final Object watchdogLock = new Object();
    private KernelTimer watchdog;                    // guarded by watchdogLock
    private volatile boolean watchdogArmed;          // A

    final Workqueue systemWq;
    final Workqueue systemHighpriWq;
    final Workqueue systemLongWq;
    final Workqueue systemUnboundWq;
    final Workqueue systemFreezableWq;
    final Workqueue systemPowerEfficientWq;
    final Workqueue systemFreezablePowerEfficientWq;
    final Workqueue systemBhWq;
    final Workqueue systemBhHighpriWq;

    WorkqueueEngine(Object kernel, KernelRuntime rt) {
        this.rt = rt;
        this.kernel = kernel;
        this.idleWorkerTimeout = (long) IDLE_WORKER_TIMEOUT_SECONDS * rt.hz;
        this.cpuIntensiveThresh = Math.max(1, rt.msecsToJiffies(10));
        this.maydayInitialTimeout = rt.hz / 100 >= 2 ? rt.hz / 100 : 2;
        this.maydayInterval = Math.max(1, rt.hz / 10);
        this.watchdogThresh = (long) ((Kernel) kernel).workqueueWatchdogThresh() * rt.hz;
        this.fastSampler = rt.tick != null ? new FastSampler(this) : null;
        this.fastSampleHold = Math.max(1, rt.hz / 10);
        int n = rt.nrCpus;
        int id = 0;
        cpuPools = new WorkerPool[n][2];
        bhPools = new WorkerPool[n][2];
        for (int c = 0; c < n; c++) {
            for (int hi = 0; hi < 2; hi++) {
                cpuPools[c][hi] = add(new WorkerPool(this, id++, c, hi == 1, false));
            }
        }
        unboundPools = new WorkerPool[2];
        for (int hi = 0; hi < 2; hi++) {
            unboundPools[hi] = add(new WorkerPool(this, id++, -1, hi == 1, false));
        }
        for (int c = 0; c < n; c++) {
            for (int hi = 0; hi < 2; hi++) {
                bhPools[c][hi] = add(new WorkerPool(this, id++, c, hi == 1, true));
            }
        }
        rt.softirqs.registerBh(SoftirqVector.TASKLET, BhStage.WORK, () -> bhAction(0));
        rt.softirqs.registerBh(SoftirqVector.HI, BhStage.WORK, () -> bhAction(1));

        systemWq = system("events", 0);
        systemHighpriWq = system("events_highpri", 0, WqFlag.HIGHPRI);
        systemLongWq = system("events_long", 0);
        systemUnboundWq = system("events_unbound", Workqueue.WQ_MAX_ACTIVE, WqFlag.UNBOUND);
        systemFreezableWq = system("events_freezable", 0, WqFlag.FREEZABLE);
        systemPowerEfficientWq = system("events_power_efficient", 0, WqFlag.POWER_EFFICIENT);
        systemFreezablePowerEfficientWq = system("events_freezable_pwr_efficient", 0,
                WqFlag.FREEZABLE, WqFlag.POWER_EFFICIENT);
        systemBhWq = system("events_bh", 0, WqFlag.BH);
        systemBhHighpriWq = system("events_bh_highpri", 0, WqFlag.BH, WqFlag.HIGHPRI);
    }

    private WorkerPool add(WorkerPool p) {
        allPools.add(p);
        return p;
    }

    private Workqueue system(String name, int maxActive, WqFlag... flags) {
        Set<WqFlag> f = flags.length == 0 ? EnumSet.noneOf(WqFlag.class) : EnumSet.of(flags[0], flags);
        Workqueue wq = new Workqueue(this, name, f.contains(WqFlag.BH) ? 0
                : maxActive == 0 ? Workqueue.WQ_DFL_ACTIVE : maxActive, f, false, true);
        workqueues.add(wq);
        return wq;
    }

    Kernel kernel() {
        return (Kernel) kernel;
    }

    WorkerPool cpuPool(int cpu, boolean highpri) {
        return cpuPools[cpu][highpri ? 1 : 0];
    }

    WorkerPool bhPool(int cpu, boolean highpri) {
        return bhPools[cpu][highpri ? 1 : 0];
    }

    WorkerPool unboundPool(boolean highpri) {
        return unboundPools[highpri ? 1 : 0];
    }

    /** The BH handler of TASKLET (0) or HI (1): runs this CPU's BH pool of that vector. */
    private void bhAction(int hi) {
        CpuContext ctx = rt.context();
        bhPools[ctx.cpu][hi].bhRun(ctx);
    }

    // ---------------------------------------------------------------- allocation

    Workqueue alloc(String name, int maxActive, Set<WqFlag> flags, boolean ordered) {
        rt.checkOpen();
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a workqueue needs a name");
        }
        if (flags.contains(WqFlag.BH)) {
            EnumSet<WqFlag> extra = EnumSet.copyOf(flags);
            extra.removeAll(EnumSet.of(WqFlag.BH, WqFlag.HIGHPRI, WqFlag.PERCPU));
            if (maxActive != 0 || !extra.isEmpty() || ordered) {
                String rule = "alloc_workqueue(" + name + "): a BH workqueue takes max_active 0 and no flag but"
                        + " HIGHPRI and PERCPU" + (ordered ? " and cannot be ordered" : "")
                        + " (got max_active " + maxActive + ", flags " + flags + ")";
                if (!rt.faithful) {
                    throw new IllegalArgumentException(rule);
                }
                rt.reportError(name, new IllegalArgumentException(rule + "; the kernel returns NULL"));
                return null;
            }
            Workqueue wq = new Workqueue(this, name, 0, flags, false, false);
            workqueues.add(wq);
            return wq;
        }
        int m = ordered ? 1 : clampMaxActive(name, maxActive, true);
        Workqueue wq = new Workqueue(this, name, m, flags, ordered, false);
        workqueues.add(wq);
        return wq;
    }

    /** {@code wq_clamp_max_active}: 0 means the default; out of range is refused (faithful: clamped). */
    int clampMaxActive(String name, int maxActive, boolean zeroIsDefault) {
        if (maxActive == 0 && zeroIsDefault) {
            return Workqueue.WQ_DFL_ACTIVE;
        }
        if (maxActive >= 1 && maxActive <= Workqueue.WQ_MAX_ACTIVE) {
            return maxActive;
        }
        int clamped = Math.max(1, Math.min(maxActive, Workqueue.WQ_MAX_ACTIVE));
        String rule = "workqueue " + name + ": max_active " + maxActive + " is out of range [1, "
                + Workqueue.WQ_MAX_ACTIVE + "]";
        if (!rt.faithful) {
            throw new IllegalArgumentException(rule);
        }
        rt.reportError(name, new IllegalArgumentException(rule + ", clamped to " + clamped));
        return clamped;
    }

    void removed(Workqueue wq) {
        workqueues.remove(wq);
    }

    // ---------------------------------------------------------------- context

    /** The worker the calling thread is, or runs as (BH), or null. */
    Worker currentWorker(CpuContext ctx) {
        Thread t = Thread.currentThread();
        if (t instanceof Worker) {
            Worker w = (Worker) t;
            return w.pool.engine == this ? w : null;
        }
        if (ctx.inServingSoftirq() && ctx.running instanceof Work) {
            for (WorkerPool p : bhPools[ctx.cpu]) {
                if (p.bhWorker.current == ctx.running) {
                    return p.bhWorker;
                }
            }
        }
        return null;
    }

    /** {@code current_work()}: the item the caller executes as a worker, or null. */
    Work currentWork(CpuContext ctx) {
        Worker w = currentWorker(ctx);
        return w != null ? w.current : null;
    }

    /** {@code delayed_work_timer_fn}: queues the item where its queueing asked. */
    void delayedTimerFn(DelayedWork dw) {
        dw.wq.queueAdmitted(dw.targetCpu, dw, rt.context());
    }

    // ---------------------------------------------------------------- lockup watchdog

    /**
     * A pool's worklist went from empty to non-empty: make sure the watchdog runs
     * ({@code wq_watchdog_timer_fn}, a timer every {@code watchdog_thresh}). It is armed only while
     * some pool has work, so an idle kernel has no timer for it.
     */
    void watchdogNeeded() {
        if (watchdogThresh == 0 || watchdogArmed) {
            return;
        }
        synchronized (watchdogLock) {
            if (watchdogArmed || rt.isClosing()) {
                return;
            }
            if (watchdog == null) {
                // not deferrable, unlike the kernel's: a virtual CPU whose kworker is busy looks idle
                // to its tick (it did no hardirq or softirq work), and would never run it
                watchdog = Secrets.ownTimer(kernel, self -> watchdogCheck(), false);
            }
            watchdogArmed = true;
            watchdog.mod(rt.clock.jiffies() + watchdogThresh);
        }
    }

    /**
     * {@code wq_watchdog_timer_fn}: every pool whose worklist is non-empty and made no forward
     * progress for {@code watchdog_thresh} is reported ("BUG: workqueue lockup"), with the function
     * and stack of each worker busy in it. Re-arms while any pool has work.
     */
    private void watchdogCheck() {
        long now = rt.clock.jiffies();
        boolean any = false;
        for (WorkerPool p : allPools) {
            String report = null;
            StackTraceElement[] stack = null;
            p.lockPool();
            try {
                if (p.worklist.isEmpty()) {
                    continue;
                }
                any = true;
                long stuck = now - p.watchdogTs;
                if (stuck > watchdogThresh) {
                    StringBuilder sb = new StringBuilder("BUG: workqueue lockup - pool ").append(p)
                            .append(" stuck for ").append(stuck / rt.hz).append("s! ")
                            .append(p.worklist.size).append(" item(s) waiting");
                    for (Worker w : p.busy.values()) {
                        sb.append("; ").append(w.getName()).append(" runs ").append(w.current);
                        if (stack == null) {
                            stack = w.getStackTrace();
                        }
                    }
                    report = sb.toString();
                    p.watchdogTs = now;   // report again only after another threshold
                }
            } finally {
                p.lock.unlock();
            }
            if (report != null) {
                lockups.incrementAndGet();
                IllegalStateException e = new IllegalStateException(report);
                if (stack != null) {
                    e.setStackTrace(stack);   // where the busy worker is stuck
                }
                rt.reportError(p, e);
            }
        }
        synchronized (watchdogLock) {
            if (any && !rt.isClosing()) {
                watchdog.mod(rt.clock.jiffies() + watchdogThresh);
            } else {
                watchdogArmed = false;
            }
        }
    }

    /** A worker went idle: close() may be waiting for the pools to drain. */
    void poolWentIdle() {
        rt.waitQueue().wakeAll(this);
    }

    // ---------------------------------------------------------------- Subsystem

    @Override
    public String name() {
        return "workqueues";
    }

    @Override
    public long activity() {
        long sum = 0;
        for (WorkerPool p : allPools) {
            sum += p.processed;
        }
        return sum;
    }

    @Override
    public boolean quiet(Cpu cpu) {
        for (WorkerPool p : bhPools[cpu.id]) {
            if (!p.quiet()) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void closing() {
        if (fastSampler != null && fastSampler.stop()) {
            Thread.currentThread().interrupt();
        }
        for (WorkerPool p : allPools) {
            p.closing();
        }
        synchronized (watchdogLock) {
            if (watchdog != null) {
                watchdog.delete();
            }
        }
    }

    @Override
    public void awaitIdle() {
        rt.waitQueue().await(this, this::threadPoolsQuiet);
    }

    private boolean threadPoolsQuiet() {
        for (WorkerPool p : allPools) {
            if (!p.bh && !p.quiet()) {
                p.retryIfStalled();
                return false;
            }
        }
        return true;
    }

    @Override
    public void stopThreads() {
        boolean interrupted = false;
        for (WorkerPool p : allPools) {
            if (!p.bh) {
                interrupted |= p.stopWorkers();
            }
        }
        for (Workqueue wq : workqueues) {
            if (wq.rescuer != null) {
                wq.rescuer.stopRescuer();
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void checkInvariants(boolean quiescent, List<String> out) {
        for (WorkerPool p : allPools) {
            p.checkInvariants(out);
        }
        for (Workqueue wq : workqueues) {
            wq.checkInvariants(out);
        }
    }

    List<WorkerPool> pools() {
        return allPools;
    }
}

package io.kdefer.workqueue;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KThread;
import io.kdefer.internal.Parker;
import io.kdefer.internal.SleepHooks;

import java.util.function.Consumer;

/**
 * A kernel worker ({@code struct worker}, {@code worker_thread()}): a thread of one
 * {@link WorkerPool}, or, for a BH pool, the pseudo worker that stands for the CPU's softirq
 * context (never started).
 *
 * <p>Main loop (spec §5.4), everything under the pool lock except the function calls and the park:
 * <pre>
 *   woke up:   if die: leave
 *              leave idle
 *   recheck:   if !needMoreWorker: go to sleep
 *              if !mayStartWorking: create a spare worker (the manager), recheck
 *              clear PREP                       (counted in nr_running from here)
 *              do { assign the first item; run this worker's scheduled list } while keepWorking
 *              set PREP
 *   sleep:     enter idle; unlock; park until woken
 * </pre>
 * A waker sets {@link #woken} and then wakes the parker; the worker clears it before it takes the
 * lock and re-checks, so a wake-up after the clear is never lost (both sides volatile).
 *
 * <p>Field access codes: {@code F} final; {@code L} guarded by the pool lock; {@code A} volatile.
 */
final class Worker extends KThread implements Parker.Condition, SleepHooks {
    final WorkerPool pool;          // F
    final int workerId;             // F: -1 for a BH pseudo worker
    final WorkList scheduled;       // L: items assigned to this worker, run head first
    int flags = WorkerPool.WORKER_PREP;   // L
    /** L: asleep in a kdefer blocking call, or found blocked by the sampler (not counted). */
    boolean sleeping;
    /** L: {@link #sleeping} was set by the sampler rather than by the hooks. */
    boolean sampledAsleep;
    Work current;                   // L: current_work
    Consumer<Work> currentFunc;     // L: current_func
    Consumer<Work> lastFunc;        // L: last_func
    Pwq currentPwq;                 // L: current_pwq
    int currentColor;               // L: current_color
    long startedAt;                 // L: jiffies when the item started or the worker last woke
    long lastActive;                // L: jiffies when it last became idle
    volatile boolean die;           // A: set under the lock; the worker leaves when it sees it
    private volatile boolean woken; // A: see the class comment

    Worker(WorkerPool pool, int workerId) {
        super(pool.rt, Math.max(pool.cpu, 0), pool.workerName(workerId));
        this.pool = pool;
        this.workerId = workerId;
        this.scheduled = new WorkList(getName() + " scheduled");
        setSleepHooks(this);
    }

    /** Wakes the worker if it idles ({@code wake_up_process}). */
    void wake() {
        woken = true;
        parker.wake();
    }

    @Override
    public boolean hasWork() {
        return woken || die;
    }

    /** This worker's context (its thread only). */
    CpuContext ctx() {
        return context();
    }

    @Override
    public void sleeping(Thread thread) {
        pool.workerSleeping(this);
    }

    @Override
    public void running(Thread thread) {
        pool.workerRunning(this);
    }

    @Override
    public void run() {
        final WorkerPool p = pool;
        final CpuContext ctx = context();
        try {
            for (;;) {
                woken = false;
                p.lockPool();
                try {
                    if (die) {
                        p.leaveIdle(this);
                        return;
                    }
                    p.leaveIdle(this);
                    work(p, ctx);
                    p.enterIdle(this);
                } finally {
                    p.lock.unlock();
                }
                p.engine.poolWentIdle();
                parker.idle(this, 0);
            }
        } finally {
            p.lockPool();
            try {
                p.workerExited(this);
            } finally {
                p.lock.unlock();
            }
        }
    }

    /** The recheck loop of {@code worker_thread}, under the pool lock. */
    private void work(WorkerPool p, CpuContext ctx) {
        for (;;) {
            if (!p.needMoreWorker()) {
                return;
            }
            if (!p.mayStartWorking()) {
                // manage_workers(): keep a spare to hand over to; if none can be made, work
                // without one (the mayday timer is armed; see docs/deviations.md)
                if (p.createWorker() != null) {
                    continue;
                }
            }
            break;
        }
        p.clearFlags(this, WorkerPool.WORKER_PREP);
        do {
            Work work = p.worklist.first();
            if (p.assignWork(work, this)) {
                p.processScheduled(this, ctx);
            }
        } while (p.keepWorking() && !die);
        p.setFlags(this, WorkerPool.WORKER_PREP);
    }
}

package io.kdefer.workqueue;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KThread;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Parker;

import java.util.ArrayDeque;

/**
 * The rescuer of a {@link WqFlag#MEM_RECLAIM} workqueue ({@code rescuer_thread()},
 * {@code kworker/R-<name>}, spec §4.10): a thread made when the queue is allocated, that runs the
 * queue's items on a pool that cannot create a worker. A pool's mayday timer sends it the pwqs that
 * have items waiting; it takes all of that pwq's items from the pool's worklist, runs them as a
 * worker of that pool (never counted in {@code nr_running}), and asks again if the pool is still
 * stuck. It rescues only its own queue's items.
 *
 * <p>Field access codes: {@code F} final; {@code M} guarded by this object's monitor; {@code A}
 * volatile.
 */
final class Rescuer extends KThread implements Parker.Condition {
    private final Workqueue wq;                           // F
    private final Worker worker;                          // F: its worker identity (PREP forever)
    private final ArrayDeque<Pwq> maydays = new ArrayDeque<>();   // M
    private volatile boolean pending;                     // A: maydays is non-empty
    private volatile boolean stop;                        // A
    /** A: items rescued, for tests and diagnostics. */
    volatile long rescued;

    Rescuer(Workqueue wq, WorkerPool home) {
        super(wq.rt, 0, "kworker/R-" + wq.name());
        this.wq = wq;
        this.worker = new Worker(home, -1);
    }

    /** {@code send_mayday()}: under the pool's lock. */
    void mayday(Pwq pwq) {
        synchronized (this) {
            if (maydays.contains(pwq)) {
                return;
            }
            maydays.addLast(pwq);
            pending = true;
        }
        parker.wake();
    }

    void stopRescuer() {
        stop = true;
        parker.wake();
        KernelRuntime.join(this);
    }

    @Override
    public boolean hasWork() {
        return pending || stop;
    }

    private synchronized Pwq next() {
        Pwq p = maydays.pollFirst();
        pending = !maydays.isEmpty();
        return p;
    }

    @Override
    public void run() {
        final CpuContext ctx = context();
        for (;;) {
            Pwq pwq = next();
            if (pwq == null) {
                if (stop) {
                    return;
                }
                parker.idle(this, 0);
                continue;
            }
            WorkerPool pool = pwq.pool;
            ctx.cpu = Math.max(pool.cpu, 0);   // attach to the pool's CPU
            pool.lockPool();
            try {
                long before = pool.processed;
                pool.rescue(worker, pwq, ctx);
                rescued += pool.processed - before;
                pool.kick(ctx);
            } finally {
                pool.lock.unlock();
            }
        }
    }

    @Override
    public String toString() {
        return getName() + " for " + wq;
    }
}

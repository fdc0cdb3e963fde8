package io.kdefer.workqueue;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.TaskSleep;
import io.kdefer.timer.KernelTimer;

/**
 * {@code flush_work()} and {@code flush_delayed_work()} ({@code kernel/workqueue.c}, spec §4.6):
 * a barrier item is placed right behind the instance to wait for, and the caller sleeps until a
 * worker runs the barrier.
 *
 * <p>If the item is queued (on the worklist, the inactive list, or a worker's scheduled list) the
 * barrier goes right after it and the item is marked LINKED, so the barrier moves with it wherever
 * it goes; if it is executing, the barrier goes to the head of that worker's scheduled list, so it
 * runs right after the current execution. The barrier carries the target's flush color (a queue
 * flush waits for it too) and is INACTIVE: it never takes an active slot. A re-queue after the
 * barrier was placed lands behind it, so it is not waited for (§10.3 item 63).
 */
final class Flush {
    private Flush() {
    }

    /** {@code struct wq_barrier}: its function completes the flusher. */
    static final class Barrier extends Work {
        private volatile boolean done;   // A: set once the barrier ran

        void complete(KernelRuntime rt) {
            done = true;
            rt.waitQueue().wakeAll(this);
        }

        boolean isDone() {
            return done;
        }
    }

    static boolean flushWork(Work work) {
        WorkerPool pool = work.lastPool;
        if (pool == null) {
            return false;   // never queued
        }
        KernelRuntime rt = pool.rt;
        CpuContext ctx = rt.context();
        checkSleepable(rt, ctx, "flush_work()", work);
        if (ctx.running == work) {
            selfDeadlock(rt, work, "flush_work() from the item's own function waits for itself");
        }
        Barrier b = insertBarrier(work, pool);
        if (b == null) {
            return false;
        }
        rt.waitQueue().await(b, b::isDone);
        return true;
    }

    static boolean flushDelayed(DelayedWork dw) {
        KernelTimer t = dw.timer;
        if (t != null) {
            KernelRuntime rt = dw.engine.rt;
            CpuContext ctx = rt.context();
            checkSleepable(rt, ctx, "flush_delayed_work()", dw);
            boolean section = rt.enter(ctx);   // it queues: the entry protocol (close() serves or refuses it)
            try {
                if (t.delete()) {
                    // the timer was armed: we own PENDING; queue it now where the timer would have
                    dw.wq.queueAdmitted(dw.targetCpu, dw, ctx);
                }
            } finally {
                if (section) {
                    rt.exit(ctx);
                }
            }
        }
        return flushWork(dw);
    }

    /** Waits for a running instance only ({@code __flush_work} after a cancel); BH: spins. */
    static void flushRunning(Work work) {
        WorkerPool pool = work.lastPool;
        if (pool == null) {
            return;
        }
        if (pool.bh) {
            // cancel_work_sync on a BH item may come from BH context: busy-wait, as the kernel does
            for (int spins = 0; pool.isExecuting(work); spins++) {
                if (spins < 100) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
            return;
        }
        Barrier b = insertBarrier(work, pool);
        if (b != null) {
            pool.rt.waitQueue().await(b, b::isDone);
        }
    }

    /**
     * {@code start_flush_work()} + {@code insert_wq_barrier()}: null when the item is neither
     * queued nor executing on its last pool.
     */
    private static Barrier insertBarrier(Work work, WorkerPool pool) {
        Barrier b = new Barrier();
        pool.lockPool();
        try {
            Pwq pwq = work.pwq;
            if (pwq != null && pwq.pool == pool) {
                b.setColor(work.color());
                b.setLinked(work.linked());
                work.setLinked(true);
                work.list.insertBefore(b, work.next);
            } else {
                Worker w = pool.findExecuting(work);
                if (w == null) {
                    return null;
                }
                pwq = w.currentPwq;
                b.setColor(w.currentColor);
                w.scheduled.insertBefore(b, w.scheduled.first());
            }
            b.pwq = pwq;
            b.setInactive(true);
            b.lastPool = pool;
            b.testAndSetPending();
            pwq.nrInFlight[b.color()]++;
            return b;
        } finally {
            pool.lock.unlock();
        }
    }

    /** Flushing sleeps: refused in atomic context (BH context included), as {@code might_sleep}. */
    static void checkSleepable(KernelRuntime rt, CpuContext ctx, String what, Object on) {
        rt.checkOpen();
        TaskSleep.mightSleep(rt, what, on);
    }

    /** A wait for oneself: thrown, or in faithful mode left to hang as the kernel does. */
    static void selfDeadlock(KernelRuntime rt, Object on, String rule) {
        if (!rt.faithful) {
            throw new IllegalStateException(rule + ": " + on + " (the kernel deadlocks here)");
        }
        rt.reportError(on, new IllegalStateException(rule + " (faithful mode: hangs)"));
    }
}

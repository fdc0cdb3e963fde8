package io.kdefer.workqueue;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.timer.KernelTimer;

/**
 * Cancel, disable and enable ({@code kernel/workqueue.c}, 6.10+, spec §4.7), built on grabbing
 * PENDING ({@code try_to_grab_pending}):
 * <ol>
 *   <li>a delayed item whose timer is deleted before it fired: we own PENDING (was pending);</li>
 *   <li>PENDING clear and set by our CAS: we own it (was idle);</li>
 *   <li>the item is on a list of its last pool: under that pool's lock, take it off (activating it
 *       first if it was inactive, so that barriers linked to it reach the worklist and run), retire
 *       its in-flight count; we own PENDING (was pending);</li>
 *   <li>otherwise someone is between setting PENDING and linking the item (a queue in progress,
 *       a delay timer firing): retry. The window is a few instructions under a lock; a retry spins
 *       and then yields.</li>
 * </ol>
 * The disable count lives in the state word next to PENDING and changes only by CAS, so a disable
 * on one thread and an enable on another never lose a step.
 */
final class Cancel {
    static final int GRABBED_PENDING = 1;
    static final int GRABBED_IDLE = 0;
    private static final int AGAIN = -1;

    private Cancel() {
    }

    /** {@code work_grab_pending()}: loops until PENDING is ours; returns whether it was pending. */
    static int grab(Work w, boolean delayed) {
        for (int spins = 0; ; spins++) {
            int r = tryGrab(w, delayed);
            if (r != AGAIN) {
                return r;
            }
            if (spins < 100) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }

    private static int tryGrab(Work w, boolean delayed) {
        if (delayed) {
            KernelTimer t = ((DelayedWork) w).timer;
            if (t != null && t.delete()) {
                return GRABBED_PENDING;
            }
        }
        int s = w.stateVolatile();
        if ((s & Work.PENDING) == 0 && w.casPending(s)) {
            return GRABBED_IDLE;
        }
        WorkerPool pool = w.lastPool;
        if (pool == null) {
            return AGAIN;
        }
        pool.lockPool();
        try {
            Pwq pwq = w.pwq;
            if (pwq == null || pwq.pool != pool) {
                return AGAIN;
            }
            if (w.inactive()) {
                pwq.activate(w);
            }
            int color = w.color();
            w.list.remove(w);
            w.pwq = null;
            w.setLinked(false);
            pwq.decInFlight(color, true);
            return GRABBED_PENDING;
        } finally {
            pool.lock.unlock();
        }
    }

    /**
     * Clears PENDING (which the caller owns) and adds {@code delta} to the disable count. At the
     * highest count a further disable is refused (the kernel WARNs and keeps 65535; faithful mode
     * does that), after PENDING is released.
     */
    private static int release(Work w, int delta, KernelRuntime rt) {
        for (;;) {
            int s = w.stateVolatile();
            int count = Work.disableCount(s) + delta;
            boolean overflow = count > Work.DISABLE_MAX;
            if (overflow) {
                count = Work.DISABLE_MAX;
            }
            int n = (s & ~Work.PENDING & (Work.DISABLE_UNIT - 1)) | (count << Work.DISABLE_SHIFT);
            if (w.casState(s, n)) {
                if (overflow) {
                    String rule = "disable_work() on " + w + ": the disable count is already at its maximum "
                            + Work.DISABLE_MAX + " (the kernel WARNs and keeps it there)";
                    if (rt == null || !rt.faithful) {
                        throw new IllegalStateException(rule);
                    }
                    rt.reportError(w, new IllegalStateException(rule));
                }
                return count;
            }
        }
    }

    static boolean cancel(Work w, boolean delayed) {
        int r = grab(w, delayed);
        release(w, 0, runtime(w));
        return r == GRABBED_PENDING;
    }

    static boolean disable(Work w, boolean delayed) {
        int r = grab(w, delayed);
        release(w, 1, runtime(w));
        return r == GRABBED_PENDING;
    }

    static boolean cancelSync(Work w, boolean delayed) {
        checkSync(w, "cancel_work_sync()");
        int r = grab(w, delayed);
        release(w, 1, runtime(w));
        try {
            Flush.flushRunning(w);
        } finally {
            enableOnce(w);
        }
        return r == GRABBED_PENDING;
    }

    static boolean disableSync(Work w) {
        checkSync(w, "disable_work_sync()");
        boolean r = disable(w, w instanceof DelayedWork);
        Flush.flushRunning(w);
        return r;
    }

    static boolean enable(Work w) {
        for (;;) {
            int s = w.stateVolatile();
            int count = Work.disableCount(s);
            if (count == 0) {
                KernelRuntime rt = runtime(w);
                String rule = "enable_work() on " + w + ", which is not disabled (the kernel WARNs; the count stays 0)";
                if (rt == null || !rt.faithful) {
                    throw new IllegalStateException(rule);
                }
                rt.reportError(w, new IllegalStateException(rule));
                return true;
            }
            if (w.casState(s, s - Work.DISABLE_UNIT)) {
                return count == 1;
            }
        }
    }

    /** The enable that ends a cancel_work_sync (its own disable, never unbalanced). */
    private static void enableOnce(Work w) {
        for (;;) {
            int s = w.stateVolatile();
            if (w.casState(s, s - Work.DISABLE_UNIT)) {
                return;
            }
        }
    }

    /**
     * The sync variants sleep (unless the item was last queued on a BH workqueue: they spin then)
     * and must not wait for the caller's own execution.
     */
    private static void checkSync(Work w, String what) {
        WorkerPool pool = w.lastPool;
        if (pool == null) {
            return;
        }
        KernelRuntime rt = pool.rt;
        CpuContext ctx = rt.context();
        if (pool.bh) {
            if (ctx.inHardirq()) {
                throw new IllegalStateException(what + " on " + w + " from hardirq context (the kernel WARNs)");
            }
        } else {
            Flush.checkSleepable(rt, ctx, what, w);
        }
        if (ctx.running == w) {
            Flush.selfDeadlock(rt, w, what + " from the item's own function waits for itself");
        }
    }

    private static KernelRuntime runtime(Work w) {
        WorkerPool p = w.lastPool;
        if (p != null) {
            return p.rt;
        }
        if (w instanceof DelayedWork) {
            WorkqueueEngine e = ((DelayedWork) w).engine;
            return e != null ? e.rt : null;
        }
        return null;
    }

}

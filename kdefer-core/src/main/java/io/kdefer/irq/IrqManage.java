package io.kdefer.irq;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.WaitQueue;

import java.util.Arrays;

/**
 * Requesting and freeing interrupt lines ({@code request_threaded_irq}, {@code free_irq} in
 * {@code kernel/irq/manage.c}), with forced threading ({@code irq_setup_forced_threading}): the
 * sharing rules, the ONESHOT thread bits, the actions' threads.
 */
final class IrqManage {
    private final IrqEngine engine;      // F
    private final KernelRuntime rt;      // F
    private final WaitQueue waitQueue;   // F

    IrqManage(IrqEngine engine) {
        this.engine = engine;
        this.rt = engine.rt;
        this.waitQueue = engine.rt.waitQueue();
    }



    void request(int irq, IrqHandler handler, IrqHandler threadFn, String name, Object devId, int flags) {
        final IrqDesc d = engine.desc(irq);
        if (name == null) {
            throw new IllegalArgumentException("request_threaded_irq(" + irq + "): name is null");
        }
        engine.mightSleep("request_threaded_irq(" + irq + ", '" + name + "')");
        if (handler == null && threadFn == null) {
            throw new IllegalArgumentException("request_threaded_irq(" + irq + ", '" + name
                    + "'): -EINVAL, both handler and thread_fn are null");
        }
        if ((flags & IrqFlag.SHARED.value()) != 0 && devId == null) {
            throw new IllegalArgumentException("request_threaded_irq(" + irq + ", '" + name
                    + "'): -EINVAL, IRQF_SHARED requires a non-null devId (free_irq finds the action by it)");
        }
        if ((flags & IrqFlag.SHARED.value()) != 0 && (flags & IrqFlag.NO_AUTOEN.value()) != 0) {
            throw new IllegalArgumentException("request_threaded_irq(" + irq + ", '" + name
                    + "'): -EINVAL, IRQF_NO_AUTOEN cannot be combined with IRQF_SHARED");
        }
        IrqHandler primary = handler == null ? IrqEngine.DEFAULT_PRIMARY : handler;
        IrqHandler fn = threadFn;
        boolean forced = false;
        IrqAction secondary = null;
        // irq_setup_forced_threading
        if (rt.threadIrqs && primary != IrqEngine.DEFAULT_PRIMARY
                && (flags & (IrqFlag.NO_THREAD.value() | IrqFlag.ONESHOT.value())) == 0) {
            flags |= IrqFlag.ONESHOT.value();
            if (fn != null) {
                secondary = new IrqAction(d, (i, dev) -> {
                    throw new IllegalStateException("Secondary action handler called for irq " + i);
                }, fn, name, devId, flags, false, true, null);
            }
            fn = primary;
            primary = IrqEngine.DEFAULT_PRIMARY;
            forced = true;
        }
        IrqAction a = new IrqAction(d, primary, fn, name, devId, flags, forced, false, secondary);
        synchronized (d) {
            rt.checkAccepting(rt.context());
            IrqAction[] old = d.actions;
            long threadMask = 0;
            if (old.length != 0) {
                IrqAction first = old[0];
                int f = a.flags;
                if (first.has(IrqFlag.ONESHOT) && (f & IrqFlag.COND_ONESHOT.value()) != 0) {
                    f |= IrqFlag.ONESHOT.value();
                }
                if ((first.flags & f & IrqFlag.SHARED.value()) == 0
                        || (first.flags & IrqFlag.TRIGGER_MASK) != (f & IrqFlag.TRIGGER_MASK)
                        || ((first.flags ^ f) & IrqFlag.ONESHOT.value()) != 0) {
                    throw new IllegalStateException(String.format(
                            "request_threaded_irq(%d, '%s'): -EBUSY, flags mismatch irq %d. %08x (%s) vs. %08x (%s)",
                            irq, name, irq, f, name, first.flags, first.name));
                }
                if (f != a.flags) {
                    a = new IrqAction(d, primary, fn, name, devId, f, forced, false, secondary);
                }
                for (IrqAction o : old) {
                    threadMask |= o.threadMask;
                }
            }
            if (a.has(IrqFlag.ONESHOT)) {
                if (threadMask == ~0L) {
                    throw new IllegalStateException("request_threaded_irq(" + irq + ", '" + name
                            + "'): -EBUSY, all " + Long.SIZE + " ONESHOT thread bits of the line are in use");
                }
                a.threadMask = Long.lowestOneBit(~threadMask);
            } else if (a.handler == IrqEngine.DEFAULT_PRIMARY) {
                throw new IllegalArgumentException("Threaded irq requested with handler=NULL and !ONESHOT for "
                        + name + " (irq " + irq + "): -EINVAL");
            }
            if (a.threadFn != null) {
                a.thread = new IrqThread(engine, a, "irq/" + irq + "-" + name);
            }
            if (secondary != null) {
                secondary.thread = new IrqThread(engine, secondary, "irq/" + irq + "-s-" + name);
            }
            if (old.length == 0) {
                d.oneshot = a.has(IrqFlag.ONESHOT);
                d.noDebug = a.has(IrqFlag.NO_DEBUG);
                d.spuriousDisabled = false;
                d.masked = false;
                d.pendingReplay = false;
                d.threadsOneshot = 0;
                d.depth = a.has(IrqFlag.NO_AUTOEN) ? 1 : 0;
            } else if (d.spuriousDisabled) {
                d.spuriousDisabled = false;   // a new sharer re-enables a line disabled as spurious
                if (--d.depth == 0) {
                    d.masked = false;
                }
            }
            d.irqCount = 0;
            d.irqsUnhandled = 0;
            if (a.thread != null) {
                a.thread.start();
            }
            if (secondary != null) {
                secondary.thread.start();
            }
            IrqAction[] next = Arrays.copyOf(old, old.length + 1);
            next[old.length] = a;
            d.actions = next;
        }
    }

    String free(int irq, Object devId) {
        final IrqDesc d = engine.desc(irq);
        CpuContext ctx = rt.context();
        rt.checkOpen();
        if (ctx.inInterrupt()) {
            throw new IllegalStateException("Trying to free IRQ " + irq + " from IRQ context! (free_irq sleeps;"
                    + " preempt_count " + ctx.countHex() + ")");
        }
        IrqAction a = null;
        synchronized (d) {
            IrqAction[] old = d.actions;
            int at = -1;
            for (int i = 0; i < old.length; i++) {
                if (old[i].devId == devId) {
                    at = i;
                    break;
                }
            }
            if (at < 0) {
                throw new IllegalStateException("Trying to free already-free IRQ " + irq
                        + " (no action with devId " + devId + ")");
            }
            a = old[at];
            if (Thread.currentThread() == a.thread
                    || (a.secondary != null && Thread.currentThread() == a.secondary.thread)) {
                throw new IllegalStateException("free_irq(" + irq + ") called from the action's own thread "
                        + Thread.currentThread().getName() + ": it would wait for itself to exit");
            }
            IrqAction[] next = new IrqAction[old.length - 1];
            System.arraycopy(old, 0, next, 0, at);
            System.arraycopy(old, at + 1, next, at, old.length - at - 1);
            d.actions = next.length == 0 ? IrqDesc.NO_ACTIONS : next;
            if (next.length == 0) {
                d.depth = 1;                  // irq_shutdown
                d.masked = false;
                d.oneshot = false;
                d.pendingReplay = false;
                d.spuriousDisabled = false;
            }
        }
        waitQueue.await(d, () -> !d.inProgress);   // __synchronize_hardirq
        stop(a.thread);
        if (a.secondary != null) {
            stop(a.secondary.thread);
        }
        return a.name;
    }

    /** Stops and joins an action's thread (uninterruptibly); null is ignored. */
    static void stop(IrqThread t) {
        if (t == null) {
            return;
        }
        t.requestStop();
        if (KernelRuntime.join(t)) {
            Thread.currentThread().interrupt();
        }
    }
}

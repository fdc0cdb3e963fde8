package io.kdefer.irq;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;

/**
 * Line control ({@code kernel/irq/manage.c}): disable and enable with their nesting depth and the
 * replay of a held interrupt, synchronize, affinity, {@code irq_wake_thread}.
 */
final class IrqControl {
    private final IrqEngine engine;      // F
    private final KernelRuntime rt;      // F

    IrqControl(IrqEngine engine) {
        this.engine = engine;
        this.rt = engine.rt;
    }



    void disableNosync(int irq) {
        IrqDesc d = engine.desc(irq);
        rt.checkOpen();
        synchronized (d) {
            d.depth++;
        }
    }

    void disable(int irq) {
        IrqDesc d = engine.desc(irq);
        engine.mightSleep("disable_irq(" + irq + ")");
        checkNotOwnThread(d, "disable_irq");
        disableNosync(irq);
        engine.awaitSynchronized(d);
    }

    void enable(int irq) {
        IrqDesc d = engine.desc(irq);
        CpuContext ctx = rt.context();
        // an enable may replay a held interrupt (a raise): the entry protocol covers it
        boolean section = rt.enter(ctx);
        try {
            enableAdmitted(d, irq);
        } finally {
            if (section) {
                rt.exit(ctx);
            }
        }
    }

    private void enableAdmitted(IrqDesc d, int irq) {
        boolean replay;
        synchronized (d) {
            if (d.actions.length == 0) {
                throw new IllegalStateException("enable_irq(" + irq + ") before request_irq: the line has no handler");
            }
            if (d.depth == 0) {
                IllegalStateException e = new IllegalStateException("Unbalanced enable for IRQ " + irq
                        + ": the line is enabled (enable_irq without a matching disable_irq)");
                if (!rt.faithful) {
                    throw e;
                }
                rt.reportError("irq " + irq, e);   // the kernel WARNs and changes nothing
                return;
            }
            if (--d.depth != 0) {
                return;
            }
            d.masked = false;
            d.spuriousDisabled = false;
            replay = d.takeReplayLocked();
        }
        if (replay) {
            rt.cpu(d.cpu).assertIrq(irq);   // check_irq_resend
        }
    }

    void synchronize(int irq) {
        IrqDesc d = engine.desc(irq);
        engine.mightSleep("synchronize_irq(" + irq + ")");
        checkNotOwnThread(d, "synchronize_irq");
        engine.awaitSynchronized(d);
    }

    /** {@code synchronize_hardirq}: true when no thread run is active either. */
    boolean synchronizeHardirq(int irq) {
        IrqDesc d = engine.desc(irq);
        CpuContext ctx = rt.context();
        if (ctx.inHardirq() && rt.cpu(d.cpu).isCpuThread(Thread.currentThread()) && d.inProgress) {
            throw new IllegalStateException("synchronize_hardirq(" + irq
                    + ") from the line's own hard handler would spin forever");
        }
        while (d.inProgress) {
            Thread.onSpinWait();
        }
        return d.threadsActive.get() == 0;
    }

    private void checkNotOwnThread(IrqDesc d, String what) {
        if (rt.faithful) {
            return;   // the kernel waits for itself forever
        }
        Thread me = Thread.currentThread();
        if (me instanceof IrqThread && ((IrqThread) me).action.desc == d) {
            throw new IllegalStateException(what + "(" + d.irq + ") called from the line's own thread "
                    + me.getName() + ": it would wait for its own run to end (the kernel deadlocks)");
        }
    }

    void setAffinity(int irq, int cpu) {
        IrqDesc d = engine.desc(irq);
        rt.checkCpu(cpu);
        rt.checkOpen();
        synchronized (d) {
            d.cpu = cpu;
            engine.setAffinityLocked(irq, cpu);
        }
    }

    void wakeThreadOf(int irq, Object devId) {
        IrqDesc d = engine.desc(irq);
        CpuContext ctx = rt.context();
        boolean section = rt.enter(ctx);   // queues a thread run: the entry protocol covers it
        try {
            wakeThreadOfAdmitted(d, irq, devId);
        } finally {
            if (section) {
                rt.exit(ctx);
            }
        }
    }

    private void wakeThreadOfAdmitted(IrqDesc d, int irq, Object devId) {
        IrqAction target = null;
        synchronized (d) {
            for (IrqAction a : d.actions) {
                if (a.devId == devId) {
                    target = a;
                    break;
                }
            }
            if (target == null || target.thread == null) {
                throw new IllegalStateException("irq_wake_thread(" + irq + "): no threaded action with devId " + devId);
            }
        }
        engine.flow.wakeThread(target);
    }
}

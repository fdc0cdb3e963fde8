package io.kdefer.irq;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KThread;
import io.kdefer.internal.Parker;


/**
 * {@code irq/N-name} (or {@code irq/N-s-name} for a forced-threading secondary): the thread of
 * one action ({@code irq_thread()}).
 *
 * <p>It sleeps until it can take {@code IRQTF_RUNTHREAD}, runs the thread function once on the
 * line's current CPU (re-read at every run, as {@code IRQTF_AFFINITY} makes the kernel's thread
 * follow the interrupt), then finalizes ONESHOT, wakes the secondary when a forced primary asked
 * for it, and ends the run ({@code threads_active--}, waking {@code synchronize_irq} waiters at 0).
 * When asked to stop it still consumes a pending run first, as {@code free_irq} lets the kernel's
 * thread do.
 */
final class IrqThread extends KThread implements Parker.Condition {
    final IrqAction action;         // F
    private final IrqEngine engine; // F
    private volatile long runs;     // A: written by this thread only

    IrqThread(IrqEngine engine, IrqAction action, String name) {
        super(engine.rt, action.desc.cpu, name);
        this.engine = engine;
        this.action = action;
    }

    @Override
    public boolean hasWork() {
        return action.runThreadVolatile() || stopRequested();
    }

    long runs() {
        return runs;
    }


    @Override
    public void run() {
        final IrqAction a = action;
        final CpuContext ctx = context();
        for (;;) {
            if (!a.takeRunThread()) {
                if (stopRequested()) {
                    return;
                }
                parker.idle(this, 0);
                continue;
            }
            ctx.cpu = a.desc.cpu;
            try {
                IrqReturn r = a.forced ? engine.flow.forcedThreadFn(a, ctx) : engine.flow.threadFn(a, ctx);
                if (a.forced && r == IrqReturn.WAKE_THREAD && a.secondary != null) {
                    engine.flow.wakeThread(a.secondary);   // irq_wake_secondary
                }
            } catch (Throwable t) {
                // thread functions' exceptions are caught inside; this is the engine failing
                engine.rt.reportError(a, t);
            } finally {
                runs = runs + 1;
                engine.flow.endThreadRun(a.desc);   // the run ends whatever happened: waiters never hang
            }
        }
    }
}

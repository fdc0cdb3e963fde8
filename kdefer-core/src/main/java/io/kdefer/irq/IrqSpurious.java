package io.kdefer.irq;

import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.WaitQueue;
import io.kdefer.internal.Secrets;
import io.kdefer.timer.KernelTimer;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Spurious-interrupt detection ({@code kernel/irq/spurious.c}): {@code note_interrupt} and the
 * poller that serves lines disabled as spurious.
 *
 * <p><b>Spurious detection</b> is {@code note_interrupt}, with its constants: a window of 100,000
 * interrupts counted while unhandled ones accumulate, more than 99,900 unhandled disables the line
 * ("nobody cared") and starts a poller every {@code HZ/10} that calls the handlers of disabled
 * shared lines; an unhandled interrupt more than {@code HZ/10} after the previous one restarts the
 * count; a purely threaded result is judged one interrupt late from {@code threads_handled}.
 */
final class IrqSpurious {
    static final int SPURIOUS_WINDOW = 100_000;
    static final int SPURIOUS_LIMIT = 99_900;

    private final AtomicInteger badReports = new AtomicInteger(100);  // A: report_bad_irq budget
    private KernelTimer poller;             // L: guarded by this; created on demand

    private final IrqEngine engine;      // F
    private final KernelRuntime rt;      // F
    private final WaitQueue waitQueue;   // F

    IrqSpurious(IrqEngine engine) {
        this.engine = engine;
        this.rt = engine.rt;
        this.waitQueue = engine.rt.waitQueue();
    }



    void noteInterrupt(IrqDesc d, int ret) {
        if ((ret & IrqHandle.BOGUS) != 0) {
            if (badReports.getAndDecrement() > 0) {
                rt.reportError("irq " + d.irq, new IllegalStateException("irq event " + d.irq
                        + ": bogus return value (a handler returned null)" + handlers(d)));
            }
            return;
        }
        final int wake = IrqReturn.WAKE_THREAD.bits();
        if ((ret & wake) != 0) {
            if (ret == wake) {
                if ((d.threadsHandledLast & IrqDesc.SPURIOUS_DEFERRED) == 0) {
                    d.threadsHandledLast |= IrqDesc.SPURIOUS_DEFERRED;
                    return;
                }
                int handled = d.threadsHandled.get() | IrqDesc.SPURIOUS_DEFERRED;
                if (handled != d.threadsHandledLast) {
                    ret = IrqReturn.HANDLED.bits();
                    d.threadsHandledLast = handled;
                } else {
                    ret = IrqReturn.NONE.bits();
                }
            } else {
                d.threadsHandledLast &= ~IrqDesc.SPURIOUS_DEFERRED;
            }
        }
        if (ret == IrqReturn.NONE.bits()) {
            long now = rt.clock.jiffies();
            if (now - (d.lastUnhandled + rt.hz / 10) > 0) {
                d.irqsUnhandled = 1;
            } else {
                d.irqsUnhandled++;
            }
            d.lastUnhandled = now;
        }
        if (d.irqsUnhandled == 0) {
            return;
        }
        if (++d.irqCount < SPURIOUS_WINDOW) {
            return;
        }
        d.irqCount = 0;
        if (d.irqsUnhandled > SPURIOUS_LIMIT) {
            synchronized (d) {
                d.spuriousDisabled = true;
                d.depth++;
            }
            rt.reportError("irq " + d.irq, new IllegalStateException("irq " + d.irq
                    + ": nobody cared (try booting with the \"irqpoll\" option)" + handlers(d)
                    + "\nDisabling IRQ #" + d.irq));
            armPoller();
        }
        d.irqsUnhandled = 0;
    }

    private static String handlers(IrqDesc d) {
        StringBuilder sb = new StringBuilder("\nhandlers:");
        for (IrqAction a : d.actions) {
            sb.append("\n[").append(a.name).append("] ").append(a.handler);
            if (a.threadFn != null) {
                sb.append(" threaded ").append(a.threadFn);
            }
        }
        return sb.toString();
    }

    private void armPoller() {
        KernelTimer t;
        synchronized (this) {
            if (rt.isClosing()) {
                return;
            }
            if (poller == null) {
                poller = Secrets.ownTimer(engine.kernel, self -> pollSpurious(), false);
            }
            t = poller;
        }
        t.mod(rt.clock.jiffies() + pollInterval());
    }

    private long pollInterval() {
        return Math.max(1, rt.hz / 10);
    }

    /** {@code poll_spurious_irqs}: calls the handlers of shared lines disabled as spurious. */
    private void pollSpurious() {
        boolean any = false;
        for (IrqDesc d : engine.descs) {
            boolean disabled;
            synchronized (d) {
                disabled = d.spuriousDisabled;
            }
            if (disabled) {
                any = true;
                tryOneIrq(d);
            }
        }
        if (any) {
            armPoller();
        }
    }

    /** {@code try_one_irq(desc, force=true)}. */
    private void tryOneIrq(IrqDesc d) {
        final IrqAction[] acts;
        synchronized (d) {
            acts = d.actions;
            if (acts.length == 0 || !acts[0].has(IrqFlag.SHARED)) {
                return;
            }
            if (d.inProgress) {
                d.pendingReplay = true;
                return;
            }
            d.inProgress = true;
        }
        try {
            engine.flow.handleEvent(d, acts);
        } finally {
            synchronized (d) {
                d.inProgress = false;
            }
            waitQueue.wakeAll(d);
        }
    }

    /** close() began: the poller re-arms itself, so it is shut down. */
    void closing() {
        KernelTimer t;
        synchronized (this) {
            t = poller;
        }
        if (t != null) {
            t.shutdownSync();
        }
    }
}

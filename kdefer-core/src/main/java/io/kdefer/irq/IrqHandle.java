package io.kdefer.irq;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.WaitQueue;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Interrupt flow handling ({@code kernel/irq/handle.c}, {@code chip.c}): the flow handler
 * {@code cpu/N} runs for an asserted line, the handlers' calls, waking an action's thread, and
 * what the thread does around each run of its function.
 *
 * <p><b>The flow handler</b> ({@link #handle}, after {@code handle_fasteoi_irq}): under the
 * descriptor lock, a line that is disabled, masked, without actions or already in progress
 * remembers the assertion ({@code IRQS_PENDING}) and returns; otherwise it counts the interrupt,
 * masks an ONESHOT line and sets INPROGRESS. The handlers run without the lock, in registration
 * order, their results OR-ed; WAKE_THREAD wakes the action's thread. {@code note_interrupt}
 * follows. Under the lock again: INPROGRESS is cleared, an ONESHOT line is unmasked when no woken
 * ONESHOT thread is left ({@code cond_unmask_irq}), and a remembered assertion is replayed.
 *
 * <p><b>Threads.</b> One {@link IrqThread} per action with a thread function. Waking it is
 * {@code __irq_wake_thread}: {@code threads_active++} first, then test-and-set RUNTHREAD (undone
 * if the bit was already set: the wake is coalesced), then the ONESHOT bit, then unpark. The
 * count goes up before the bit, so the thread's decrement at the end of the run can never make
 * it pass through 0 early. After each run the thread finalizes ONESHOT under the lock: it waits
 * while the hard handler is in progress, leaves the line masked when RUNTHREAD was set again
 * meanwhile (another run follows), else clears its bit and unmasks at 0.
 *
 * <p><b>Memory ordering.</b> A raise's prior writes are visible to the primary handler: the raise
 * is a volatile RMW on the pending bitmap that {@code cpu/N} reads with a volatile read before it
 * runs the handler. The primary handler's writes (and so the raiser's) are visible to the thread
 * function: RUNTHREAD is set with a CAS and taken with a volatile RMW before the thread function
 * runs. {@code synchronizeIrq} returns after reading INPROGRESS clear (a volatile write at the
 * end of the handlers) and {@code threads_active == 0} (an atomic decrement at the end of the
 * thread run), so everything the handlers did is visible to its caller. Each is a jcstress test.
 *
 */
final class IrqHandle {
    /** A handler that returned null: counted as bogus by {@code note_interrupt}. */
    static final int BOGUS = 0x100;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    private final IrqEngine engine;      // F
    private final KernelRuntime rt;      // F
    private final WaitQueue waitQueue;   // F

    IrqHandle(IrqEngine engine) {
        this.engine = engine;
        this.rt = engine.rt;
        this.waitQueue = engine.rt.waitQueue();
    }


    /** The flow handler ({@code handle_fasteoi_irq}), on {@code cpu/N} in hardirq context. */
    void handle(int irq) {
        final IrqDesc d = engine.descs[irq];
        final IrqAction[] acts;
        synchronized (d) {
            acts = d.actions;
            if (acts.length == 0) {
                engine.errIrqs.incrementAndGet();   // handle_bad_irq: nobody requested this line
                return;
            }
            if (d.inProgress || d.depth > 0 || d.masked) {
                d.pendingReplay = true;       // IRQS_PENDING: replayed when the line can take it
                return;
            }
            final int cpu = rt.context().cpu;
            LONGS.setOpaque(d.kstat, cpu, (long) LONGS.getOpaque(d.kstat, cpu) + 1);
            if (d.oneshot) {
                d.masked = true;
            }
            d.inProgress = true;
        }
        int ret = 0;
        try {
            ret = handleEvent(d, acts);
            if (!d.noDebug) {
                engine.spurious.noteInterrupt(d, ret);
            }
        } finally {
            boolean replay;
            synchronized (d) {
                d.inProgress = false;
                if (d.masked && d.threadsOneshot == 0 && d.depth == 0) {
                    d.masked = false;   // cond_unmask_irq: no woken ONESHOT thread
                }
                replay = d.takeReplayLocked();
            }
            waitQueue.wakeAll(d);
            if (replay) {
                rt.cpu(d.cpu).assertIrq(irq);
            }
        }
    }

    /** {@code __handle_irq_event_percpu}: every handler in order; results OR-ed. */
    int handleEvent(IrqDesc d, IrqAction[] acts) {
        int ret = 0;
        for (IrqAction a : acts) {
            IrqReturn r;
            try {
                r = a.handler.handle(d.irq, a.devId);
            } catch (Throwable t) {
                rt.reportError(a, t);
                r = IrqReturn.NONE;
            }
            if (r == null) {
                ret |= BOGUS;
                continue;
            }
            if (r == IrqReturn.WAKE_THREAD) {
                if (a.thread == null) {
                    if (a.warnOnce()) {
                        rt.reportError(a, new IllegalStateException("irq " + d.irq + ", handler '" + a.name
                                + "' returned IRQ_WAKE_THREAD but no thread function available (warned once)"));
                    }
                } else {
                    wakeThread(a);
                }
            }
            ret |= r.bits();
        }
        return ret;
    }

    /** {@code __irq_wake_thread}. */
    void wakeThread(IrqAction a) {
        final IrqDesc d = a.desc;
        final IrqThread t = a.thread;
        d.threadsActive.incrementAndGet();
        if (!a.setRunThread()) {
            endThreadRun(d);   // coalesced with the wake not yet consumed
            return;
        }
        if (a.threadMask != 0) {
            synchronized (d) {
                d.threadsOneshot |= a.threadMask;
            }
        }
        t.parker.wake();
    }

    /** The end of one woken run ({@code wake_threads_waitq}). */
    void endThreadRun(IrqDesc d) {
        if (d.threadsActive.decrementAndGet() == 0) {
            waitQueue.wakeAll(d);
        }
    }

    /** {@code irq_thread_fn}. */
    IrqReturn threadFn(IrqAction a, CpuContext ctx) {
        IrqReturn r = call(a, ctx);
        finalizeOneshot(a);
        return r;
    }

    /** {@code irq_forced_thread_fn}: the original primary, in the thread, with bottom halves off. */
    IrqReturn forcedThreadFn(IrqAction a, CpuContext ctx) {
        rt.localBhDisable();
        try {
            IrqReturn r = call(a, ctx);
            finalizeOneshot(a);
            return r;
        } finally {
            rt.localBhEnable();
        }
    }

    private IrqReturn call(IrqAction a, CpuContext ctx) {
        final IrqDesc d = a.desc;
        final Object saved = ctx.running;
        ctx.running = d;
        IrqReturn r;
        try {
            r = a.threadFn.handle(d.irq, a.devId);
        } catch (Throwable t) {
            rt.reportError(a, t);
            r = IrqReturn.NONE;
        } finally {
            ctx.running = saved;
        }
        if (r == IrqReturn.HANDLED) {
            d.threadsHandled.incrementAndGet();
        }
        return r;
    }

    /** {@code irq_finalize_oneshot}. */
    private void finalizeOneshot(IrqAction a) {
        final IrqDesc d = a.desc;
        if (a.secondaryAction) {
            return;
        }
        for (int spins = 0; ; spins++) {
            boolean replay;
            synchronized (d) {
                if (!d.oneshot) {
                    return;
                }
                if (!d.inProgress) {
                    if (a.runThreadVolatile()) {
                        return;   // woken again meanwhile: another run follows, keep the line masked
                    }
                    d.threadsOneshot &= ~a.threadMask;
                    if (d.threadsOneshot == 0 && d.depth == 0 && d.masked) {
                        d.masked = false;   // unmask_threaded_irq
                    }
                    replay = d.takeReplayLocked();
                    if (replay) {
                        rt.cpu(d.cpu).assertIrq(d.irq);
                    }
                    return;
                }
            }
            // the hard handler runs on cpu/N: wait for it, as the kernel's thread spins
            if ((spins & 63) == 63) {
                Thread.yield();
            } else {
                Thread.onSpinWait();
            }
        }
    }
}

package io.kdefer.irq;

import io.kdefer.Kernel;
import io.kdefer.internal.Cpu;
import io.kdefer.internal.CpuContext;
import io.kdefer.internal.IrqFlow;
import io.kdefer.internal.Subsystem;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.WaitQueue;
import io.kdefer.timer.KernelTimer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The interrupt lines of one kernel ({@code kernel/irq/manage.c}, {@code handle.c},
 * {@code spurious.c}). Built with the kernel, as its {@code IRQS} subsystem; registers the flow
 * handler {@code cpu/N} calls for an asserted line.
 *
 * <h2>Implementation overview</h2>
 *
 * <p><b>Delivery.</b> {@code raise(irq)} sets the line's bit in the pending bitmap of the line's
 * CPU and wakes {@code cpu/N} (one atomic OR and, when the CPU thread sleeps, one unpark; nothing
 * is allocated). {@code cpu/N} takes the bit and runs {@link #handle} in hardirq context; its irq
 * exit then runs the CPU's pending softirqs. A raise from {@code cpu/N} itself in hardirq context
 * runs the flow handler at once, nested, as a chained handler calls {@code generic_handle_irq}.
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
 * <p><b>Spurious detection</b> is {@code note_interrupt}, with its constants: a window of 100,000
 * interrupts counted while unhandled ones accumulate, more than 99,900 unhandled disables the line
 * ("nobody cared") and starts a poller every {@code HZ/10} that calls the handlers of disabled
 * shared lines; an unhandled interrupt more than {@code HZ/10} after the previous one restarts the
 * count; a purely threaded result is judged one interrupt late from {@code threads_handled}.
 */
final class IrqEngine implements Subsystem, IrqFlow {
    static final int NR_IRQS = Cpu.NR_IRQS;
    static final int SPURIOUS_WINDOW = 100_000;
    static final int SPURIOUS_LIMIT = 99_900;
    private static final int BOGUS = 0x100;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);

    /** {@code irq_default_primary_handler}: wakes the thread. */
    static final IrqHandler DEFAULT_PRIMARY = (irq, dev) -> IrqReturn.WAKE_THREAD;

    final KernelRuntime rt;                 // F
    private final Kernel kernel;            // F
    private final WaitQueue waitQueue;      // F
    private final IrqDesc[] descs;          // F
    /**
     * Each line's CPU, for {@link #raise}: read-mostly, kept off the descriptors, whose cache line
     * {@code cpu/N} writes on every interrupt (lock word, INPROGRESS); reading the affinity there
     * would cost the raiser a cache miss and {@code cpu/N} another. Written under the descriptor's
     * lock by {@link #setAffinity}, read opaque.
     */
    private final int[] affinity = new int[NR_IRQS];
    private final AtomicLong errIrqs = new AtomicLong();              // A: asserted lines without a handler
    private final AtomicInteger badReports = new AtomicInteger(100);  // A: report_bad_irq budget
    private KernelTimer poller;             // L: guarded by this; the spurious poller, created on demand

    IrqEngine(Kernel kernel, KernelRuntime rt) {
        this.kernel = kernel;
        this.rt = rt;
        this.waitQueue = rt.waitQueue();
        this.descs = new IrqDesc[NR_IRQS];
        for (int i = 0; i < NR_IRQS; i++) {
            descs[i] = new IrqDesc(i, rt.nrCpus);
            descs[i].cpu = i % rt.nrCpus;
            affinity[i] = i % rt.nrCpus;
        }
        rt.setIrqFlow(this);
    }

    static IrqEngine of(KernelRuntime rt) {
        return rt.subsystem(IrqEngine.class);
    }

    @Override
    public String name() {
        return "irqs";
    }

    IrqDesc desc(int irq) {
        if (irq < 0 || irq >= NR_IRQS) {
            throw new IllegalArgumentException("irq " + irq + " does not exist (lines 0.." + (NR_IRQS - 1) + ")");
        }
        return descs[irq];
    }

    // ---------------------------------------------------------------- raise and the flow handler

    /** A device asserts {@code irq}. */
    void raise(int irq) {
        if (irq < 0 || irq >= NR_IRQS) {
            desc(irq);   // throws
        }
        final CpuContext ctx = rt.context();
        final boolean section = rt.enter(ctx);   // the entry protocol: refused, or served by close()
        try {
            final Cpu target = rt.cpu((int) INTS.getOpaque(affinity, irq));
            if (target.isCpuThread(Thread.currentThread()) && ctx.inHardirq()) {
                handle(irq);   // generic_handle_irq from a chained handler on this CPU
                return;
            }
            target.assertIrq(irq);
        } finally {
            if (section) {
                rt.exit(ctx);
            }
        }
    }

    @Override
    public void handle(int irq) {
        final IrqDesc d = descs[irq];
        final IrqAction[] acts;
        synchronized (d) {
            acts = d.actions;
            if (acts.length == 0) {
                errIrqs.incrementAndGet();   // handle_bad_irq: nobody requested this line
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
                noteInterrupt(d, ret);
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
    private int handleEvent(IrqDesc d, IrqAction[] acts) {
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

    // ---------------------------------------------------------------- note_interrupt

    private void noteInterrupt(IrqDesc d, int ret) {
        if ((ret & BOGUS) != 0) {
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
                poller = KernelTimer.setup(kernel, self -> pollSpurious());
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
        for (IrqDesc d : descs) {
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
            handleEvent(d, acts);
        } finally {
            synchronized (d) {
                d.inProgress = false;
            }
            waitQueue.wakeAll(d);
        }
    }

    // ---------------------------------------------------------------- request and free

    void request(int irq, IrqHandler handler, IrqHandler threadFn, String name, Object devId, int flags) {
        final IrqDesc d = desc(irq);
        if (name == null) {
            throw new IllegalArgumentException("request_threaded_irq(" + irq + "): name is null");
        }
        mightSleep("request_threaded_irq(" + irq + ", '" + name + "')");
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
        IrqHandler primary = handler == null ? DEFAULT_PRIMARY : handler;
        IrqHandler fn = threadFn;
        boolean forced = false;
        IrqAction secondary = null;
        // irq_setup_forced_threading
        if (rt.threadIrqs && primary != DEFAULT_PRIMARY
                && (flags & (IrqFlag.NO_THREAD.value() | IrqFlag.ONESHOT.value())) == 0) {
            flags |= IrqFlag.ONESHOT.value();
            if (fn != null) {
                secondary = new IrqAction(d, (i, dev) -> {
                    throw new IllegalStateException("Secondary action handler called for irq " + i);
                }, fn, name, devId, flags, false, true, null);
            }
            fn = primary;
            primary = DEFAULT_PRIMARY;
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
            } else if (a.handler == DEFAULT_PRIMARY) {
                throw new IllegalArgumentException("Threaded irq requested with handler=NULL and !ONESHOT for "
                        + name + " (irq " + irq + "): -EINVAL");
            }
            if (a.threadFn != null) {
                a.thread = new IrqThread(this, a, "irq/" + irq + "-" + name);
            }
            if (secondary != null) {
                secondary.thread = new IrqThread(this, secondary, "irq/" + irq + "-s-" + name);
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
        final IrqDesc d = desc(irq);
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

    private static void stop(IrqThread t) {
        if (t == null) {
            return;
        }
        t.requestStop();
        boolean interrupted = false;
        for (;;) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- disable, enable, synchronize

    void disableNosync(int irq) {
        IrqDesc d = desc(irq);
        rt.checkOpen();
        synchronized (d) {
            d.depth++;
        }
    }

    void disable(int irq) {
        IrqDesc d = desc(irq);
        mightSleep("disable_irq(" + irq + ")");
        checkNotOwnThread(d, "disable_irq");
        disableNosync(irq);
        awaitSynchronized(d);
    }

    void enable(int irq) {
        IrqDesc d = desc(irq);
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
        IrqDesc d = desc(irq);
        mightSleep("synchronize_irq(" + irq + ")");
        checkNotOwnThread(d, "synchronize_irq");
        awaitSynchronized(d);
    }

    /** {@code synchronize_hardirq}: true when no thread run is active either. */
    boolean synchronizeHardirq(int irq) {
        IrqDesc d = desc(irq);
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

    private void awaitSynchronized(IrqDesc d) {
        waitQueue.await(d, () -> !d.inProgress && d.threadsActive.get() == 0);
    }

    private void mightSleep(String what) {
        CpuContext ctx = rt.context();
        rt.checkOpen();
        if (!ctx.inTask() || ctx.inSoftirq()) {
            throw new IllegalStateException(what + " sleeps: not allowed in atomic context (preempt_count "
                    + ctx.countHex() + ")");
        }
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
        IrqDesc d = desc(irq);
        rt.checkCpu(cpu);
        rt.checkOpen();
        synchronized (d) {
            d.cpu = cpu;
            INTS.setOpaque(affinity, irq, cpu);
        }
    }

    void wakeThreadOf(int irq, Object devId) {
        IrqDesc d = desc(irq);
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
        wakeThread(target);
    }

    // ---------------------------------------------------------------- views

    long count(int irq, int cpu) {
        IrqDesc d = desc(irq);
        rt.checkCpu(cpu);
        return (long) LONGS.getOpaque(d.kstat, cpu);
    }

    String procInterrupts() {
        StringBuilder sb = new StringBuilder("    ");
        for (int c = 0; c < rt.nrCpus; c++) {
            sb.append(String.format("%11s", "CPU" + c));
        }
        sb.append('\n');
        for (IrqDesc d : descs) {
            IrqAction[] acts = d.actions;
            if (acts.length == 0) {
                continue;
            }
            sb.append(String.format("%3d:", d.irq));
            for (int c = 0; c < rt.nrCpus; c++) {
                sb.append(String.format(" %10d", (long) LONGS.getOpaque(d.kstat, c)));
            }
            int trigger = acts[0].flags & IrqFlag.TRIGGER_MASK;
            boolean level = (trigger & (IrqFlag.TRIGGER_HIGH.value() | IrqFlag.TRIGGER_LOW.value())) != 0;
            sb.append(String.format("  kdefer %4d-%-6s ", d.irq, level ? "level" : "edge"));
            for (int i = 0; i < acts.length; i++) {
                sb.append(i == 0 ? " " : ", ").append(acts[i].name);
            }
            sb.append('\n');
        }
        sb.append(String.format("ERR: %10d%n", errIrqs.get()));
        return sb.toString();
    }

    String spurious(int irq) {
        IrqDesc d = desc(irq);
        synchronized (d) {
            return "count " + d.irqCount + "\nunhandled " + d.irqsUnhandled + "\nlast_unhandled "
                    + rt.jiffiesToMsecs(d.lastUnhandled) + " ms\n";
        }
    }

    /** Spurious-detection counters of a line, for tests: {irq_count, irqs_unhandled}. */
    int[] spuriousCounters(int irq) {
        IrqDesc d = desc(irq);
        synchronized (d) {
            return new int[] {d.irqCount, d.irqsUnhandled};
        }
    }

    boolean isDisabled(int irq) {
        IrqDesc d = desc(irq);
        synchronized (d) {
            return d.depth > 0;
        }
    }

    boolean isMasked(int irq) {
        IrqDesc d = desc(irq);
        synchronized (d) {
            return d.masked;
        }
    }

    // ---------------------------------------------------------------- lifecycle (Subsystem)

    private List<IrqThread> threads() {
        List<IrqThread> out = new ArrayList<>();
        for (IrqDesc d : descs) {
            for (IrqAction a : d.actions) {
                if (a.thread != null) {
                    out.add(a.thread);
                }
                if (a.secondary != null && a.secondary.thread != null) {
                    out.add(a.secondary.thread);
                }
            }
        }
        return out;
    }

    /** Counts threaded-handler runs, so that close() can tell when interrupt threads went quiet. */
    @Override
    public long activity() {
        long sum = 0;
        for (IrqThread t : threads()) {
            sum += t.runs();
        }
        return sum;
    }

    /** Waits until no interrupt thread has a run pending or in progress. */
    @Override
    public void awaitIdle() {
        for (IrqDesc d : descs) {
            awaitSynchronized(d);
        }
    }

    /** close() began: stop the spurious poller, which would re-arm itself. */
    @Override
    public void closing() {
        KernelTimer t;
        synchronized (this) {
            t = poller;
        }
        if (t != null) {
            t.shutdownSync();
        }
    }

    /** Stops and joins every interrupt thread, once everything is drained. */
    @Override
    public void stopThreads() {
        for (IrqThread t : threads()) {
            stop(t);
        }
    }
}

package io.kdefer.irq;

import io.kdefer.Kernel;
import io.kdefer.internal.Cpu;
import io.kdefer.internal.CpuContext;
import io.kdefer.internal.IrqFlow;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Subsystem;
import io.kdefer.internal.WaitQueue;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
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
 * <p><b>Parts</b>, along the kernel's files: {@link IrqHandle} (the flow handler, the handlers'
 * calls and the interrupt threads' side, {@code handle.c} / {@code chip.c}), {@link IrqSpurious}
 * ({@code note_interrupt} and its poller, {@code spurious.c}), {@link IrqManage} (request and free
 * with forced threading) and {@link IrqControl} (disable, enable, synchronize, affinity) from
 * {@code manage.c}, and {@link IrqProc} (the views, {@code proc.c}). This class owns the
 * descriptors, the raise, and the subsystem's part of the kernel's lifecycle.
 */
final class IrqEngine implements Subsystem, IrqFlow {
    static final int NR_IRQS = Cpu.NR_IRQS;
    private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);

    /** {@code irq_default_primary_handler}: wakes the thread. */
    static final IrqHandler DEFAULT_PRIMARY = (irq, dev) -> IrqReturn.WAKE_THREAD;

    final KernelRuntime rt;                 // F
    final Kernel kernel;                    // F
    private final WaitQueue waitQueue;      // F
    final IrqDesc[] descs;                  // F
    /**
     * Each line's CPU, for {@link #raise}: read-mostly, kept off the descriptors, whose cache line
     * {@code cpu/N} writes on every interrupt (lock word, INPROGRESS); reading the affinity there
     * would cost the raiser a cache miss and {@code cpu/N} another. Written under the descriptor's
     * lock by {@link IrqControl#setAffinity}, read opaque.
     */
    private final int[] affinity = new int[NR_IRQS];
    final AtomicLong errIrqs = new AtomicLong();    // A: asserted lines without a handler
    final IrqHandle flow;                           // F
    final IrqSpurious spurious;                     // F
    final IrqManage manage;                         // F
    final IrqControl control;                       // F
    final IrqProc proc;                             // F

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
        this.flow = new IrqHandle(this);
        this.spurious = new IrqSpurious(this);
        this.manage = new IrqManage(this);
        this.control = new IrqControl(this);
        this.proc = new IrqProc(this);
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

    /** Moves line {@code irq} to {@code cpu} for {@link #raise}; under the descriptor's lock. */
    void setAffinityLocked(int irq, int cpu) {
        INTS.setOpaque(affinity, irq, cpu);
    }

    /** Refuses a call that may sleep from atomic context, and every call once closed. */
    void mightSleep(String what) {
        CpuContext ctx = rt.context();
        rt.checkOpen();
        if (!ctx.inTask() || ctx.inSoftirq()) {
            throw new IllegalStateException(what + " sleeps: not allowed in atomic context (preempt_count "
                    + ctx.countHex() + ")");
        }
    }

    /** Waits until no handler of the line runs and no thread run is pending or running. */
    void awaitSynchronized(IrqDesc d) {
        waitQueue.await(d, () -> !d.inProgress && d.threadsActive.get() == 0);
    }

    // ---------------------------------------------------------------- raise

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
                flow.handle(irq);   // generic_handle_irq from a chained handler on this CPU
                return;
            }
            target.assertIrq(irq);
        } finally {
            if (section) {
                rt.exit(ctx);
            }
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
        spurious.closing();
    }

    /** The flow handler, called by {@code cpu/N} for a line asserted there. */
    @Override
    public void handle(int irq) {
        flow.handle(irq);
    }

    /** Stops and joins every interrupt thread, once everything is drained. */
    @Override
    public void stopThreads() {
        for (IrqThread t : threads()) {
            IrqManage.stop(t);
        }
    }
}

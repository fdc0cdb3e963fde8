package io.kdefer.internal;

import io.kdefer.softirq.SoftirqVector;
import io.kdefer.softirq.Softirqs;

import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The softirq action table of one kernel ({@code softirq_vec}, {@code open_softirq}), its public
 * {@link Softirqs} view, and the first {@link Subsystem}: a CPU is quiet for close() when nothing
 * is pending there and nobody owns its bottom halves.
 *
 * <h2>Shared bottom-half vectors</h2>
 * HI and TASKLET do not belong to one mechanism: since Linux 6.9 the BH workqueue worker and the
 * tasklets share them ({@code tasklet_action_common} runs after the BH work items of the same
 * vector). Each of the two vectors therefore has an ordered list of handlers, one per
 * {@link BhStage}, registered while the kernel is built; the vector's action runs them in stage
 * order, each to the end of its own batch. A handler that leaves work re-raises the vector itself.
 * TIMER belongs to the timer wheel ({@link #openOwned}); every other vector is the user's.
 *
 * <p>Field access codes: {@code F} final; {@code A} atomic/volatile; {@code L} guarded by this.
 */
public final class SoftirqTable implements Softirqs, Subsystem {
    /** Where a bottom-half handler runs within its vector's action: BH work first, then tasklets. */
    public enum BhStage {
        /** The BH workqueue's items ({@code bh_worker}), Linux 6.9+. */
        WORK,
        /** The tasklets ({@code tasklet_action_common}). */
        TASKLETS
    }

    private static final SoftirqVector[] VECTORS = SoftirqVector.values();

    private final KernelRuntime rt;                                 // F
    private final AtomicReferenceArray<Runnable> actions =          // A: softirq_vec
            new AtomicReferenceArray<>(KernelRuntime.NR_SOFTIRQS);
    private final boolean[] owned = new boolean[KernelRuntime.NR_SOFTIRQS];   // L
    private final BhVector hi = new BhVector(SoftirqVector.HI);                // F
    private final BhVector tasklet = new BhVector(SoftirqVector.TASKLET);      // F

    SoftirqTable(KernelRuntime rt) {
        this.rt = rt;
        owned[SoftirqVector.HI.ordinal()] = true;
        owned[SoftirqVector.TIMER.ordinal()] = true;
        owned[SoftirqVector.TASKLET.ordinal()] = true;
        actions.set(SoftirqVector.HI.ordinal(), hi);
        actions.set(SoftirqVector.TASKLET.ordinal(), tasklet);
    }

    /**
     * One shared bottom-half vector: its handlers, in {@link BhStage} order. Registration (rare,
     * under the table's lock) publishes a fresh array; the vector's action reads it once per run.
     */
    private final class BhVector implements Runnable {
        final SoftirqVector vector;                                           // F
        final Runnable[] stages = new Runnable[BhStage.values().length];     // L (the table)
        volatile Runnable[] handlers = new Runnable[0];                      // A: copy on write

        BhVector(SoftirqVector vector) {
            this.vector = vector;
        }

        @Override
        public void run() {
            for (Runnable h : handlers) {
                try {
                    h.run();
                } catch (Throwable t) {
                    // one stage failing must not keep the next one from running
                    rt.reportError(vector + " softirq handler " + h, t);
                }
            }
        }
    }

    // ---------------------------------------------------------------- the table (kdefer side)

    /** The action of {@code vector}, or null. */
    Runnable action(int vector) {
        return actions.getAcquire(vector);
    }

    static String vectorName(int vector) {
        return VECTORS[vector].name();
    }

    /**
     * Registers a bottom-half handler on HI or TASKLET at {@code stage}, one per stage. The handler
     * runs on the thread that owns the CPU's bottom halves, in softirq context, after the handlers
     * of earlier stages in the same invocation of the vector.
     */
    public synchronized void registerBh(SoftirqVector vector, BhStage stage, Runnable handler) {
        Objects.requireNonNull(handler, "handler");
        BhVector v = vector == SoftirqVector.HI ? hi : vector == SoftirqVector.TASKLET ? tasklet : null;
        if (v == null) {
            throw new IllegalArgumentException(vector + " is not a bottom-half vector (HI or TASKLET)");
        }
        if (v.stages[stage.ordinal()] != null) {
            throw new IllegalStateException(vector + " already has a " + stage + " handler");
        }
        v.stages[stage.ordinal()] = handler;
        Runnable[] handlers = Arrays.stream(v.stages).filter(Objects::nonNull).toArray(Runnable[]::new);
        v.handlers = handlers;
        // one stage (no BH work yet): the vector runs it directly, without the dispatch loop
        actions.setRelease(vector.ordinal(), handlers.length == 1 ? handlers[0] : v);
    }

    /** Installs the action of a vector kdefer serves itself (TIMER), while the kernel is built. */
    public synchronized void openOwned(SoftirqVector vector, Runnable action) {
        int v = vector.ordinal();
        if (actions.get(v) != null) {
            throw new IllegalStateException("open_softirq(" + vector + "): already opened");
        }
        owned[v] = true;
        actions.setRelease(v, action);
    }

    // ---------------------------------------------------------------- Subsystem

    @Override
    public String name() {
        return "softirqs";
    }

    /** Nothing pending, nobody owns the bottom halves, and (forced threading) ktimers/N is done. */
    @Override
    public boolean quiet(Cpu cpu) {
        return cpu.pendingVolatile() == 0 && !cpu.bhOwned() && cpu.timersQuiet();
    }

    // ---------------------------------------------------------------- Softirqs (the user's view)

    /** {@code open_softirq} for a user: refused for vectors kdefer owns or already opened. */
    @Override
    public void open(SoftirqVector vector, Runnable action) {
        Objects.requireNonNull(vector, "vector");
        Objects.requireNonNull(action, "action");
        synchronized (this) {
            rt.checkOpen();
            int v = vector.ordinal();
            if (owned[v]) {
                throw new IllegalStateException("open_softirq(" + vector + "): kdefer owns this vector");
            }
            if (actions.get(v) != null) {
                throw new IllegalStateException("open_softirq(" + vector
                        + "): the vector already has an action (open_softirq is done once, at boot)");
            }
            actions.setRelease(v, action);
        }
    }

    @Override
    public void raise(SoftirqVector vector) {
        Objects.requireNonNull(vector, "vector");
        rt.raise(vector);
    }

    @Override
    public void raiseIrqoff(SoftirqVector vector) {
        Objects.requireNonNull(vector, "vector");
        rt.raiseIrqoff(vector);
    }

    @Override
    public int pending(int cpu) {
        rt.checkCpu(cpu);
        return rt.cpu(cpu).pendingSeenBy(rt.context());
    }

    @Override
    public long count(int cpu, SoftirqVector vector) {
        rt.checkCpu(cpu);
        return rt.cpu(cpu).vectorCount(vector.ordinal());
    }

    @Override
    public String procSoftirqs() {
        StringBuilder sb = new StringBuilder("                    ");
        for (int c = 0; c < rt.nrCpus; c++) {
            sb.append(String.format("CPU%-8d", c));
        }
        sb.append('\n');
        for (SoftirqVector v : SoftirqVector.values()) {
            sb.append(String.format("%12s:", v.name()));
            for (int c = 0; c < rt.nrCpus; c++) {
                sb.append(String.format(" %10d", rt.cpu(c).vectorCount(v.ordinal())));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return procSoftirqs();
    }
}

package io.kdefer.internal;

import io.kdefer.softirq.SoftirqVector;
import io.kdefer.softirq.Softirqs;

import java.util.Objects;

/** The {@link Softirqs} of one kernel. */
public final class SoftirqTable implements Softirqs {
    private final KernelRuntime rt;

    public SoftirqTable(KernelRuntime rt) {
        this.rt = rt;
    }

    @Override
    public void open(SoftirqVector vector, Runnable action) {
        Objects.requireNonNull(vector, "vector");
        Objects.requireNonNull(action, "action");
        rt.open(vector, action);
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

package io.kdefer.irq;

import io.kdefer.internal.KernelRuntime;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The read-only views of the interrupt lines ({@code kernel/irq/proc.c}): per-CPU counts,
 * {@code /proc/interrupts}, {@code /proc/irq/N/spurious}, and line state for tests.
 */
final class IrqProc {
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    private final IrqEngine engine;      // F
    private final KernelRuntime rt;      // F

    IrqProc(IrqEngine engine) {
        this.engine = engine;
        this.rt = engine.rt;
    }



    long count(int irq, int cpu) {
        IrqDesc d = engine.desc(irq);
        rt.checkCpu(cpu);
        return (long) LONGS.getOpaque(d.kstat, cpu);
    }

    String procInterrupts() {
        StringBuilder sb = new StringBuilder("    ");
        for (int c = 0; c < rt.nrCpus; c++) {
            sb.append(String.format("%11s", "CPU" + c));
        }
        sb.append('\n');
        for (IrqDesc d : engine.descs) {
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
        sb.append(String.format("ERR: %10d%n", engine.errIrqs.get()));
        return sb.toString();
    }

    String spurious(int irq) {
        IrqDesc d = engine.desc(irq);
        synchronized (d) {
            return "count " + d.irqCount + "\nunhandled " + d.irqsUnhandled + "\nlast_unhandled "
                    + rt.jiffiesToMsecs(d.lastUnhandled) + " ms\n";
        }
    }

    /** Spurious-detection counters of a line, for tests: {irq_count, irqs_unhandled}. */
    int[] spuriousCounters(int irq) {
        IrqDesc d = engine.desc(irq);
        synchronized (d) {
            return new int[] {d.irqCount, d.irqsUnhandled};
        }
    }

    boolean isDisabled(int irq) {
        IrqDesc d = engine.desc(irq);
        synchronized (d) {
            return d.depth > 0;
        }
    }

    boolean isMasked(int irq) {
        IrqDesc d = engine.desc(irq);
        synchronized (d) {
            return d.masked;
        }
    }
}

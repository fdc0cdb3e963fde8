package io.kdefer.bench.irq;

import io.kdefer.IdleStrategy;
import io.kdefer.Kernel;
import io.kdefer.bench.support.ThreadSupport;
import io.kdefer.irq.IrqFlag;
import io.kdefer.irq.IrqHandler;
import io.kdefer.irq.IrqReturn;
import io.kdefer.irq.Irqs;

import java.lang.management.ManagementFactory;

/**
 * Bytes allocated per raise, exactly, outside JMH: a plain thread raises a line of a one-CPU
 * kernel and waits for the handler's acknowledgement, as {@link IrqRaiseLatencyBenchmark} does,
 * and the allocation counters of the raising thread, {@code cpu/0} and the irq thread are read
 * before and after a measured batch. Inside JMH the benchmark thread's figure also carries JMH's
 * own per-iteration allocation, which this run does not have.
 *
 * <p>Each of the six cases (primary handler, threaded handler, ONESHOT thread-only handler; spin
 * and park idle) first raises for {@code warm-up} seconds so the raise path is compiled, then
 * counts for {@code measure} seconds (at most 10^7 raises). A line of output per case.
 *
 * <p>Usage: {@code java -cp benchmarks.jar io.kdefer.bench.irq.IrqRaiseAllocation [warm-up s] [measure s]}
 * (defaults 2 and 1).
 */
public final class IrqRaiseAllocation {
    private static final int IRQ = 10;
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private volatile long acks;   // A: written only by the acknowledging handler

    private IrqRaiseAllocation() {
    }

    public static void main(String[] args) {
        double warmUp = args.length > 0 ? Double.parseDouble(args[0]) : 2;
        double measure = args.length > 1 ? Double.parseDouble(args[1]) : 1;
        System.out.printf("%-8s %-5s %10s %14s %10s %14s%n", "shape", "idle", "raises", "raiser B/op", "cpu/0 B/op",
                "irq thread B/op");
        for (String shape : new String[] {"primary", "thread", "oneshot"}) {
            for (String idle : new String[] {"spin", "park"}) {
                new IrqRaiseAllocation().run(shape, idle, warmUp, measure);
            }
        }
    }

    private void run(String shape, String idle, double warmUpSeconds, double measureSeconds) {
        Object dev = new Object();
        IrqHandler ack = (irq, d) -> {
            acks = acks + 1;
            return IrqReturn.HANDLED;
        };
        try (Kernel kernel = Kernel.builder().cpus(1)
                .idleStrategy(idle.equals("spin") ? IdleStrategy.spin() : IdleStrategy.park()).build()) {
            Irqs irqs = kernel.irqs();
            switch (shape) {
                case "primary":
                    irqs.requestIrq(IRQ, ack, "alloc", dev);
                    break;
                case "thread":
                    irqs.requestThreadedIrq(IRQ, (irq, d) -> IrqReturn.WAKE_THREAD, ack, "alloc", dev);
                    break;
                default:
                    irqs.requestThreadedIrq(IRQ, null, ack, "alloc", dev, IrqFlag.ONESHOT);
                    break;
            }
            boolean oneshot = shape.equals("oneshot");
            raiseFor(irqs, oneshot, (long) (warmUpSeconds * 1e9), Long.MAX_VALUE);
            Thread cpu = ThreadSupport.named("cpu/0");
            Thread irqThread = shape.equals("primary") ? null : ThreadSupport.named("irq/" + IRQ + "-alloc");
            Thread me = Thread.currentThread();
            long meBefore = MX.getThreadAllocatedBytes(me.getId());
            long cpuBefore = MX.getThreadAllocatedBytes(cpu.getId());
            long irqBefore = irqThread == null ? 0 : MX.getThreadAllocatedBytes(irqThread.getId());
            long n = raiseFor(irqs, oneshot, (long) (measureSeconds * 1e9), 10_000_000L);
            long meBytes = MX.getThreadAllocatedBytes(me.getId()) - meBefore;
            long cpuBytes = MX.getThreadAllocatedBytes(cpu.getId()) - cpuBefore;
            long irqBytes = irqThread == null ? 0 : MX.getThreadAllocatedBytes(irqThread.getId()) - irqBefore;
            irqs.synchronizeIrq(IRQ);
            irqs.freeIrq(IRQ, dev);
            System.out.printf("%-8s %-5s %10d %14.4f %10.4f %14s%n", shape, idle, n, (double) meBytes / n,
                    (double) cpuBytes / n, irqThread == null ? "-" : String.format("%.4f", (double) irqBytes / n));
        }
    }

    /** Raises and waits for each acknowledgement until {@code nanos} have passed or {@code max} raises. */
    private long raiseFor(Irqs irqs, boolean oneshot, long nanos, long max) {
        final long start = System.nanoTime();
        long n = 0;
        while (n < max) {
            for (int i = 0; i < 256 && n < max; i++, n++) {
                if (oneshot) {
                    while (irqs.isMasked(IRQ)) {
                        Thread.onSpinWait();
                    }
                }
                long target = acks + 1;
                irqs.raise(IRQ);
                while (acks < target) {
                    Thread.onSpinWait();
                }
            }
            if (System.nanoTime() - start > nanos) {
                break;
            }
        }
        return n;
    }
}

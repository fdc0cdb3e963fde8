package io.kdefer.bench.irq;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * {@link io.kdefer.bench.support.ThreadMeter} for a hand-off that passes through more than one
 * consumer thread (an interrupt goes through {@code cpu/N} and then, when threaded, through the
 * action's {@code irq/N-name} thread): per iteration, the CPU time and the allocation of every
 * consumer thread and the allocation of the benchmark thread, per operation.
 *
 * <p>All figures are read before anything is printed, so the formatting of the report is not
 * counted in the benchmark thread's allocation. {@link #start} and {@link #stop} must be called
 * on the benchmark thread ({@code Level.Iteration} fixtures of a one-thread benchmark).
 */
final class ThreadsMeter {
    private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

    private final Thread[] consumers;       // F
    private final long[] startCpu;
    private final long[] startBytes;
    private final long[] cpu;
    private final long[] bytes;
    private long startNanos;
    private long startCallerBytes;
    private long startOps;

    ThreadsMeter(Thread... consumers) {
        this.consumers = consumers.clone();
        this.startCpu = new long[consumers.length];
        this.startBytes = new long[consumers.length];
        this.cpu = new long[consumers.length];
        this.bytes = new long[consumers.length];
    }

    /** Marks the start of an iteration; {@code ops} is the operation counter's value now. */
    void start(long ops) {
        startOps = ops;
        startCallerBytes = allocatedBytes(Thread.currentThread());
        for (int i = 0; i < consumers.length; i++) {
            startBytes[i] = allocatedBytes(consumers[i]);
            startCpu[i] = MX.getThreadCpuTime(consumers[i].getId());
        }
        startNanos = System.nanoTime();
    }

    /** Prints the iteration's figures; {@code ops} is the operation counter's value now. */
    void stop(long ops) {
        long wall = System.nanoTime() - startNanos;
        for (int i = 0; i < consumers.length; i++) {
            cpu[i] = MX.getThreadCpuTime(consumers[i].getId()) - startCpu[i];
            bytes[i] = allocatedBytes(consumers[i]) - startBytes[i];
        }
        long callerBytes = allocatedBytes(Thread.currentThread()) - startCallerBytes;
        long n = ops - startOps;
        if (n <= 0) {
            return;
        }
        StringBuilder sb = new StringBuilder(" [");
        for (int i = 0; i < consumers.length; i++) {
            sb.append(String.format("%s: %.1f ns CPU/op, on CPU %.0f%% of the time, %.2f B/op; ",
                    consumers[i].getName(), (double) cpu[i] / n, 100.0 * cpu[i] / wall, (double) bytes[i] / n));
        }
        sb.append(String.format("benchmark thread %.2f B/op]", (double) callerBytes / n));
        System.out.print(sb);
    }

    private static long allocatedBytes(Thread t) {
        if (MX instanceof com.sun.management.ThreadMXBean) {
            return ((com.sun.management.ThreadMXBean) MX).getThreadAllocatedBytes(t.getId());
        }
        return 0;
    }
}

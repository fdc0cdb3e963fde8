package io.kdefer.bench.support;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * Per-iteration diagnostics that JMH's own numbers cannot give on a shared host: the CPU time and
 * the allocation of one consumer thread, and the allocation of the benchmark thread, per
 * operation.
 *
 * <ul>
 *   <li>CPU time per operation tells "slow" from "starved": when other processes take the host's
 *       cores, the wall-clock score drops but the consumer's CPU time per operation does not.</li>
 *   <li>Allocation per thread is exact, where {@code -prof gc} divides the whole JVM's allocation
 *       (JMH's own threads included) by the operation count; at a few thousand operations per
 *       second that background shows up as tens of bytes per operation.</li>
 * </ul>
 * {@link #start} and {@link #stop} must be called on the benchmark thread (JMH runs
 * {@code Level.Iteration} fixtures of a one-thread benchmark there). The report is printed to
 * standard output, which JMH shows next to the iteration's score.
 */
public final class ThreadMeter {
    private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

    private final Thread consumer;
    private long startNanos;
    private long startCpu;
    private long startConsumerBytes;
    private long startCallerBytes;
    private long startOps;

    public ThreadMeter(Thread consumer) {
        this.consumer = consumer;
    }

    /** Marks the start of an iteration; {@code ops} is the operation counter's value now. */
    public void start(long ops) {
        startOps = ops;
        startCallerBytes = allocatedBytes(Thread.currentThread());
        startConsumerBytes = allocatedBytes(consumer);
        startCpu = MX.getThreadCpuTime(consumer.getId());
        startNanos = System.nanoTime();
    }

    /** Prints the iteration's figures; {@code ops} is the operation counter's value now. */
    public void stop(long ops) {
        long wall = System.nanoTime() - startNanos;
        long cpu = MX.getThreadCpuTime(consumer.getId()) - startCpu;
        long consumerBytes = allocatedBytes(consumer) - startConsumerBytes;
        long callerBytes = allocatedBytes(Thread.currentThread()) - startCallerBytes;
        long n = ops - startOps;
        if (n <= 0) {
            return;
        }
        System.out.printf(" [%s: %.1f ns CPU/op, on CPU %.0f%% of the time, %.2f B/op; benchmark thread %.2f B/op]",
                consumer.getName(), (double) cpu / n, 100.0 * cpu / wall,
                (double) consumerBytes / n, (double) callerBytes / n);
    }

    private static long allocatedBytes(Thread t) {
        if (MX instanceof com.sun.management.ThreadMXBean) {
            return ((com.sun.management.ThreadMXBean) MX).getThreadAllocatedBytes(t.getId());
        }
        return 0;
    }
}

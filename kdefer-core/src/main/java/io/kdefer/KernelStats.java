package io.kdefer;

import io.kdefer.internal.Cpu;

/**
 * A snapshot of a kernel's per-CPU counters. Each counter is read individually (not atomically
 * with the others), which is precise once the kernel is quiet.
 */
public final class KernelStats {
    /** The counters kept per CPU. */
    public enum Counter {
        /** Invocations of the softirq loop ({@code handle_softirqs}), inline or in ksoftirqd. */
        SOFTIRQ_INVOCATIONS(Cpu.STAT_INVOCATIONS),
        /** Passes over the pending mask: the first pass plus restarts. */
        SOFTIRQ_PASSES(Cpu.STAT_PASSES),
        /** Invocations that ended with work still pending and woke ksoftirqd. */
        SOFTIRQ_HANDOFFS(Cpu.STAT_HANDOFFS),
        /** Loop invocations made by ksoftirqd (its batches). */
        KSOFTIRQD_BATCHES(Cpu.STAT_KSOFTIRQD_BATCHES),
        /** Times ksoftirqd was actually unparked (elided wake-ups are not counted). */
        KSOFTIRQD_WAKEUPS(Cpu.STAT_KSOFTIRQD_WAKEUPS),
        /** Tasklet callbacks run. */
        TASKLET_RUNS(Cpu.STAT_TASKLET_RUNS),
        /** Tasklets skipped and put back on the list (running elsewhere, or disabled). */
        TASKLET_REQUEUES(Cpu.STAT_TASKLET_REQUEUES),
        /** Functions run by {@code cpu/N} in hardirq context (ticks included). */
        HARDIRQS(Cpu.STAT_IPIS),
        /** Timer ticks handled ({@code ManualClock} ticks, or a tickless CPU waking for a timer). */
        TICKS(Cpu.STAT_TICKS);

        final int index;

        Counter(int index) {
            this.index = index;
        }
    }

    private final long[][] perCpu;
    private final long errors;

    KernelStats(long[][] perCpu, long errors) {
        this.perCpu = perCpu;
        this.errors = errors;
    }

    /** The value of {@code counter} on {@code cpu}. */
    public long get(int cpu, Counter counter) {
        return perCpu[cpu][counter.index];
    }

    /** The sum of {@code counter} over all CPUs. */
    public long total(Counter counter) {
        long sum = 0;
        for (long[] row : perCpu) {
            sum += row[counter.index];
        }
        return sum;
    }

    /** Exceptions thrown by callbacks and handed to the error handler. */
    public long errors() {
        return errors;
    }

    /** A table, one column per CPU. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(String.format("%22s", ""));
        for (int c = 0; c < perCpu.length; c++) {
            sb.append(String.format(" %10s", "CPU" + c));
        }
        sb.append('\n');
        for (Counter k : Counter.values()) {
            sb.append(String.format("%21s:", k.name()));
            for (long[] row : perCpu) {
                sb.append(String.format(" %10d", row[k.index]));
            }
            sb.append('\n');
        }
        sb.append(String.format("%21s: %10d%n", "CALLBACK_ERRORS", errors));
        return sb.toString();
    }
}

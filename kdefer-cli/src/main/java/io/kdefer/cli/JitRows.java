package io.kdefer.cli;

import io.kdefer.Kernel;

/**
 * The rows of a jit table ({@code /proc/jitimer}, {@code /proc/jitasklet}), recorded raw so that a
 * callback costs a few stores (LDD3 formats in the callback; a cold Java formatter would cost more
 * than the jiffies being measured), and formatted with LDD3's column widths afterwards. Rows are
 * added one at a time, never concurrently.
 */
final class JitRows {
    private final long[] jiffies;
    private final int[] inirq;
    private final long[] pid;
    private final int[] cpu;
    private final String[] command;
    private int n;

    JitRows(int capacity) {
        jiffies = new long[capacity];
        inirq = new int[capacity];
        pid = new long[capacity];
        cpu = new int[capacity];
        command = new String[capacity];
    }

    /** Records a row from the calling context and returns its {@code jiffies}. */
    long add(Kernel kernel) {
        Thread t = Thread.currentThread();
        long j = kernel.jiffies();
        jiffies[n] = j;
        inirq[n] = kernel.inInterrupt() ? 1 : 0;
        pid[n] = t.getId();
        cpu[n] = kernel.smpProcessorId();
        command[n] = t.getName();
        n++;
        return j;
    }

    String format() {
        StringBuilder sb = new StringBuilder("   time   delta  inirq    pid   cpu command\n");
        for (int i = 0; i < n; i++) {
            long delta = i == 0 ? 0 : jiffies[i] - jiffies[i - 1];
            sb.append(String.format("%9d  %3d     %d    %6d   %d   %s%n",
                    jiffies[i], delta, inirq[i], pid[i], cpu[i], command[i]));
        }
        return sb.toString();
    }
}

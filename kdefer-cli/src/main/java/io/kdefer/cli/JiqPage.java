package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.wait.WaitQueueHead;

import java.util.function.UnaryOperator;

/**
 * The page one read of a jiq file fills, and the reader's wait for it: the module's
 * {@code struct clientdata} and {@code jiq_wait}.
 *
 * <p>{@link #print()} is the module's {@code jiq_print()}: once the text written so far is longer
 * than {@link #LIMIT}, it prints nothing, wakes the reader and returns false (the deferred function
 * then stops re-submitting itself); otherwise it adds a row (the first call adds the header too)
 * and returns true. Each row shows the jiffies, the jiffies since the previous row (the first row:
 * since the read began), {@code preempt_count()}, the thread's id and CPU, and its name.
 *
 * <p>The row count therefore depends on the bytes of the rows, as in the module: a 4096-byte page
 * takes about 90 rows of {@code events/0} and about 85 of {@code kworker/0:1}. Rows are recorded
 * raw (a few stores per call, where the module formats in the callback: a cold Java formatter would
 * cost more than the jiffies being shown) and their printed length is counted digit by digit, so
 * the page fills exactly as the formatted text would.
 *
 * <p>Calls of {@link #print()} come one at a time from the deferred function, each run ordered
 * after the previous one by the mechanism (queue, schedule or arm happens-before the run); the
 * reader reads the rows after {@link #awaitFull()} returns, which the wake-up orders after them.
 */
final class JiqPage {
    /** {@code PAGE_SIZE}: the buffer of a {@code /proc} read. */
    static final int PAGE_SIZE = 4096;
    /** {@code LIMIT}: the module stops printing once the page holds more than this many bytes. */
    static final int LIMIT = PAGE_SIZE - 128;
    /** The module's header line. */
    static final String HEADER = "    time  delta preempt   pid cpu command";
    /** How long a reader waits for a page before it gives up, on top of the expected time. */
    private static final long GIVE_UP_MILLIS = 30_000;
    /** The shortest row: the fixed columns, a one-character command and the newline. */
    private static final int MIN_ROW = 35 + 1;

    private final Kernel kernel;
    private final UnaryOperator<String> names;
    private final WaitQueueHead wait;   // jiq_wait
    private final long[] jiffies;
    private final long[] delta;
    private final int[] preempt;
    private final long[] pid;
    private final int[] cpu;
    private final String[] command;
    private int n;
    /** Bytes printed so far ({@code data->len}). */
    private int len;
    /** The jiffies of the previous row, or of the start of the read ({@code data->jiffies}). */
    private long prevJiffies;
    /** Set before the reader is woken; volatile because the reader's first check races with it. */
    private volatile boolean full;

    /**
     * A page for one read that starts now: the first row's delta counts from the current jiffies.
     * {@code names} maps a thread's name to the name printed.
     */
    JiqPage(Kernel kernel, UnaryOperator<String> names) {
        this.kernel = kernel;
        this.names = names;
        this.wait = new WaitQueueHead(kernel);
        int capacity = PAGE_SIZE / MIN_ROW + 1;
        jiffies = new long[capacity];
        delta = new long[capacity];
        preempt = new int[capacity];
        pid = new long[capacity];
        cpu = new int[capacity];
        command = new String[capacity];
        prevJiffies = kernel.jiffies();
    }

    /**
     * {@code jiq_print()}: adds a row from the calling context, or, once the page is full, wakes the
     * reader. Returns whether the caller should run again.
     */
    boolean print() {
        long j = kernel.jiffies();
        if (len > LIMIT) {
            wakeReader();
            return false;
        }
        Thread t = Thread.currentThread();
        int p = kernel.preemptCount();
        int c = kernel.smpProcessorId();
        String name = names.apply(t.getName());
        int i = n;
        jiffies[i] = j;
        delta[i] = j - prevJiffies;
        preempt[i] = p;
        pid[i] = t.getId();
        cpu[i] = c;
        command[i] = name;
        n = i + 1;
        len += (len == 0 ? HEADER.length() + 1 : 0) + rowLength(i);
        prevJiffies = j;
        return true;
    }

    /** Wakes the reader with the page as it is (the timer file's {@code wake_up_interruptible}). */
    void wakeReader() {
        full = true;
        wait.wakeUp();
    }

    /**
     * Sleeps on the wait queue until the page is handed over. Task context only. {@code expected}
     * is how many jiffies the deferred function should need; the reader gives up 30 s after that.
     *
     * @throws IllegalStateException if the page did not come in time
     */
    void awaitFull(long expected) {
        long timeout = saturatedAdd(expected, kernel.msecsToJiffies(GIVE_UP_MILLIS));
        if (wait.waitEventTimeout(() -> full, timeout) == 0) {
            throw new IllegalStateException("the page was not filled in " + timeout + " jiffies (" + n + " rows)");
        }
    }

    /** {@code a + b} for non-negative operands, or {@code Long.MAX_VALUE} (no timeout) when it overflows. */
    static long saturatedAdd(long a, long b) {
        long s = a + b;
        return s < 0 ? Long.MAX_VALUE : s;
    }

    /** {@code a * b} for non-negative operands, or {@code Long.MAX_VALUE} when it overflows. */
    static long saturatedMultiply(long a, long b) {
        return Math.multiplyHigh(a, b) != 0 || a * b < 0 ? Long.MAX_VALUE : a * b;
    }

    /** The jiffies of the last row (of the start of the read before the first row). */
    long lastJiffies() {
        return prevJiffies;
    }

    /** Rows printed so far. */
    int rows() {
        return n;
    }

    /** Bytes printed so far, header included ({@code data->len}). */
    int length() {
        return len;
    }

    /** The page: the header and one line per row, as the module formats them. */
    String format() {
        StringBuilder sb = new StringBuilder(Math.max(len, 64));
        if (n > 0) {
            sb.append(HEADER).append('\n');
        }
        for (int i = 0; i < n; i++) {
            sb.append(String.format("%9d  %4d     %3d %5d %3d %s", jiffies[i], delta[i], preempt[i], pid[i],
                    cpu[i], command[i])).append('\n');
        }
        return sb.toString();
    }

    /** The bytes of row {@code i} as {@link #format()} prints it, newline included. */
    private int rowLength(int i) {
        return width(jiffies[i], 9) + 2 + width(delta[i], 4) + 5 + width(preempt[i], 3) + 1
                + width(pid[i], 5) + 1 + width(cpu[i], 3) + 1 + command[i].length() + 1;
    }

    /** The characters of {@code v} printed with {@code %<min>d}. */
    static int width(long v, int min) {
        int digits = v < 0 ? 2 : 1;
        for (long a = Math.abs(v / 10); a != 0; a /= 10) {
            digits++;
        }
        return Math.max(digits, min);
    }

    /** A thread's own name: what {@code current->comm} shows today. */
    static String sameName(String name) {
        return name;
    }

    /**
     * The name a 2.6 kernel (LDD3's) gave the thread: a per-CPU worker of the normal pool,
     * {@code kworker/N:M} today, was the workqueue's own thread {@code events/N} then. Other names
     * are kept: {@code ksoftirqd/N} had that name already, and the high-priority, unbound and BH
     * workers have no 2.6 counterpart.
     */
    static String legacyName(String name) {
        if (!name.startsWith("kworker/")) {
            return name;
        }
        int colon = name.indexOf(':', 8);
        if (colon <= 8 || colon == name.length() - 1 || !allDigits(name, 8, colon)
                || !allDigits(name, colon + 1, name.length())) {
            return name;
        }
        return "events/" + name.substring(8, colon);
    }

    private static boolean allDigits(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            char ch = s.charAt(i);
            if (ch < '0' || ch > '9') {
                return false;
            }
        }
        return true;
    }
}

package io.kdefer.bench.timer;

import io.kdefer.IdleStrategy;
import io.kdefer.testkit.TestKernels;
import io.kdefer.Kernel;
import io.kdefer.TimerClosePolicy;
import io.kdefer.timer.KernelTimer;

import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The timer population shared by the timer benchmarks, so that every subject carries the same load.
 *
 * <p>Time is counted in milliseconds for every subject: the kdefer kernel runs at HZ=1000, so one
 * jiffy is one millisecond, and Agrona's wheel is built with a 1 ms tick.
 *
 * <ul>
 *   <li>The <em>other</em> timers (the ones that stay outstanding while a benchmark measures one
 *       more) have delays drawn uniformly from {@code [1, SPAN_MS)} with a fixed seed. With
 *       {@code SPAN_MS} = 2^22 ms (about 70 minutes) they land on levels 0 to 6 of the kdefer
 *       wheel; for a million of them that is 10 on level 0, 84 on level 1, 811 on level 2, 6,648 on
 *       level 3, 54,010 on level 4, 430,195 on level 5 and 508,242 on level 6 (for 10,000: none on
 *       level 0). On a single-level wheel they spread evenly over the spokes.</li>
 *   <li>The measured timer is armed either at {@link #MEASURED_DELAY_MS}, the median of that
 *       distribution (level 6 of the kdefer wheel; in the middle of a heap's order), or at delay
 *       0 (level 0; before every other timer, so a heap must move it to its root): see
 *       {@link #measuredDelay}. Both land on spoke 0 of the Agrona wheel used here.</li>
 *   <li>Subjects that run on the real clock (the JDK executor, Netty's wheel) get every delay
 *       shifted by {@link #REAL_CLOCK_OFFSET_MS}: nothing of the population expires while a fork
 *       runs, so the number of outstanding timers stays what the parameter says. The shift
 *       keeps the order of the deadlines and therefore the shape of the heap.</li>
 * </ul>
 */
final class TimerWorkload {
    /** Width of the delay distribution of the other timers, in ms (= jiffies at HZ=1000). */
    static final long SPAN_MS = 1L << 22;
    /** Delay of the measured timer at its median position. */
    static final long MEASURED_DELAY_MS = SPAN_MS / 2;
    /** Added to every delay of the subjects that run on the real clock. */
    static final long REAL_CLOCK_OFFSET_MS = 15L * 60 * 1000;
    /** The kdefer kernel's HZ: 1000, so that a jiffy is a millisecond. */
    static final int HZ = 1000;
    private static final long SEED = 0x7F4A7C15L;

    /** The callback of every kdefer timer that is never meant to fire. */
    static final Consumer<KernelTimer> NEVER_FIRES = t -> {
        throw new AssertionError("a timer of the benchmark population fired: " + t);
    };

    private TimerWorkload() {
    }

    /**
     * Delay of the measured timer for a benchmark's {@code at} parameter: {@code "median"} puts it
     * in the middle of the population, {@code "earliest"} (delay 0) before every other timer.
     */
    static long measuredDelay(String at) {
        switch (at) {
            case "median":
                return MEASURED_DELAY_MS;
            case "earliest":
                return 0;
            default:
                throw new IllegalArgumentException("at must be median or earliest: " + at);
        }
    }

    /** The delays (ms, in {@code [1, SPAN_MS)}) of {@code n} other timers; the same for every subject. */
    static long[] otherDelays(int n) {
        SplittableRandom random = new SplittableRandom(SEED);
        long[] delays = new long[n];
        for (int i = 0; i < n; i++) {
            delays[i] = 1 + random.nextLong(SPAN_MS - 1);
        }
        return delays;
    }

    /**
     * A one-CPU kernel on a manual clock ({@link TestKernels#clock}) that the caller ticks (or
     * never ticks), with the given idle strategy. Its error handler ignores what it is given, so
     * that a timer still armed at close is not logged.
     */
    static Kernel manualKernel(IdleStrategy idle) {
        return TestKernels.manual(1, (source, error) -> { })
                .hz(HZ)
                .idleStrategy(idle)
                .timersOnClose(TimerClosePolicy.REPORT)
                .build();
    }

    /** Sets up {@code delays.length} kdefer timers on the caller's CPU and arms each at now + its delay. */
    static KernelTimer[] armKdefer(Kernel kernel, long[] delays) {
        long now = kernel.jiffies();
        KernelTimer[] timers = new KernelTimer[delays.length];
        for (int i = 0; i < delays.length; i++) {
            KernelTimer t = KernelTimer.setup(kernel, NEVER_FIRES);
            t.mod(now + delays[i]);
            timers[i] = t;
        }
        return timers;
    }

    /** Deletes every timer, then closes the kernel. */
    static void closeKdefer(Kernel kernel, KernelTimer[] timers) {
        if (kernel == null) {
            return;
        }
        if (timers != null) {
            for (KernelTimer t : timers) {
                if (t != null) {
                    t.delete();
                }
            }
        }
        kernel.close();
    }
}

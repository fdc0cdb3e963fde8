package io.kdefer;

/**
 * Where a kernel's {@code jiffies} come from: {@link #system()} (real time at the kernel's HZ) or
 * a {@link ManualClock} that tests advance tick by tick.
 *
 * <p>{@code jiffies} start at {@code INITIAL_JIFFIES} = {@code (unsigned int)(-300 * HZ)}, as in
 * {@code include/linux/jiffies.h}: the low 32 bits wrap five minutes after boot, so code that
 * compares jiffies without the wrap-safe helpers fails early.
 *
 * <p>A clock serves one kernel: it is bound when the kernel is built.
 */
public abstract class Clock {
    private int hz;
    private long initialJiffies;

    Clock() {
    }

    /** Real time: {@code jiffies} advance HZ times per second from the moment the kernel starts. */
    public static Clock system() {
        return new SystemClock();
    }

    /** {@code INITIAL_JIFFIES} for a given HZ. */
    public static long initialJiffies(int hz) {
        return (-300L * hz) & 0xFFFF_FFFFL;
    }

    /** The current value of {@code jiffies}. */
    public abstract long jiffies();

    /** HZ of the kernel this clock serves (0 before it is bound). */
    public final int hz() {
        return hz;
    }

    final long initialJiffiesValue() {
        return initialJiffies;
    }

    /** Binds the clock to a kernel; once only. */
    void bind(int hz, Runnable tickHook) {
        if (this.hz != 0) {
            throw new IllegalStateException("this clock already serves a kernel; give each kernel its own clock");
        }
        this.hz = hz;
        this.initialJiffies = initialJiffies(hz);
        onBind(tickHook);
    }

    abstract void onBind(Runnable tickHook);

    /**
     * The {@link System#nanoTime()} at which {@code jiffies} reaches {@code j}, for an idle CPU that
     * must wake up to expire a timer; {@code 0} when the clock does not move by itself (a
     * {@link ManualClock} delivers its ticks).
     */
    public long nanoTimeOf(long j) {
        return 0;
    }

    /** Real time at HZ. */
    static final class SystemClock extends Clock {
        private long startNanos;
        /** Nanoseconds per jiffy when HZ divides 10^9 (100, 250, 1000), else 0. */
        private long nanosPerJiffy;

        @Override
        void onBind(Runnable tickHook) {
            startNanos = System.nanoTime();
            nanosPerJiffy = 1_000_000_000L % hz() == 0 ? 1_000_000_000L / hz() : 0;
        }

        @Override
        public long nanoTimeOf(long j) {
            long ticks = j - initialJiffiesValue();
            long hz = hz();
            long t = startNanos + (ticks / hz) * 1_000_000_000L + (ticks % hz) * 1_000_000_000L / hz;
            return t == 0 ? 1 : t;
        }

        @Override
        public long jiffies() {
            long elapsed = System.nanoTime() - startNanos;
            long npj = nanosPerJiffy;
            if (npj != 0) {
                return initialJiffiesValue() + elapsed / npj;
            }
            long hz = hz();
            return initialJiffiesValue() + (elapsed / 1_000_000_000L) * hz
                    + (elapsed % 1_000_000_000L) * hz / 1_000_000_000L;
        }
    }
}

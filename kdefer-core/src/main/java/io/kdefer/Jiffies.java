package io.kdefer;

/**
 * Jiffies arithmetic from {@code include/linux/jiffies.h}: wrap-safe comparisons and conversions.
 *
 * <p>{@code jiffies} is a {@code long} that starts at {@link #initialJiffies(int)}, 5 minutes
 * before the low 32 bits wrap. Compare jiffies only with the helpers here: they compare the
 * signed difference, which stays right across a wrap of the counter.
 */
public final class Jiffies {
    /** {@code MAX_JIFFY_OFFSET}: what conversions of durations too long to represent give. */
    public static final long MAX_JIFFY_OFFSET = (Long.MAX_VALUE >> 1) - 1;

    /** {@code MAX_SCHEDULE_TIMEOUT}: sleep without a timeout. */
    public static final long MAX_SCHEDULE_TIMEOUT = Long.MAX_VALUE;

    private Jiffies() {
    }

    /** {@code INITIAL_JIFFIES}: {@code (unsigned long)(unsigned int)(-300 * HZ)}. */
    public static long initialJiffies(int hz) {
        return Clock.initialJiffies(hz);
    }

    /** {@code time_after(a, b)}: true if {@code a} is after {@code b}. */
    public static boolean timeAfter(long a, long b) {
        return b - a < 0;
    }

    /** {@code time_before(a, b)}: true if {@code a} is before {@code b}. */
    public static boolean timeBefore(long a, long b) {
        return a - b < 0;
    }

    /** {@code time_after_eq(a, b)}. */
    public static boolean timeAfterEq(long a, long b) {
        return a - b >= 0;
    }

    /** {@code time_before_eq(a, b)}. */
    public static boolean timeBeforeEq(long a, long b) {
        return b - a >= 0;
    }

    /** {@code time_in_range(a, b, c)}: {@code b <= a <= c}, wrap-safe. */
    public static boolean timeInRange(long a, long b, long c) {
        return timeAfterEq(a, b) && timeBeforeEq(a, c);
    }

    /** {@code time_after32}/{@code time_before32} semantics on the low 32 bits of two jiffies values. */
    public static boolean timeAfter32(long a, long b) {
        return (int) b - (int) a < 0;
    }

    /**
     * {@code msecs_to_jiffies(m)} at {@code hz}: rounds up; durations too long to represent give
     * {@link #MAX_JIFFY_OFFSET}; negative values give 0 (the kernel treats them as infinite: see
     * docs/deviations.md).
     */
    public static long msecsToJiffies(long ms, int hz) {
        return toJiffies(ms, 1000, hz);
    }

    /** {@code usecs_to_jiffies(u)} at {@code hz}: rounds up, clamps like {@link #msecsToJiffies}. */
    public static long usecsToJiffies(long us, int hz) {
        return toJiffies(us, 1_000_000, hz);
    }

    private static long toJiffies(long v, long per, int hz) {
        if (v <= 0) {
            return 0;
        }
        long q = v / per;
        long r = v % per;
        if (q > MAX_JIFFY_OFFSET / hz) {
            return MAX_JIFFY_OFFSET;
        }
        return q * hz + (r * hz + per - 1) / per;
    }

    /** {@code jiffies_to_msecs(j)} at {@code hz}: exact when HZ divides 1000, rounded up otherwise. */
    public static long jiffiesToMsecs(long j, int hz) {
        if (1000 % hz == 0) {
            return j * (1000 / hz);
        }
        return (j * 1000 + hz - 1) / hz;
    }

    /** {@code jiffies_to_usecs(j)} at {@code hz}. */
    public static long jiffiesToUsecs(long j, int hz) {
        if (1_000_000 % hz == 0) {
            return j * (1_000_000 / hz);
        }
        return j * 1_000_000 / hz;   // the kernel truncates here (unlike jiffies_to_msecs)
    }

    /**
     * {@code round_jiffies(j)} for {@code cpu} at {@code hz}: rounds an absolute time to a whole
     * second so that timers of many subsystems expire together, skewed by 3 jiffies per CPU so that
     * CPUs do not all wake at once. Rounds down when {@code j} is within the first quarter second
     * ({@code __round_jiffies(j, cpu, false)}); never returns a time in the past relative to
     * {@code now}: it then returns {@code j} unchanged.
     */
    public static long roundJiffies(long j, int cpu, int hz, long now) {
        return round(j, cpu, hz, now, false);
    }

    /** {@code round_jiffies_up(j)}: as {@link #roundJiffies} but never rounds down. */
    public static long roundJiffiesUp(long j, int cpu, int hz, long now) {
        return round(j, cpu, hz, now, true);
    }

    private static long round(long j, int cpu, int hz, long now, boolean forceUp) {
        long original = j;
        j += cpu * 3L;
        long rem = Math.floorMod(j, (long) hz);
        if (rem < hz / 4 && !forceUp) {
            j = j - rem;
        } else {
            j = j - rem + hz;
        }
        j -= cpu * 3L;
        return timeAfter(j, now) ? j : original;
    }
}

package io.kdefer;

import java.time.Duration;
import java.util.Objects;

/**
 * What a kdefer thread ({@code cpu/N}, {@code ksoftirqd/N}) does when it has nothing to do.
 *
 * <ul>
 *   <li>{@link #park()} (the default): park at once; a wake-up costs one {@code unpark} (several
 *       microseconds on Linux), and an idle CPU uses no host CPU time.</li>
 *   <li>{@link #spin()}: busy-wait with {@link Thread#onSpinWait()} for a while (50 µs by default)
 *       before parking. Hand-offs that arrive while spinning cost a cache-line transfer instead of
 *       a wake-up, and wakers skip the {@code unpark}. Burns a host core per spinning thread:
 *       opt in only when the host has cores to spare.</li>
 * </ul>
 * Either way the thread parks in the end: an idle virtual CPU is tickless.
 */
public final class IdleStrategy {
    private static final IdleStrategy PARK = new IdleStrategy(0);
    private static final IdleStrategy SPIN = new IdleStrategy(50_000);

    private final long spinNanos;

    private IdleStrategy(long spinNanos) {
        this.spinNanos = spinNanos;
    }

    /** Park as soon as there is nothing to do. */
    public static IdleStrategy park() {
        return PARK;
    }

    /** Spin for 50 µs, then park. */
    public static IdleStrategy spin() {
        return SPIN;
    }

    /** Spin for {@code spinFor}, then park. */
    public static IdleStrategy spin(Duration spinFor) {
        Objects.requireNonNull(spinFor, "spinFor");
        if (spinFor.isNegative()) {
            throw new IllegalArgumentException("spin time must not be negative: " + spinFor);
        }
        return new IdleStrategy(spinFor.toNanos());
    }

    /** How long an idle thread spins before it parks, in nanoseconds. */
    public long spinNanos() {
        return spinNanos;
    }

    @Override
    public String toString() {
        return spinNanos == 0 ? "park" : "spin(" + spinNanos + "ns)";
    }
}

package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import org.HdrHistogram.Histogram;

import java.util.Random;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * The simulated device of the shootout: it raises an interrupt line at a set mean rate (Poisson
 * arrivals drawn from a seeded random source), each event carrying its raise time through an
 * {@link EventRing}; its bottom half ({@link #bottomHalf()}) takes the events, records raise to
 * pick-up latency in a histogram, and spends a set CPU cost on each.
 *
 * <p>The device runs on the thread that calls {@link #run}; it starts no thread. A full ring
 * drops the event (counted) and does not raise the line.
 */
final class Device {
    /** Events the ring holds; a backlog this deep is already a failure to keep up. */
    static final int RING = 8192;
    /** A device more than this far behind its schedule gives up the missed slots (counted as device-limited). */
    private static final long MAX_LAG_NANOS = 5_000_000;

    private final Kernel kernel;
    private final int irq;
    private final long costNanos;
    private final Random random;
    private final EventRing ring = new EventRing(RING);
    private final LongAdder handled = new LongAdder();
    private volatile Histogram latency = Latency.histogram();
    private long dropped;
    private long skipped;
    private long offered;   // events put in the ring, ever (the device's thread)

    Device(Kernel kernel, int irq, long costNanos, long seed) {
        this.kernel = kernel;
        this.irq = irq;
        this.costNanos = costNanos;
        this.random = new Random(seed);
    }

    /** The bottom half: drains every waiting event. */
    Runnable bottomHalf() {
        return () -> {
            Histogram h = latency;
            long s;
            while ((s = ring.poll()) != EventRing.EMPTY) {
                h.recordValue(Math.max(0, System.nanoTime() - s));
                Burn.nanos(costNanos);
                handled.increment();
            }
        };
    }

    /** Result of one {@link #run}. */
    static final class Run {
        final long raised;
        final long dropped;
        final long skipped;
        final long nanos;
        final long backlogAtEnd;

        Run(long raised, long dropped, long skipped, long nanos, long backlogAtEnd) {
            this.raised = raised;
            this.dropped = dropped;
            this.skipped = skipped;
            this.nanos = nanos;
            this.backlogAtEnd = backlogAtEnd;
        }

        /** Events per second the device actually raised. */
        double achievedRate() {
            return raised * 1e9 / Math.max(1, nanos);
        }
    }

    /** Raises events at {@code ratePerSecond} for {@code nanos}; returns what happened. */
    Run run(double ratePerSecond, long nanos, Progress progress, String label) {
        double mean = 1e9 / ratePerSecond;
        long start = System.nanoTime();
        long end = start + nanos;
        long next = start;
        long raised = 0;
        long drop0 = dropped;
        long skip0 = skipped;
        while (true) {
            next += (long) (-Math.log(1 - random.nextDouble()) * mean);
            if (next - end >= 0) {
                break;
            }
            Burn.until(next);
            long now = System.nanoTime();
            if (now - next > MAX_LAG_NANOS) {
                skipped++;
                next = now;
            }
            if (ring.offer(now)) {
                kernel.irqs().raise(irq);
                raised++;
                offered++;
            } else {
                dropped++;
            }
            if ((raised & 255) == 0) {
                progress.update(label);
            }
        }
        Burn.until(end);
        return new Run(raised, dropped - drop0, skipped - skip0, System.nanoTime() - start, ring.backlog());
    }

    /**
     * Waits (parking 1 ms at a time) until the bottom half has handled every event the ring took
     * (recorded and paid for it, not only taken it out), at most {@code timeoutNanos}; true if it did.
     */
    boolean awaitDrained(long timeoutNanos) {
        long end = System.nanoTime() + timeoutNanos;
        while (handled.sum() < offered) {
            if (System.nanoTime() - end > 0) {
                return false;
            }
            LockSupport.parkNanos(1_000_000);
        }
        return true;
    }

    /**
     * The latencies recorded since the previous call, and a fresh histogram for what follows. Call
     * when drained (no bottom half is recording): a phase's histogram then holds that phase's
     * events only, whatever later phases record.
     */
    Histogram takeLatency() {
        Histogram h = latency;
        latency = Latency.histogram();
        return h;
    }

    long handled() {
        return handled.sum();
    }
}

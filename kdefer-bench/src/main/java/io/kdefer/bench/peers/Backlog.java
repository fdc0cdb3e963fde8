package io.kdefer.bench.peers;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A bound on the tasks handed to an executor and not yet run, so that a throughput benchmark of
 * {@code execute()} measures a steady state instead of growing the executor's queue for the whole
 * iteration.
 *
 * <p>A producer calls {@link #acquire()} before each {@code execute}; the task it submits is
 * {@link #completion()}, which gives the slot back. When the limit is reached the producer yields
 * until the consumer catches up: yielding rather than parking keeps the consumer's wake-ups out
 * of the producer's path, and rather than spinning leaves the host core to the consumer when
 * producers and consumer outnumber the cores. Several producers may overshoot the limit by one
 * each; the bound stays finite, which is all it is for.
 */
public final class Backlog {
    private final AtomicLong inFlight = new AtomicLong();   // A: submitted and not yet run
    private final long limit;                               // F
    private final Runnable completion = inFlight::decrementAndGet;   // F: the trivial task

    public Backlog(long limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        this.limit = limit;
    }

    /** Waits (yielding) while the limit is reached, then takes one slot. */
    public void acquire() {
        while (inFlight.get() >= limit) {
            Thread.yield();
        }
        inFlight.incrementAndGet();
    }

    /** The task to submit: it gives one slot back when it runs. Allocated once. */
    public Runnable completion() {
        return completion;
    }

    /** Tasks submitted and not yet run. */
    public long inFlight() {
        return inFlight.get();
    }
}

package io.kdefer.cli.lab;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The simulated device's event queue: the raise time of each event not yet handled, in order. One
 * producer (the device thread); consumers are the bottom half's runs, which a mechanism may move
 * from CPU to CPU, so taking is safe for several consumers.
 *
 * <p>Protocol. {@code tail} (W: producer only, read by consumers with volatile semantics) counts
 * events offered, {@code head} (A: CAS by consumers) events taken. The producer writes the slot,
 * then publishes it by raising {@code tail}; a consumer reads the slot at {@code head} before it
 * claims it by CAS, and the producer never writes a slot until {@code head} has passed it, so the
 * value read is the one published.
 */
final class EventRing {
    static final long EMPTY = Long.MIN_VALUE;

    private final AtomicLongArray slots;
    private final int mask;
    private final AtomicLong head = new AtomicLong();
    private final AtomicLong tail = new AtomicLong();

    EventRing(int capacityPowerOfTwo) {
        if (Integer.bitCount(capacityPowerOfTwo) != 1) {
            throw new IllegalArgumentException("capacity must be a power of two: " + capacityPowerOfTwo);
        }
        slots = new AtomicLongArray(capacityPowerOfTwo);
        mask = capacityPowerOfTwo - 1;
    }

    /** Producer only: appends {@code stamp}; false when the ring is full. */
    boolean offer(long stamp) {
        long t = tail.get();
        if (t - head.get() > mask) {
            return false;
        }
        slots.set((int) (t & mask), stamp);
        tail.set(t + 1);
        return true;
    }

    /** Takes the oldest stamp, or {@link #EMPTY}. */
    long poll() {
        while (true) {
            long h = head.get();
            if (h == tail.get()) {
                return EMPTY;
            }
            long v = slots.get((int) (h & mask));
            if (head.compareAndSet(h, h + 1)) {
                return v;
            }
        }
    }

    /** Events offered and not yet taken. */
    long backlog() {
        return tail.get() - head.get();
    }
}

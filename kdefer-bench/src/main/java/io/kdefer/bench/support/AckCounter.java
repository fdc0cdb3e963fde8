package io.kdefer.bench.support;

/**
 * The acknowledgement counter every consumer bumps and the benchmark thread spins on, alone on
 * its cache line: 56 bytes of padding on each side (in a superclass and in this class, because
 * the JVM puts a superclass's fields before a subclass's but orders a class's own fields as it
 * likes). It is the measuring instrument, so it must not share a line with fields the benchmark
 * thread or the consumer write for other reasons, whose placement changes from one JVM to the
 * next.
 *
 * <p>One writer at a time: the consumer that serves the hand-off. Without the padding, a
 * latency benchmark here stepped between two levels from one fork to the next (a spinning
 * tasklet hand-off at about 0.3 or about 1.1 µs).
 */
public final class AckCounter extends AckCounterValue {
    long p11, p12, p13, p14, p15, p16, p17;

    /** Number of acknowledgements so far. */
    public long get() {
        return value;
    }

    /** One more acknowledgement; called by the single consumer. */
    public void bump() {
        value = value + 1;
    }
}

/** The padding before the counter. */
abstract class AckCounterHead {
    long p01, p02, p03, p04, p05, p06, p07;
}

/** The counter itself, after the head padding. */
abstract class AckCounterValue extends AckCounterHead {
    volatile long value;   // A: written by the consumer only
}

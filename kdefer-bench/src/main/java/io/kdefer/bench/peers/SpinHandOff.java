package io.kdefer.bench.peers;

/**
 * The fastest hand-off two threads can make: a partner thread busy-spins on a request counter
 * and acknowledges each request by publishing it to a second counter. A lower bound for any
 * executor whose consumer is awake when the work arrives.
 *
 * <p>One requester at a time. {@link #request()} returns the number the partner will publish in
 * {@link #served()} once it has seen the request.
 */
public final class SpinHandOff implements AutoCloseable {
    private volatile long requested;   // A: written by the requester
    private volatile long served;      // A: written by the partner
    private volatile boolean stop;     // A
    private final Thread partner;      // F

    public SpinHandOff() {
        partner = new Thread(this::serve, "spin-hand-off");
        partner.setDaemon(true);
        partner.start();
    }

    /** Publishes the next request; returns its number. */
    public long request() {
        long r = requested + 1;
        requested = r;
        return r;
    }

    /** The last request the partner has acknowledged. */
    public long served() {
        return served;
    }

    /** The partner thread. */
    public Thread partner() {
        return partner;
    }

    private void serve() {
        long seen = 0;
        while (!stop) {
            long r = requested;
            if (r != seen) {
                seen = r;
                served = r;
            } else {
                Thread.onSpinWait();
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        partner.join();
    }
}

package io.kdefer.bench.peers;

import java.util.concurrent.locks.LockSupport;

/**
 * A hand-off to a parked thread: the partner parks until it is given a request; the requester
 * publishes the request and unparks it. The cost of one {@code LockSupport.unpark} wake-up, the
 * lower bound for any executor whose consumer sleeps when the work arrives.
 *
 * <p>One requester at a time. {@link #request()} returns the number the partner will publish in
 * {@link #served()} once it has woken and seen the request. An unpark that lands before the
 * partner parks leaves a permit, so no request is lost.
 */
public final class ParkHandOff implements AutoCloseable {
    private volatile long requested;   // A: written by the requester
    private volatile long served;      // A: written by the partner
    private volatile boolean stop;     // A
    private final Thread partner;      // F

    public ParkHandOff() {
        partner = new Thread(this::serve, "park-hand-off");
        partner.setDaemon(true);
        partner.start();
    }

    /** Publishes the next request and wakes the partner; returns the request's number. */
    public long request() {
        long r = requested + 1;
        requested = r;
        LockSupport.unpark(partner);
        return r;
    }

    /** The last request the partner has acknowledged. */
    public long served() {
        return served;
    }

    /** The partner thread, so a benchmark can wait until it is parked. */
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
                LockSupport.park(this);
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        LockSupport.unpark(partner);
        partner.join();
    }
}

package io.kdefer.cli.lab;

/** Spends CPU time in the calling thread: the cost of one event's bottom half. */
final class Burn {
    private Burn() {
    }

    /** Spins until {@code nanos} have passed (returns at once for 0 or less). Always ends. */
    static void nanos(long nanos) {
        if (nanos <= 0) {
            return;
        }
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
        }
    }

    /**
     * Waits until {@code deadline} ({@link System#nanoTime()} time): parks while more than 80 us
     * remain, then spins the rest, so that a device can keep a rate of tens of thousands of events
     * per second without a thread parked past its slot.
     */
    static void until(long deadline) {
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            if (left > 80_000) {
                java.util.concurrent.locks.LockSupport.parkNanos(left - 60_000);
            } else {
                Thread.onSpinWait();
            }
        }
    }
}

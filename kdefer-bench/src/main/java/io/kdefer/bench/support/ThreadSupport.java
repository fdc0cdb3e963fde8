package io.kdefer.bench.support;

import io.netty.util.concurrent.EventExecutor;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** Small utilities the benchmarks share: naming and finding threads, waiting for them, shutting down. */
public final class ThreadSupport {
    private ThreadSupport() {
    }

    /** A factory for one daemon thread with the given name; the thread is kept in {@code made}. */
    public static ThreadFactory single(String name, AtomicReference<Thread> made) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            if (!made.compareAndSet(null, t)) {
                throw new IllegalStateException("factory for " + name + " asked for a second thread");
            }
            return t;
        };
    }

    /** The live thread with this exact name; fails when there is none or more than one. */
    public static Thread named(String name) {
        Thread found = null;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals(name)) {
                if (found != null) {
                    throw new IllegalStateException("two live threads named " + name);
                }
                found = t;
            }
        }
        if (found == null) {
            throw new IllegalStateException("no live thread named " + name);
        }
        return found;
    }

    /**
     * How long a consumer must have stayed parked before a sample starts. A thread reports
     * {@code WAITING} as it enters {@code LockSupport.park}, before the OS puts it to sleep; an
     * {@code unpark} in that window finds it still running, and on this host such a "wake-up"
     * took 0.6 µs against about 4 µs for a thread that had just gone idle and 20 µs for one that
     * was really asleep. Waiting this long makes every sample wake a sleeping thread.
     */
    public static final long ASLEEP_NANOS = 20_000;

    /**
     * Spins until {@code t} has been parked or waiting (its consumer loop went idle) for
     * {@link #ASLEEP_NANOS} without a break. Fails if the thread has ended, which would otherwise
     * spin forever.
     */
    public static void awaitIdle(Thread t) {
        long idleSince = 0;
        for (;;) {
            Thread.State s = t.getState();
            if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING) {
                long now = System.nanoTime();
                if (idleSince == 0) {
                    idleSince = now;
                } else if (now - idleSince >= ASLEEP_NANOS) {
                    return;
                }
                Thread.onSpinWait();
                continue;
            }
            idleSince = 0;
            if (s == Thread.State.TERMINATED) {
                throw new IllegalStateException(t.getName() + " has terminated");
            }
            Thread.onSpinWait();
        }
    }

    /** Shuts {@code executor} down and waits for it; fails if it does not end within 10 s. */
    public static void shutdown(ExecutorService executor) throws InterruptedException {
        executor.shutdown();
        if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("executor did not terminate: " + executor);
        }
    }

    /** Shuts a Netty executor down (no quiet period) and waits for it. */
    public static void shutdown(EventExecutor executor) throws InterruptedException {
        if (!executor.shutdownGracefully(0, 10, TimeUnit.SECONDS).await(15, TimeUnit.SECONDS)) {
            throw new IllegalStateException("event loop did not terminate: " + executor);
        }
    }
}

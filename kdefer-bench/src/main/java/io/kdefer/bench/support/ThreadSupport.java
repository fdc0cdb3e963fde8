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
     * Spins until {@code t} is parked or waiting (its consumer loop went idle). Fails if the thread
     * has ended, which would otherwise spin forever.
     */
    public static void awaitIdle(Thread t) {
        for (;;) {
            Thread.State s = t.getState();
            if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING) {
                return;
            }
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

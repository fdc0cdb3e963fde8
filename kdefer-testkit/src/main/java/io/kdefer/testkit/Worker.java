package io.kdefer.testkit;

/**
 * A thread a test starts to make a blocking call (a {@code kill()}, a {@code close()}, a tick).
 * What its body throws is kept, and handed back by {@link #joinFailure()} or rethrown by
 * {@link #joinAndCheck()}; every join is bounded by {@link Waits#HANG_GUARD_SECONDS}. A daemon, so
 * that a broken kernel cannot keep the test JVM alive; still, every worker a test starts must be
 * joined, in a {@code finally} ({@link #joinQuietly}) when the test can fail before it does.
 */
public final class Worker extends Thread {
    /** A body that may throw anything. */
    @FunctionalInterface
    public interface Body {
        void run() throws Exception;
    }

    private final Body body;
    private volatile Throwable failure;

    /** A worker that is not started yet. */
    public Worker(String name, Body body) {
        super(name);
        this.body = body;
        setDaemon(true);
    }

    /** Creates and starts a worker. */
    public static Worker start(String name, Body body) {
        Worker w = new Worker(name, body);
        w.start();
        return w;
    }

    @Override
    public void run() {
        try {
            body.run();
        } catch (Throwable t) {
            failure = t;
        }
    }

    /** Joins (bounded by the hang guard; fails if the worker does not end) and returns what the body threw, or null. */
    public Throwable joinFailure() {
        Waits.join(this);
        return failure;
    }

    /** Joins and rethrows what the body threw. */
    public void joinAndCheck() {
        Throwable t = joinFailure();
        if (t != null) {
            throw new AssertionError(getName() + " failed", t);
        }
    }

    /** For finally blocks: joins {@code w} if it was created, without checking its outcome. */
    public static void joinQuietly(Worker w) {
        if (w == null) {
            return;
        }
        try {
            w.join(java.util.concurrent.TimeUnit.SECONDS.toMillis(Waits.HANG_GUARD_SECONDS));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

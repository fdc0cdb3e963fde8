package io.kdefer.tasklet;

import io.kdefer.Kernel;
import io.kdefer.KernelStats;
import io.kdefer.ManualClock;
import io.kdefer.TestKernels;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * A kernel for one tasklet test, with a {@link ManualClock} (time moves only when a test ticks it)
 * and an error handler that records what callbacks threw.
 *
 * <p>The constructor returns once every {@code cpu/N} and {@code ksoftirqd/N} thread of the new
 * kernel is parked ({@link TestKernels#start}). Without that, a {@code ksoftirqd} that has just
 * started could see a vector raised by a test's hardirq and take the CPU's bottom halves before
 * that hardirq's {@code irq_exit}, which would make "runs at irq_exit on {@code cpu/N}" a race.
 *
 * <p>{@link #close()} closes the kernel (idempotent) and then fails if a callback reported an
 * error the test did not take with {@link #takeErrors()}.
 */
final class TaskletHarness implements AutoCloseable {
    /**
     * Bound on every blocking wait in these tests. It only turns a hang into a failure: a passing
     * run never comes near it, and no assertion depends on how long anything took.
     */
    static final long HANG_GUARD_SECONDS = 30;

    /** One call of the error handler. */
    record Reported(Object source, Throwable error) {
    }

    /** A test body that may throw anything. */
    @FunctionalInterface
    interface Body {
        void run() throws Exception;
    }

    final ManualClock clock = new ManualClock();
    final Kernel kernel;
    private final Queue<Reported> errors = new ConcurrentLinkedQueue<>();

    TaskletHarness(int cpus) {
        this(cpus, false);
    }

    TaskletHarness(int cpus, boolean faithful) {
        this.kernel = TestKernels.start(Kernel.builder()
                .cpus(cpus)
                .hz(1000)
                .clock(clock)
                .faithful(faithful)
                .errorHandler((source, error) -> errors.add(new Reported(source, error))));
    }

    // ---------------------------------------------------------------- running code on a CPU

    /** Runs {@code body} in task context on {@code cpu} (bottom halves enabled), on this thread. */
    void onCpu(int cpu, Body body) {
        kernel.workOnCpu(cpu, () -> {
            body.run();
            return null;
        });
    }

    /**
     * Runs {@code body} on {@code cpu} with bottom halves disabled; the softirqs it raises run on
     * this thread inside the closing {@code localBhEnable()}, before this method returns.
     */
    void bhSection(int cpu, Body body) {
        onCpu(cpu, () -> {
            kernel.localBhDisable();
            try {
                body.run();
            } finally {
                kernel.localBhEnable();
            }
        });
    }

    /** Runs {@code fn} in hardirq context on {@code cpu/N} and waits for it and its irq_exit. */
    void hardirq(int cpu, Runnable fn) {
        kernel.smpCallFunctionSingle(cpu, fn, true);
    }

    // ---------------------------------------------------------------- statistics

    long stat(int cpu, KernelStats.Counter counter) {
        return kernel.stats().get(cpu, counter);
    }

    /** Spins until {@code counter} on {@code cpu} reaches {@code atLeast}. */
    void awaitStat(int cpu, KernelStats.Counter counter, long atLeast) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_GUARD_SECONDS);
        while (stat(cpu, counter) < atLeast) {
            if (System.nanoTime() - deadline > 0) {
                fail("%s on cpu %d stayed below %d: %s", counter, cpu, atLeast, kernel.stats());
            }
            Thread.onSpinWait();
        }
    }

    // ---------------------------------------------------------------- errors

    /** The errors reported so far, removed from the record. */
    List<Reported> takeErrors() {
        List<Reported> out = new ArrayList<>();
        for (Reported r; (r = errors.poll()) != null; ) {
            out.add(r);
        }
        return out;
    }

    /** Closes the kernel, then fails if an error was reported that the test did not take. */
    @Override
    public void close() {
        kernel.close();
        List<Reported> left = takeErrors();
        if (!left.isEmpty()) {
            AssertionError e = new AssertionError("unexpected errors reported by callbacks: " + left);
            for (Reported r : left) {
                e.addSuppressed(r.error());
            }
            throw e;
        }
    }

    // ---------------------------------------------------------------- waiting helpers

    /** Waits for {@code latch} (bounded by the hang guard). Usable from callbacks too. */
    static void await(CountDownLatch latch) {
        try {
            assertThat(latch.await(HANG_GUARD_SECONDS, TimeUnit.SECONDS))
                    .as("latch released before the hang guard").isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for a latch", e);
        }
    }

    /** Waits at {@code barrier} (bounded by the hang guard). Usable from callbacks. */
    static void await(CyclicBarrier barrier) {
        try {
            barrier.await(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("barrier not reached by every party", e);
        }
    }

    /** Spins until {@code condition} holds (bounded by the hang guard). Usable from callbacks. */
    static void spinUntil(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_GUARD_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("never happened: %s", what);
            }
            Thread.onSpinWait();
        }
    }

    /** Spins until {@code thread} is blocked ({@link Thread.State#WAITING}); fails if it ended. */
    static void awaitWaiting(Thread thread) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_GUARD_SECONDS);
        for (;;) {
            Thread.State s = thread.getState();
            if (s == Thread.State.WAITING) {
                return;
            }
            if (s == Thread.State.TERMINATED) {
                fail("%s ended instead of blocking", thread.getName());
            }
            if (System.nanoTime() - deadline > 0) {
                fail("%s never blocked (state %s)", thread.getName(), s);
            }
            Thread.onSpinWait();
        }
    }

    /**
     * A thread a test starts to make a blocking call. What its body throws is kept and handed back
     * by {@link #joinFailure()} or rethrown by {@link #joinAndCheck()}.
     */
    static final class Worker extends Thread {
        private final Body body;
        private volatile Throwable failure;

        Worker(String name, Body body) {
            super(name);
            this.body = body;
            setDaemon(true);
        }

        /** Creates and starts a worker. */
        static Worker start(String name, Body body) {
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

        /** Joins (bounded by the hang guard) and returns what the body threw, or null. */
        Throwable joinFailure() throws InterruptedException {
            join(TimeUnit.SECONDS.toMillis(HANG_GUARD_SECONDS));
            assertThat(isAlive()).as("%s finished", getName()).isFalse();
            return failure;
        }

        /** Joins and rethrows what the body threw. */
        void joinAndCheck() throws InterruptedException {
            Throwable t = joinFailure();
            if (t != null) {
                throw new AssertionError(getName() + " failed", t);
            }
        }

        /** For finally blocks: joins {@code w} if it was started, without checking its outcome. */
        static void joinQuietly(Worker w) throws InterruptedException {
            if (w != null) {
                w.join(TimeUnit.SECONDS.toMillis(HANG_GUARD_SECONDS));
            }
        }
    }
}

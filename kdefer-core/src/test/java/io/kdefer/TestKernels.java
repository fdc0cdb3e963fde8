package io.kdefer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Shared pieces for kernel tests: a kernel on a {@link ManualClock} whose callback errors are
 * collected, latch and thread-state helpers, and thread joining.
 *
 * <p>Nothing here waits for time to pass. {@link #LIVENESS_SECONDS} only bounds waits that would
 * otherwise hang forever on a broken kernel, so that the failure names what did not happen.
 */
public final class TestKernels {
    /** Upper bound for a wait that must end in a working kernel; a hang guard, not a timing claim. */
    public static final long LIVENESS_SECONDS = 30;

    private TestKernels() {
    }

    /** An {@link ErrorHandler} that keeps what callbacks threw, so a test can assert on it. */
    public static final class CollectingErrors implements ErrorHandler {
        /** One report: the source the kernel named and the exception. */
        public static final class Report {
            public final Object source;
            public final Throwable error;

            Report(Object source, Throwable error) {
                this.source = source;
                this.error = error;
            }

            @Override
            public String toString() {
                return source + ": " + error;
            }
        }

        private final ConcurrentLinkedQueue<Report> reports = new ConcurrentLinkedQueue<>();

        @Override
        public void onError(Object source, Throwable error) {
            reports.add(new Report(source, error));
        }

        /** The reports so far, oldest first. */
        public List<Report> reports() {
            return new ArrayList<>(reports);
        }

        /** Fails if any callback threw. */
        public void assertNone() {
            assertThat(reports()).as("errors reported to the kernel's error handler").isEmpty();
        }
    }

    /** A builder with {@code cpus} CPUs, HZ 1000, a fresh {@link ManualClock} and {@code errors}. */
    public static Kernel.Builder manual(int cpus, CollectingErrors errors) {
        return Kernel.builder().cpus(cpus).hz(1000).clock(new ManualClock()).errorHandler(errors);
    }

    /**
     * Builds the kernel and waits until each of its {@code cpu/N} and {@code ksoftirqd/N} threads
     * is parked. Until then a {@code ksoftirqd/N} that is still starting up may serve a vector that
     * a hardirq raised before that hardirq's own {@code irq_exit} gets to it; tests that check
     * which thread ran a softirq need this settled start. The new threads are found by comparing
     * the live threads before and after the build, so kernels of other tests cannot be mistaken
     * for this one.
     */
    public static Kernel start(Kernel.Builder builder) {
        return start(builder, new HashMap<>());
    }

    /** As {@link #start(Kernel.Builder)}; also puts the kernel's threads into {@code threads} by name. */
    public static Kernel start(Kernel.Builder builder, Map<String, Thread> threads) {
        Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
        Kernel kernel = builder.build();
        Map<String, Thread> created = new HashMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (!before.contains(t)) {
                created.put(t.getName(), t);
            }
        }
        for (int c = 0; c < kernel.nrCpus(); c++) {
            for (String name : new String[] {"cpu/" + c, "ksoftirqd/" + c}) {
                Thread t = created.get(name);
                assertThat(t).as("thread " + name + " started by build()").isNotNull();
                awaitParked(t);
                threads.put(name, t);
            }
        }
        return kernel;
    }

    /** Spins until {@code thread} is parked (WAITING, or TIMED_WAITING for a timed idle) or has ended. */
    public static void awaitParked(Thread thread) {
        for (;;) {
            Thread.State s = thread.getState();
            if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING || s == Thread.State.TERMINATED) {
                return;
            }
            checkNotInterrupted(thread);
            Thread.onSpinWait();
        }
    }

    private static void checkNotInterrupted(Thread watched) {
        if (Thread.currentThread().isInterrupted()) {
            throw new AssertionError("interrupted while waiting for " + watched.getName() + " to block");
        }
    }

    /** The manual clock a kernel from {@link #manual} reads. */
    public static ManualClock clock(Kernel kernel) {
        return (ManualClock) kernel.clock();
    }

    /** Waits for {@code latch}; fails with {@code what} if the kernel never gets there. */
    public static void await(CountDownLatch latch, String what) throws InterruptedException {
        assertThat(latch.await(LIVENESS_SECONDS, TimeUnit.SECONDS)).as("waiting for: " + what).isTrue();
    }

    /**
     * Waits for {@code latch} without a checked exception, so that a callback can hold its CPU
     * until the test releases it; fails if it is never released (a hang guard).
     */
    public static void awaitUninterruptibly(CountDownLatch latch) {
        try {
            assertThat(latch.await(LIVENESS_SECONDS, TimeUnit.SECONDS)).as("latch released").isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for a latch", e);
        }
    }

    /**
     * Spins until {@code thread} is parked or blocked (or has ended). Used to know that a thread
     * reached the point where it waits, never as a delay.
     */
    public static void awaitBlocked(Thread thread) {
        for (;;) {
            Thread.State s = thread.getState();
            if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING
                    || s == Thread.State.BLOCKED || s == Thread.State.TERMINATED) {
                return;
            }
            checkNotInterrupted(thread);
            Thread.onSpinWait();
        }
    }

    /**
     * Spins until {@code condition} holds; fails with {@code what} if it does not within the
     * liveness bound. For states another thread reaches by itself, never as a delay.
     */
    public static void awaitCondition(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LIVENESS_SECONDS);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as("waiting for: " + what).isNegative();
            Thread.onSpinWait();
        }
    }

    /** Joins {@code thread}; fails if it does not end. */
    public static void join(Thread thread) throws InterruptedException {
        thread.join(TimeUnit.SECONDS.toMillis(LIVENESS_SECONDS));
        assertThat(thread.isAlive()).as(thread.getName() + " ended").isFalse();
    }
}

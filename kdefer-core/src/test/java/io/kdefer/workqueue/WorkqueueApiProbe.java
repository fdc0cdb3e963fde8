package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.internal.Secrets;
import io.kdefer.internal.WaitQueue;
import io.kdefer.testkit.Waits;
import io.kdefer.wait.Completion;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A work function for the spec §10.3 tests: it counts its runs, records where each one ran, and
 * can hold a chosen run inside the function until the test lets it go, so that a test can act
 * "while the item executes".
 *
 * <p>A held run waits either on a JDK latch ({@link #hold}): the worker's thread blocks in plain
 * JDK code, which its pool notices only when the sampler runs on a tick, so on a manual clock that
 * is not ticked the worker stays counted as running and its pool starts nothing else meanwhile; or
 * on a kdefer {@link Completion} ({@link #holdSleeping}): the worker tells its pool at once that it
 * sleeps, and the pool hands pending items to another worker of the same CPU.
 *
 * <p>Each test releases every gate it made in a {@code finally} ({@link #releaseAll}), so that a
 * failing assertion never leaves a worker held when the kernel is checked and closed.
 */
final class WorkqueueApiProbe implements Consumer<Work> {
    /** One run: its number (from 1), the thread and CPU it ran on, and the PENDING bit on entry. */
    record Run(int n, Thread thread, int cpu, boolean pendingOnEntry) {
        String threadName() {
            return thread.getName();
        }
    }

    /** Holds one run of the function until {@link #release()}. */
    static final class Gate {
        private final CountDownLatch started = new CountDownLatch(1);
        private final CountDownLatch latch;
        private final Completion completion;
        private final AtomicBoolean released = new AtomicBoolean();

        private Gate(Completion completion) {
            this.completion = completion;
            this.latch = completion == null ? new CountDownLatch(1) : null;
        }

        void pass() {
            started.countDown();
            if (completion != null) {
                completion.waitForCompletion();
            } else {
                Waits.await(latch, "the test released a held run");
            }
        }

        /** Waits until the held run entered the function. */
        void awaitStarted() {
            Waits.await(started, "the held run started");
        }

        boolean hasStarted() {
            return started.getCount() == 0;
        }

        /** Lets the held run go on (once; later calls do nothing). */
        void release() {
            if (released.compareAndSet(false, true)) {
                if (completion != null) {
                    completion.complete();
                } else {
                    latch.countDown();
                }
            }
        }
    }

    private final Kernel kernel;
    /** Runs entered. */
    final AtomicInteger runs = new AtomicInteger();
    /** Runs that returned. */
    final AtomicInteger finished = new AtomicInteger();
    private final AtomicInteger inside = new AtomicInteger();
    /** The most runs that were inside the function at the same time. */
    final AtomicInteger maxInside = new AtomicInteger();
    private final List<Run> log = Collections.synchronizedList(new ArrayList<>());
    private final Map<Integer, Gate> gates = new ConcurrentHashMap<>();
    private final List<Gate> made = Collections.synchronizedList(new ArrayList<>());
    /** Called inside the function after the gate of the run (if any), with the item and the run number. */
    private volatile BiConsumer<Work, Integer> body;

    WorkqueueApiProbe(Kernel kernel) {
        this.kernel = kernel;
    }

    /** Sets what the function does after its gate; returns this probe. */
    WorkqueueApiProbe then(BiConsumer<Work, Integer> body) {
        this.body = body;
        return this;
    }

    /** Holds run {@code n} (from 1) on a JDK latch. Call before the run starts. */
    Gate hold(int n) {
        return gate(n, new Gate(null));
    }

    /** Holds run {@code n} on a kdefer completion (the worker sleeps, as far as its pool knows). */
    Gate holdSleeping(int n) {
        return gate(n, new Gate(new Completion(kernel)));
    }

    private Gate gate(int n, Gate g) {
        made.add(g);
        gates.put(n, g);
        return g;
    }

    /** Releases every gate made so far. */
    void releaseAll() {
        List<Gate> all;
        synchronized (made) {
            all = new ArrayList<>(made);
        }
        all.forEach(Gate::release);
    }

    @Override
    public void accept(Work self) {
        final int n = runs.incrementAndGet();
        final int in = inside.incrementAndGet();
        maxInside.accumulateAndGet(in, Math::max);
        log.add(new Run(n, Thread.currentThread(), kernel.smpProcessorId(), self.isPending()));
        try {
            Gate g = gates.get(n);
            if (g != null) {
                g.pass();
            }
            BiConsumer<Work, Integer> b = body;
            if (b != null) {
                b.accept(self, n);
            }
        } finally {
            inside.decrementAndGet();
            finished.incrementAndGet();
        }
    }

    /** The runs so far, in the order they entered. */
    List<Run> log() {
        synchronized (log) {
            return new ArrayList<>(log);
        }
    }

    /** Run {@code n} (from 1). */
    Run run(int n) {
        return log().get(n - 1);
    }

    // ---------------------------------------------------------------- shared helpers

    /**
     * Waits until {@code t} sleeps in a kdefer wait (a flush, a cancel's wait, a drain), and checks
     * that it has not returned: the call it makes is blocked at this point.
     */
    static void awaitBlockedInKernel(Kernel kernel, Thread t) {
        WaitQueue q = Secrets.runtime(kernel).waitQueue();
        Waits.awaitParkedOn(t, b -> b == q);
        assertThat(t.isAlive()).as(t.getName() + " still waits").isTrue();
    }
}

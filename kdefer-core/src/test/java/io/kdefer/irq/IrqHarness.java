package io.kdefer.irq;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.TestKernels;
import io.kdefer.TestKernels.CollectingErrors;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A kernel for one interrupt-line test: a {@link ManualClock}, errors collected, and helpers that
 * deliver an interrupt synchronously. {@link #raiseSync} raises the line from its own
 * {@code cpu/N} in hardirq context, so the handlers have run (and the irq exit with them) when it
 * returns; {@link #close()} fails if a callback reported an error the test did not take.
 */
final class IrqHarness implements AutoCloseable {
    final CollectingErrors errors = new CollectingErrors();
    final Kernel kernel;
    final Irqs irqs;
    private final List<Thread> started = new ArrayList<>();
    private int taken;

    IrqHarness(int cpus) {
        this(cpus, b -> b);
    }

    IrqHarness(int cpus, java.util.function.UnaryOperator<Kernel.Builder> config) {
        this.kernel = TestKernels.start(config.apply(TestKernels.manual(cpus, errors)));
        this.irqs = kernel.irqs();
    }

    ManualClock clock() {
        return TestKernels.clock(kernel);
    }

    /** Raises {@code irq}, delivered on {@code cpu} (the line's CPU), and returns after its irq exit. */
    void raiseSync(int irq, int cpu) {
        kernel.smpCallFunctionSingle(cpu, () -> irqs.raise(irq), true);
    }

    /** Starts {@code body} on a new thread, joined by {@link #close()}. */
    Thread fork(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        started.add(t);
        t.start();
        return t;
    }

    /** The errors reported since the last call, and marks them as expected. */
    List<CollectingErrors.Report> takeErrors() {
        List<CollectingErrors.Report> all = errors.reports();
        List<CollectingErrors.Report> fresh = new ArrayList<>(all.subList(taken, all.size()));
        taken = all.size();
        return fresh;
    }

    static void await(CountDownLatch latch, String what) {
        try {
            TestKernels.await(latch, what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted waiting for " + what, e);
        }
    }

    /** Spins until {@code cond} holds; a hang guard bounds it, no assertion depends on the time. */
    static void spinUntil(BooleanSupplier cond, String what) {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(TestKernels.LIVENESS_SECONDS);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("never happened: " + what);
            }
            Thread.onSpinWait();
        }
    }

    @Override
    public void close() throws InterruptedException {
        kernel.close();
        for (Thread t : started) {
            TestKernels.join(t);
        }
        assertThat(errors.reports().subList(taken, errors.reports().size()))
                .as("errors reported to the kernel's error handler").isEmpty();
    }
}

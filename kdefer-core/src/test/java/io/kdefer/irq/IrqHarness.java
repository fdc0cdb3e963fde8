package io.kdefer.irq;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Worker;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A kernel for one interrupt-line test: a {@link ManualClock}, errors collected, and helpers that
 * deliver an interrupt synchronously. {@link #raiseSync} raises the line from its own
 * {@code cpu/N} in hardirq context, so the handlers have run (and the irq exit with them) when it
 * returns; {@link #close()} joins the threads {@link #fork} started and fails if a callback
 * reported an error the test did not take.
 */
final class IrqHarness implements AutoCloseable {
    final CollectingErrors errors = new CollectingErrors();
    final Kernel kernel;
    final Irqs irqs;
    private final List<Worker> started = new ArrayList<>();

    IrqHarness(int cpus) {
        this(cpus, b -> b);
    }

    IrqHarness(int cpus, UnaryOperator<Kernel.Builder> config) {
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

    /** Starts {@code body} on a new thread, joined (and its failure rethrown) by {@link #close()}. */
    Thread fork(String name, Runnable body) {
        Worker w = Worker.start(name, body::run);
        started.add(w);
        return w;
    }

    /** The errors reported since the last call, and marks them as expected. */
    List<CollectingErrors.Report> takeErrors() {
        return errors.take();
    }

    @Override
    public void close() {
        kernel.close();
        for (Worker w : started) {
            w.joinAndCheck();
        }
        errors.assertNone();
    }
}

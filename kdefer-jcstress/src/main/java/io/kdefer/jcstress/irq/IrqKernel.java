package io.kdefer.jcstress.irq;

import io.kdefer.Kernel;
import io.kdefer.irq.Irqs;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The kdefer kernel of one interrupt-line test class, built once per test JVM (a static field of
 * the test) and never closed: a kernel starts threads, far too costly per jcstress state, and its
 * threads are daemons that die with the JVM.
 *
 * <p>One CPU: every line is delivered to {@code cpu/0}, and the thread function runs in the
 * line's {@code irq/N-name} thread. The actor is a jcstress thread with no other link to either,
 * so whatever it sees of them comes from the interrupt API.
 *
 * <p>A line is a shared resource: its handlers are requested once, in the test class's static
 * initialiser, and they keep their observations in static fields. The actor of each test
 * therefore waits, with a bound, for the handler runs its raise caused before it returns, so that
 * one jcstress state sees exactly one interrupt and the next state starts from a quiet line.
 */
final class IrqKernel {
    /** Returned in place of an observation when the awaited handler run never came. */
    static final int TIMEOUT = -1;

    private static final long BUDGET_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long BUDGET_AFTER_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private static volatile boolean timedOut;

    final Kernel kernel = Kernel.builder().cpus(1).build();
    final Irqs irqs = kernel.irqs();

    /**
     * Spins until {@code done} holds; false when the budget (5 s, 20 ms after a first timeout in
     * this JVM, so that a broken core fails fast) ran out. A liveness check, not a timing
     * assumption: the caller reports running out as a FORBIDDEN outcome.
     */
    static boolean await(BooleanSupplier done) {
        long start = System.nanoTime();
        long budget = timedOut ? BUDGET_AFTER_TIMEOUT_NANOS : BUDGET_NANOS;
        for (int i = 1; ; i++) {
            if (done.getAsBoolean()) {
                return true;
            }
            if ((i & 63) == 0) {
                if (System.nanoTime() - start > budget) {
                    timedOut = true;
                    return false;
                }
                Thread.yield();   // two host CPUs: let cpu/0 and the irq thread have one
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /** Busy-waits about {@code n} spin hints: widens a handler's window without sleeping. */
    static void spin(int n) {
        for (int i = 0; i < n; i++) {
            Thread.onSpinWait();
        }
    }
}

package io.kdefer.jcstress.irq;

import io.kdefer.Kernel;
import io.kdefer.irq.Irqs;

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
 * therefore waits, with a bound ({@link io.kdefer.testkit.BoundedSpin#until}), for the handler runs
 * its raise caused before it returns, so that one jcstress state sees exactly one interrupt and the
 * next state starts from a quiet line.
 */
final class IrqKernel {
    final Kernel kernel = Kernel.builder().cpus(1).build();
    final Irqs irqs = kernel.irqs();
}

package io.kdefer.jcstress.timer;

import io.kdefer.ErrorHandler;
import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.TestKernels;

/**
 * One kernel with a manual clock shared by every state of a test class: a kernel starts threads,
 * far too costly per jcstress state. Ticks from other states' actors only move time forward, which
 * each test tolerates: its outcome depends on its own timer only.
 */
final class TimerKernel {
    /** Returned in place of an observation when the awaited run never came within the ticks. */
    static final int TIMEOUT = -1;

    final Kernel kernel = TestKernels.manual(2, ErrorHandler.logging()).build();
    final ManualClock clock = TestKernels.clock(kernel);

    TimerKernel() {
        Runtime.getRuntime().addShutdownHook(new Thread(kernel::close, "kdefer-jcstress-close"));
    }

    /** Ticks until {@code done} holds, at most {@code max} ticks; false if it never held. */
    boolean tickUntil(java.util.function.BooleanSupplier done, int max) {
        for (int i = 0; i < max; i++) {
            if (done.getAsBoolean()) {
                return true;
            }
            clock.tick();
        }
        return done.getAsBoolean();
    }
}

package io.kdefer.jcstress.close;

import io.kdefer.Kernel;
import io.kdefer.testkit.TestKernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * A kernel of its own for one jcstress state of a {@code close()} race: the race ends with the
 * kernel closed, so states cannot share one as the other litmus tests do. One CPU by default (two
 * threads) and a manual clock (no tick thread) keep building one per state cheap.
 *
 * <p>Counts what {@code close()} promises for the state's own work: runs of its callback
 * ({@link #ran()}) and reports to the error handler that name {@link #subject}.
 */
final class FreshKernel {
    /** The call returned normally (for a boolean call: it returned true). */
    static final int SERVED = 1;
    /** A boolean call returned false. */
    static final int FALSE = 0;
    /** The call was refused with {@link IllegalStateException}. */
    static final int REFUSED = -1;

    final Kernel kernel;
    /** Runs of the state's callback plus close()'s reports of the state's object. */
    final AtomicInteger served = new AtomicInteger();
    /** The object whose reports count as served (a timer, for the REPORT close policy). */
    volatile Object subject;

    FreshKernel() {
        this(1);
    }

    FreshKernel(int cpus) {
        kernel = TestKernels.manual(cpus, (source, error) -> {
            if (source == subject) {
                served.incrementAndGet();
            }
        }).build();
    }

    /** The state's callback ran. */
    void ran() {
        served.incrementAndGet();
    }

    /** {@link #SERVED}, {@link #FALSE} or {@link #REFUSED}. */
    static int call(BooleanSupplier call) {
        try {
            return call.getAsBoolean() ? SERVED : FALSE;
        } catch (IllegalStateException refused) {
            return REFUSED;
        }
    }

    /** {@link #SERVED} or {@link #REFUSED}. */
    static int call(Runnable call) {
        return call(() -> {
            call.run();
            return true;
        });
    }
}

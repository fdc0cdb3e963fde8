package io.kdefer.jcstress.timer;

import io.kdefer.ErrorHandler;
import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.TestKernels;
import io.kdefer.timer.KernelTimer;
import org.openjdk.jcstress.infra.results.IIII_Result;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

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

    /** Recorded in r3 and r4 when more runs came than the {@code mod()} calls owed. */
    static final int EXTRA_RUN = -2;

    /**
     * The arbiter of the coalesced-{@code mod()} twins: ticks until the runs the two calls owed
     * ({@code 2 - r1 - r2}: a call that returned false armed the timer) have come and the timer is
     * idle, then records what the callback saw ({@code seenA}, {@code seenB}), or
     * {@link #TIMEOUT} / {@link #EXTRA_RUN}.
     */
    void judgeCoalescedMods(IIII_Result r, AtomicInteger runs, KernelTimer timer, IntSupplier seenA,
                            IntSupplier seenB) {
        int owed = 2 - r.r1 - r.r2;
        if (!tickUntil(() -> runs.get() >= owed && !timer.isPending(), 20)) {
            r.r3 = r.r4 = TIMEOUT;
        } else if (runs.get() != owed) {
            r.r3 = r.r4 = EXTRA_RUN;
        } else {
            r.r3 = seenA.getAsInt();
            r.r4 = seenB.getAsInt();
        }
    }
}

package io.kdefer.jcstress;

import io.kdefer.tasklet.Tasklet;
import io.kdefer.testkit.BoundedSpin;

import java.util.function.IntSupplier;

/**
 * The arbiters' wait for "the run that must follow has happened", on the testkit's
 * {@link BoundedSpin}: running out of its budget is reported as {@link BoundedSpin#TIMEOUT}, a
 * FORBIDDEN outcome, rather than waited out.
 */
final class Await {
    private Await() {
    }

    /**
     * Waits until the tasklet has made at least {@code expectedRuns} runs (as counted by
     * {@code runs}, which the callback increments) and is neither queued nor running, so no
     * further run can start without a new schedule. Returns false when the budget ran out.
     */
    static boolean quiescent(Tasklet tasklet, IntSupplier runs, int expectedRuns) {
        return BoundedSpin.until(() -> runs.getAsInt() >= expectedRuns && !tasklet.isScheduled() && !tasklet.isRunning());
    }
}

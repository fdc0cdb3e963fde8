package io.kdefer.jcstress.timer;

import io.kdefer.timer.KernelTimer;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * When {@code KernelTimer.deleteSync()} returns, the callback is not running, and everything a run
 * that started did is visible.
 * <pre>
 *   setup: t armed at a passed expiry; callback: started = 1; work; finished = 1
 *   T0: tick()                     T1: t.deleteSync(); r0 = started; r1 = finished
 *   Forbidden: r0 == 1, r1 == 0 (deleteSync returned while the callback ran)
 * </pre>
 */
@JCStressTest
@Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "deleteSync() removed the timer before it fired")
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "the callback ran; deleteSync() returned after it finished")
@Outcome(id = "1, 0", expect = FORBIDDEN, desc = "deleteSync() returned while the callback was running")
@Outcome(expect = FORBIDDEN, desc = "impossible")
@State
public class TimerDeleteSyncWaitsForCallbackTest {
    static final TimerKernel K = new TimerKernel();

    int started;
    int finished;
    final KernelTimer timer = KernelTimer.setup(K.kernel, t -> {
        started = 1;
        for (int i = 0; i < 100; i++) {
            Thread.onSpinWait();
        }
        finished = 1;
    });

    public TimerDeleteSyncWaitsForCallbackTest() {
        timer.mod(K.kernel.jiffies() - 1);
    }

    @Actor
    public void expire() {
        K.clock.tick();
    }

    @Actor
    public void delete(II_Result r) {
        timer.deleteSync();
        r.r1 = started;
        r.r2 = finished;
    }

    @Arbiter
    public void arbiter() {
        timer.deleteSync();
    }
}

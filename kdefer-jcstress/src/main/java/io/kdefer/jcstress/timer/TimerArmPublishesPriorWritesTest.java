package io.kdefer.jcstress.timer;

import io.kdefer.timer.KernelTimer;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * A timer callback sees every write made before the {@code mod()} that armed it.
 * <pre>
 *   T0: x = 1; t.mod(jiffies - 1)           T1: tick()
 *   callback: r0 = x
 *   Forbidden: r0 == 0
 * </pre>
 */
@JCStressTest
@Outcome(id = "1", expect = ACCEPTABLE, desc = "the callback saw the write made before mod()")
@Outcome(id = "0", expect = FORBIDDEN, desc = "the callback missed a write made before mod()")
@Outcome(id = "-1", expect = FORBIDDEN, desc = "the timer never fired")
@State
public class TimerArmPublishesPriorWritesTest {
    static final TimerKernel K = new TimerKernel();

    int x;
    volatile int seen = -1;
    final KernelTimer timer = KernelTimer.setup(K.kernel, t -> seen = x);

    @Actor
    public void arm() {
        x = 1;
        timer.mod(K.kernel.jiffies() - 1);
    }

    @Actor
    public void tick() {
        K.clock.tick();
    }

    @Arbiter
    public void arbiter(I_Result r) {
        K.tickUntil(() -> seen != -1, 20);
        r.r1 = seen;
    }
}

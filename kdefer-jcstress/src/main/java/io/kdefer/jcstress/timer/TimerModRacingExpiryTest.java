package io.kdefer.jcstress.timer;

import io.kdefer.timer.KernelTimer;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZI_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code KernelTimer.mod()} racing the timer's expiry never loses the timer and never runs it twice
 * for one arming.
 * <pre>
 *   setup: t armed at an expiry that has passed (it fires at the next tick)
 *   T0: tick()                     T1: r0 = t.mod(jiffies + 5)
 *   arbiter: tick until both armings had time to fire; r1 = runs
 *   Allowed:   r0 == true  (mod re-timed the pending timer) and r1 == 1
 *              r0 == false (the first arming had expired)    and r1 == 2
 *   Forbidden: anything else (a lost arming, or two runs for one)
 * </pre>
 */
@JCStressTest
@Outcome(id = "true, 1", expect = ACCEPTABLE, desc = "mod() caught the timer pending and re-timed it: one run")
@Outcome(id = "false, 2", expect = ACCEPTABLE, desc = "the first arming expired, mod() armed it again: two runs")
@Outcome(expect = FORBIDDEN, desc = "an arming was lost or ran twice")
@State
public class TimerModRacingExpiryTest {
    static final TimerKernel K = new TimerKernel();

    final AtomicInteger runs = new AtomicInteger();
    final KernelTimer timer = KernelTimer.setup(K.kernel, t -> runs.incrementAndGet());

    public TimerModRacingExpiryTest() {
        timer.mod(K.kernel.jiffies() - 1);
    }

    @Actor
    public void expire() {
        K.clock.tick();
    }

    @Actor
    public void modify(ZI_Result r) {
        r.r1 = timer.mod(K.kernel.jiffies() + 5);
    }

    @Arbiter
    public void arbiter(ZI_Result r) {
        K.tickUntil(() -> !timer.isPending(), 20);
        r.r2 = runs.get();
    }
}

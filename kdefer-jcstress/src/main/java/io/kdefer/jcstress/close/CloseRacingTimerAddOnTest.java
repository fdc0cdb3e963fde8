package io.kdefer.jcstress.close;

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
 * {@code KernelTimer.addOn()} to another CPU racing {@code Kernel.close()}: an arm that moves the
 * timer between wheels and returns is run or reported by close().
 * <pre>
 *   T0: r0 = timer.addOn(otherCpu, jiffies + 100)          T1: kernel.close()
 *   after both: r1 = runs + close()'s reports of the work
 *   Forbidden: r0 == SERVED (1), r1 == 0 (accepted, then lost)
 * </pre>
 * The entry protocol of {@code io.kdefer.internal.Lifecycle}: a call from a foreign thread is either refused
 * ({@code IllegalStateException}, -1) or served.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "accepted before close(); close() served it")
@Outcome(id = "-1, 0", expect = ACCEPTABLE, desc = "refused: close() had begun")
@Outcome(id = "1, 0", expect = FORBIDDEN, desc = "accepted, then neither run nor reported: lost")
@Outcome(expect = FORBIDDEN, desc = "impossible")
@State
public class CloseRacingTimerAddOnTest {
    final FreshKernel k = new FreshKernel(2);
    final KernelTimer timer = KernelTimer.setup(k.kernel, self -> k.ran());
    final long expires = k.kernel.jiffies() + 100;
    /** The CPU the timer is not on: addOn() moves it between wheels. */
    final int otherCpu = 1 - k.kernel.smpProcessorId();

    public CloseRacingTimerAddOnTest() {
        k.subject = timer;
    }

    @Actor
    public void call(II_Result r) {
        r.r1 = FreshKernel.call(() -> { timer.addOn(otherCpu, expires); return true; });
    }

    @Actor
    public void close() {
        k.kernel.close();
    }

    @Arbiter
    public void arbiter(II_Result r) {
        r.r2 = k.served.get();
    }
}

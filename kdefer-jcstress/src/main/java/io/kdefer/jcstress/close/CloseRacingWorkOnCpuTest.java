package io.kdefer.jcstress.close;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code runOnCpu(cpu, fn)} racing {@code Kernel.close()}: a call that returns ran {@code fn}.
 * <pre>
 *   T0: r0 = runOnCpu(0, fn)          T1: kernel.close()
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
public class CloseRacingWorkOnCpuTest {
    final FreshKernel k = new FreshKernel();

    @Actor
    public void call(II_Result r) {
        r.r1 = FreshKernel.call(() -> k.kernel.runOnCpu(0, () -> { k.ran(); return true; }));
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

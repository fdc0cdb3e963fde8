package io.kdefer.jcstress;

import io.kdefer.testkit.BoundedSpin;
import io.kdefer.tasklet.Tasklet;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZZI_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Two concurrent {@code Tasklet.schedule()} calls on an idle tasklet, from CPU 0 and CPU 1:
 * exactly one returns {@code true} and the tasklet runs exactly once, unless the run queued by the
 * first one already started when the second came (then both return {@code true} and it runs
 * twice). In every case the number of runs equals the number of {@code true} results: a
 * {@code true} queues exactly one run, a {@code false} adds none.
 * <pre>
 *   CPU0: r0 = t.schedule()     CPU1: r1 = t.schedule()     afterwards: r2 = runs
 *   Forbidden: r0 == false, r1 == false
 *   Forbidden: r2 != (r0 ? 1 : 0) + (r1 ? 1 : 0)
 * </pre>
 * Result: {@code r1}, {@code r2} = the two results; {@code r3} = runs once the tasklet is idle
 * again ({@code -1}: the runs owed did not all happen within the deadline).
 */
@JCStressTest
@Outcome(id = {"true, false, 1", "false, true, 1"}, expect = ACCEPTABLE,
        desc = "One call queued the tasklet, the other was coalesced into that run: one run.")
@Outcome(id = "true, true, 2", expect = ACCEPTABLE,
        desc = "The first run had started (scheduled mark cleared) before the second call: two runs.")
@Outcome(id = "false, false, .*", expect = FORBIDDEN,
        desc = "Neither call queued an idle tasklet.")
@Outcome(id = ".*, .*, -1", expect = FORBIDDEN,
        desc = "TIMEOUT: a run owed to a call that returned true did not happen within the deadline.")
@Outcome(expect = FORBIDDEN,
        desc = "Anything else: the number of runs differs from the number of calls that returned true.")
@State
public class TaskletConcurrentScheduleTest {
    private final AtomicInteger runs = new AtomicInteger();
    private final Tasklet tasklet = Tasklet.setup(TestKernel.KERNEL, t -> runs.incrementAndGet());

    @Actor
    public void cpu0(ZZI_Result r) {
        r.r1 = TestKernel.onCpu(TestKernel.CPU0, tasklet::schedule);
    }

    @Actor
    public void cpu1(ZZI_Result r) {
        r.r2 = TestKernel.onCpu(TestKernel.CPU1, tasklet::schedule);
    }

    @Arbiter
    public void arbiter(ZZI_Result r) {
        int owed = (r.r1 ? 1 : 0) + (r.r2 ? 1 : 0);
        r.r3 = Await.quiescent(tasklet, runs::get, owed) ? runs.get() : BoundedSpin.TIMEOUT;
    }
}

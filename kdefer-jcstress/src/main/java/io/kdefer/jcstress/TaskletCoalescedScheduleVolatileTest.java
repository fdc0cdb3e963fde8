package io.kdefer.jcstress;

import io.kdefer.testkit.BoundedSpin;
import io.kdefer.tasklet.Tasklet;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * A {@code Tasklet.schedule()} that returns {@code false} (coalesced) guarantees that a run starts
 * after it; that run sees the caller's earlier writes when they were ordered before the call by a
 * volatile write (read by the callback with a volatile read).
 * <pre>
 *   CPU0: a = 1 (volatile); r0 = t.schedule()     CPU1: b = 1 (volatile); r1 = t.schedule()
 *   callback: r2 = a; r3 = b (volatile reads), last run's values kept
 *   Forbidden: r2 == 0 or r3 == 0, whatever r0 and r1 are
 * </pre>
 * One of the two calls is coalesced into the run the other queued (unless that run had already
 * started); the last run must see both writes. {@link TaskletCoalescedSchedulePlainTest} is the
 * same test with plain writes, where the coalesced caller's write may be missed.
 *
 * <p>Result: {@code r1}, {@code r2} = the two {@code schedule()} results (1 = true); {@code r3},
 * {@code r4} = {@code a} and {@code b} as read by the last run ({@code -1, -1}: the runs owed did
 * not happen within the deadline; {@code -2, -2}: more runs than {@code true} results).
 */
@JCStressTest
@Outcome(id = {"1, 0, 1, 1", "0, 1, 1, 1"}, expect = ACCEPTABLE,
        desc = "One call was coalesced; the single run saw both volatile writes.")
@Outcome(id = "1, 1, 1, 1", expect = ACCEPTABLE,
        desc = "The first run had started before the second call: two runs, the last saw both writes.")
@Outcome(id = {"0, 1, 0, .*", "1, 0, .*, 0"}, expect = FORBIDDEN,
        desc = "COALESCED WRITE MISSED: the run following a coalesced call did not see its volatile write.")
@Outcome(id = ".*, -1, -1", expect = FORBIDDEN,
        desc = "TIMEOUT: a run owed to a call that returned true did not happen within the deadline.")
@Outcome(id = ".*, -2, -2", expect = FORBIDDEN, desc = "EXTRA RUN: more runs than calls that returned true.")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class TaskletCoalescedScheduleVolatileTest {
    private final AtomicInteger runs = new AtomicInteger();
    private final Tasklet tasklet = Tasklet.setup(TestKernel.KERNEL, t -> callback());
    private volatile int a;
    private volatile int b;
    private int seenA = -1;   // written by the callback, published by the increment of runs
    private int seenB = -1;

    private void callback() {
        seenA = a;
        seenB = b;
        runs.incrementAndGet();
    }

    @Actor
    public void cpu0(IIII_Result r) {
        r.r1 = TestKernel.onCpu(TestKernel.CPU0, () -> {
            a = 1;
            return tasklet.schedule();
        }) ? 1 : 0;
    }

    @Actor
    public void cpu1(IIII_Result r) {
        r.r2 = TestKernel.onCpu(TestKernel.CPU1, () -> {
            b = 1;
            return tasklet.schedule();
        }) ? 1 : 0;
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        int owed = r.r1 + r.r2;
        if (!Await.quiescent(tasklet, runs::get, owed)) {
            r.r3 = r.r4 = BoundedSpin.TIMEOUT;
        } else if (runs.get() != owed) {
            r.r3 = r.r4 = -2;
        } else {
            r.r3 = seenA;
            r.r4 = seenB;
        }
    }
}

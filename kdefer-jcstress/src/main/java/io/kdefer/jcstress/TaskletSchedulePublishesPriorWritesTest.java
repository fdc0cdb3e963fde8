package io.kdefer.jcstress;

import io.kdefer.testkit.BoundedSpin;
import io.kdefer.tasklet.Tasklet;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZII_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code Tasklet.schedule()}: if it returns {@code true}, every write the caller made before the
 * call is visible to the callback run it queued.
 * <pre>
 *   T0: x = 1; r0 = t.schedule()        callback: r1 = x
 *   Forbidden: r0 == true, r1 == 0
 * </pre>
 * {@code x} is a plain field: the publication must come from {@code schedule()} itself (the CAS
 * that pushes the tasklet on the CPU's list, paired with the runner's detach). The callback runs
 * on {@code ksoftirqd}, a kdefer thread with no other link to the actor.
 *
 * <p>Result: {@code r1} = what {@code schedule()} returned; {@code r2} = the value of {@code x}
 * the callback read ({@code -1}: no run within the deadline); {@code r3} = number of runs once
 * the tasklet is idle again.
 */
@JCStressTest
@Outcome(id = "true, 1, 1", expect = ACCEPTABLE,
        desc = "schedule() queued the tasklet; its single run saw the caller's prior write.")
@Outcome(id = "true, 0, 1", expect = FORBIDDEN,
        desc = "schedule() returned true but its run read x == 0: prior writes were not published.")
@Outcome(id = "true, -1, .*", expect = FORBIDDEN,
        desc = "TIMEOUT: schedule() returned true but no run followed within the deadline.")
@Outcome(expect = FORBIDDEN,
        desc = "Anything else: a fresh tasklet scheduled once is queued (true) and runs exactly once.")
@State
public class TaskletSchedulePublishesPriorWritesTest {
    private final AtomicInteger runs = new AtomicInteger();
    private final Tasklet tasklet = Tasklet.setup(TestKernel.KERNEL, t -> callback());
    private int x;            // plain: the caller's prior write
    private int seen = -1;    // written by the callback, published by the increment of runs

    private void callback() {
        seen = x;
        runs.incrementAndGet();
    }

    @Actor
    public void caller(ZII_Result r) {
        x = 1;
        r.r1 = tasklet.schedule();
    }

    @Arbiter
    public void arbiter(ZII_Result r) {
        if (Await.quiescent(tasklet, runs::get, 1)) {
            r.r2 = seen;
        } else {
            r.r2 = BoundedSpin.TIMEOUT;
        }
        r.r3 = runs.get();
    }
}

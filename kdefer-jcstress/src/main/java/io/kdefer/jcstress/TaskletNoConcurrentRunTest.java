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
 * A tasklet never runs on two threads at once: scheduled on CPU B while its callback runs on
 * CPU A, it runs next on B, after the run on A finished.
 * <pre>
 *   CPU0: t.schedule(), runs t here     CPU1: t.schedule(), runs t here
 *   callback: c = ++active; maxActive = max(maxActive, c); ...; --active
 *   Forbidden: maxActive == 2
 * </pre>
 * Both actors schedule with bottom halves disabled, so each CPU's softirq loop runs inside its
 * {@code local_bh_enable()}, on the actor's own thread: when both calls return {@code true}, two
 * runners on two CPUs go for the same tasklet at nearly the same instant. The callback lingers a
 * little to widen the window. A runner that finds the run lock taken must re-queue the tasklet
 * and run it only after the other callback returned, on its own CPU (in its loop or, once the
 * loop's restart budget is spent, in its {@code ksoftirqd}).
 *
 * <p>Result: {@code r1} = how many of the two calls returned {@code true}; {@code r2} = runs once
 * the tasklet is idle again ({@code -1}: the runs owed did not happen within the deadline);
 * {@code r3} = the largest number of callbacks seen running at once; {@code r4} = 1 when a call
 * returned {@code true} while the other CPU was running the tasklet (its runner then had to wait
 * for the run lock: the case this test is about), 0 when the runs did not meet.
 */
@JCStressTest
@Outcome(id = "1, 1, 1, 0", expect = ACCEPTABLE,
        desc = "One call queued the tasklet, the other was coalesced: one run.")
@Outcome(id = "2, 2, 1, 0", expect = ACCEPTABLE,
        desc = "The second call came after the first run: two runs, one after the other.")
@Outcome(id = "2, 2, 1, 1", expect = ACCEPTABLE,
        desc = "The second call queued the tasklet while it ran on the other CPU: its run waited.")
@Outcome(id = ".*, .*, 2, .*", expect = FORBIDDEN,
        desc = "OVERLAP: two callbacks of the same tasklet ran at the same time.")
@Outcome(id = ".*, -1, .*, .*", expect = FORBIDDEN,
        desc = "TIMEOUT: a run owed to a call that returned true did not happen within the deadline.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: runs differ from the calls that returned true.")
@State
public class TaskletNoConcurrentRunTest {
    /** Spin hints the callback lingers for. */
    private static final int CALLBACK_SPINS = 50;

    private final AtomicInteger runs = new AtomicInteger();
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicInteger maxActive = new AtomicInteger();
    private final Tasklet tasklet = Tasklet.setup(TestKernel.KERNEL, t -> callback());

    private void callback() {
        int now = active.incrementAndGet();
        maxActive.accumulateAndGet(now, Math::max);
        BoundedSpin.spin(CALLBACK_SPINS);
        runs.incrementAndGet();
        active.decrementAndGet();
    }

    /**
     * Schedules on {@code cpu} with bottom halves disabled and runs the tasklet here. Returns
     * 0 (coalesced), 1 (queued), or 3 (queued while the other CPU ran the tasklet: this CPU's
     * own loop cannot run it before the bottom halves are enabled again, so the run lock is held
     * by the other CPU).
     */
    private int scheduleAndRun(int cpu) {
        int[] outcome = new int[1];
        TestKernel.scheduleAndRunHere(cpu, () -> {
            boolean queued = tasklet.schedule();
            outcome[0] = !queued ? 0 : tasklet.isRunning() ? 3 : 1;
            return queued;
        });
        return outcome[0];
    }

    @Actor
    public void cpu0(IIII_Result r) {
        r.r1 = scheduleAndRun(TestKernel.CPU0);
    }

    @Actor
    public void cpu1(IIII_Result r) {
        r.r2 = scheduleAndRun(TestKernel.CPU1);
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        int owed = (r.r1 & 1) + (r.r2 & 1);
        int met = (r.r1 | r.r2) >> 1;
        r.r1 = owed;
        r.r2 = Await.quiescent(tasklet, runs::get, owed) ? runs.get() : BoundedSpin.TIMEOUT;
        r.r3 = maxActive.get();
        r.r4 = met;
    }
}

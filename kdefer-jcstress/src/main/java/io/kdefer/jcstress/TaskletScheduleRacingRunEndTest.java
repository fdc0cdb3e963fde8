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
 * A {@code Tasklet.schedule()} racing the end of a run is never lost: wherever it lands in the run
 * (before the scheduled mark is cleared, during the callback, between the callback's return and
 * the release of the run lock, or after), a callback starts after it.
 * <pre>
 *   CPU0: r0 = t.schedule(), runs t here     CPU1: flag = 1 (volatile); r1 = t.schedule()
 *   callback: r2 = flag (volatile), last run's value kept
 *   Forbidden: r2 == 0 (no run started after CPU1's call)
 * </pre>
 * CPU 0 schedules with bottom halves disabled, so the run happens on its own thread inside
 * {@code local_bh_enable()}, and the callback lingers a little; CPU 1's call therefore falls
 * across all phases of that run. When it returns {@code true}, its run happens on CPU 1 (in
 * {@code ksoftirqd/1}) once CPU 0 released the run lock; the runner there re-queues it meanwhile.
 * When it returns {@code false}, it was coalesced into a run that had not started yet; the flag is
 * a volatile write, which that run must see (a plain write need not be: see
 * {@link TaskletCoalescedSchedulePlainTest}).
 *
 * <p>Result: {@code r1}, {@code r2} = the two {@code schedule()} results (1 = true); {@code r3} = 1
 * when CPU 1 found the tasklet running just before its call (its call raced the run itself), else
 * 0; {@code r4} = the flag as read by the last run ({@code -1}: the runs owed did not happen within
 * the deadline; {@code -2}: more runs than {@code true} results).
 */
@JCStressTest
@Outcome(id = "1, 0, [01], 1", expect = ACCEPTABLE,
        desc = "CPU1's call came before CPU0's run cleared the scheduled mark: coalesced into that run, "
                + "which saw the flag.")
@Outcome(id = "1, 1, 0, 1", expect = ACCEPTABLE,
        desc = "CPU1's call came after CPU0's run: it queued a second run, which saw the flag.")
@Outcome(id = "1, 1, 1, 1", expect = ACCEPTABLE,
        desc = "CPU1's call came while CPU0's run was in progress: it queued a second run, which waited "
                + "for the run lock and saw the flag.")
@Outcome(id = "0, 1, 0, 1", expect = ACCEPTABLE,
        desc = "CPU1 queued first and CPU0's call was coalesced: the one run saw the flag.")
@Outcome(id = ".*, 0", expect = FORBIDDEN,
        desc = "LOST: the last run did not see CPU1's flag, so no run started after CPU1's schedule().")
@Outcome(id = ".*, -1", expect = FORBIDDEN,
        desc = "TIMEOUT: a run owed to a call that returned true did not happen within the deadline.")
@Outcome(id = ".*, -2", expect = FORBIDDEN,
        desc = "EXTRA RUN: more runs than calls that returned true.")
@Outcome(expect = FORBIDDEN, desc = "Anything else (neither call queued an idle tasklet).")
@State
public class TaskletScheduleRacingRunEndTest {
    /** Spin hints the callback lingers for, before and after it reads the flag. */
    private static final int CALLBACK_SPINS = 10;
    private static final int EXTRA_RUN = -2;

    private final AtomicInteger runs = new AtomicInteger();
    private final Tasklet tasklet = Tasklet.setup(TestKernel.KERNEL, t -> callback());
    private volatile int flag;
    private int lastSeen = -1;   // written by the callback, published by the increment of runs

    private void callback() {
        BoundedSpin.spin(CALLBACK_SPINS);
        lastSeen = flag;
        runs.incrementAndGet();
        BoundedSpin.spin(CALLBACK_SPINS);
    }

    @Actor
    public void runner(IIII_Result r) {
        r.r1 = TestKernel.scheduleAndRunHere(TestKernel.CPU0, tasklet::schedule) ? 1 : 0;
    }

    @Actor
    public void scheduler(IIII_Result r) {
        TestKernel.onCpu(TestKernel.CPU1, () -> {
            flag = 1;
            r.r3 = tasklet.isRunning() ? 1 : 0;   // only CPU 0's run can be in progress here
            r.r2 = tasklet.schedule() ? 1 : 0;
            return null;
        });
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        int owed = r.r1 + r.r2;
        if (!Await.quiescent(tasklet, runs::get, owed)) {
            r.r4 = BoundedSpin.TIMEOUT;
        } else {
            r.r4 = runs.get() == owed ? lastSeen : EXTRA_RUN;
        }
    }
}

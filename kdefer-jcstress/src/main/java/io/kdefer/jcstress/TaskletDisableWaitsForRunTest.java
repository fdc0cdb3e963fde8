package io.kdefer.jcstress;

import io.kdefer.testkit.BoundedSpin;
import io.kdefer.tasklet.Tasklet;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIII_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code Tasklet.disable()}: when it returns, no callback is running and none starts until the
 * matching {@code enable()}; the effects of the last finished run are visible to the caller. A
 * schedule kept while disabled runs after the enable.
 * <pre>
 *   CPU0: t.schedule(), runs t here        T1: t.disable()
 *   callback: started++; data = 1;             r0 = data (plain); r1 = started; r2 = finished
 *             ...; finished++                  ...; r3 = started; t.enable()
 *                                          afterwards: r4 = runs
 *   Forbidden: r1 != r2 (a callback was running when disable() returned)
 *   Forbidden: r3 != r1 (a callback started while disabled)
 *   Forbidden: r2 == 1, r0 == 0 (the finished run's write is not visible)
 *   Forbidden: r4 != 1 (the kept schedule did not run after enable)
 * </pre>
 * CPU 0 schedules with bottom halves disabled, so the run happens on the actor's own thread at
 * the same time as T1's {@code disable()}, and the callback lingers a little: {@code disable()}
 * lands before the run (which must then wait for the enable), during it (and must wait for its
 * end), or after it. {@code data} is a plain field, read before any other synchronisation of
 * T1's, so its visibility comes from {@code disable()} itself.
 *
 * <p>Result: {@code r1..r4} as above ({@code started} and {@code finished} count callbacks
 * entered and left); {@code r5} = runs once the tasklet is idle after the enable ({@code -1}: no
 * run within the deadline).
 */
@JCStressTest
@Outcome(id = "0, 0, 0, 0, 1", expect = ACCEPTABLE,
        desc = "disable() came first: the run waited for enable(), then happened.")
@Outcome(id = "1, 1, 1, 1, 1", expect = ACCEPTABLE,
        desc = "The run finished before disable() returned (disable waited for it, or came after it); "
                + "its write is visible.")
@Outcome(id = "[-0-9]+, 1, 0, .*", expect = FORBIDDEN,
        desc = "RUNNING: a callback was still running when disable() returned.")
@Outcome(id = "[-0-9]+, 0, 0, 1, .*", expect = FORBIDDEN,
        desc = "STARTED WHILE DISABLED: a callback started after disable() returned, before enable().")
@Outcome(id = "0, 1, 1, .*", expect = FORBIDDEN,
        desc = "STALE: the run finished before disable() returned but its write is not visible.")
@Outcome(id = ".*, -1", expect = FORBIDDEN,
        desc = "TIMEOUT: the schedule kept while disabled did not run after enable().")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class TaskletDisableWaitsForRunTest {
    /** Spin hints the callback lingers for. */
    private static final int CALLBACK_SPINS = 50;
    /** Spin hints the disabler waits before it looks again for a run started while disabled. */
    private static final int DISABLED_SPINS = 50;

    private final AtomicInteger started = new AtomicInteger();
    private final AtomicInteger finished = new AtomicInteger();
    private final Tasklet tasklet = Tasklet.setup(TestKernel.KERNEL, t -> callback());
    private int data;   // plain: written by the callback, read by the disabler

    private void callback() {
        started.incrementAndGet();
        data = 1;
        BoundedSpin.spin(CALLBACK_SPINS);
        finished.incrementAndGet();
    }

    @Actor
    public void runner() {
        TestKernel.scheduleAndRunHere(TestKernel.CPU0, tasklet::schedule);
    }

    @Actor
    public void disabler(IIIII_Result r) {
        tasklet.disable();
        r.r1 = data;
        r.r2 = started.get();
        r.r3 = finished.get();
        BoundedSpin.spin(DISABLED_SPINS);
        r.r4 = started.get();
        tasklet.enable();
    }

    @Arbiter
    public void arbiter(IIIII_Result r) {
        r.r5 = Await.quiescent(tasklet, started::get, 1) ? finished.get() : BoundedSpin.TIMEOUT;
    }
}

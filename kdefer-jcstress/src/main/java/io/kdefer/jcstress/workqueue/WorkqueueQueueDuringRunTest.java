package io.kdefer.jcstress.workqueue;

import io.kdefer.testkit.BoundedSpin;
import io.kdefer.workqueue.Work;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.jcstress.workqueue.WqKernel.CPU0;
import static io.kdefer.jcstress.workqueue.WqKernel.CPU1;
import static io.kdefer.jcstress.workqueue.WqKernel.PERCPU;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * A {@code Workqueue.queue()} made while the item runs queues it again, and the item runs exactly
 * once more: two runs in all, however many further calls come before that second run starts
 * (spec §4.2: PENDING is cleared just before the function is called; §10.3 items 49 and 50).
 * <pre>
 *   CPU0: r0 = wq.queueOn(0, w)        CPU1: wait until run 1 started; about = 1;
 *                                            r1 = wq.queueOn(0, w); r2 = wq.queueOn(0, w)
 *   w, run 1: started = 1; wait until about; linger
 *   afterwards: r3 = runs
 *   Forbidden: r1 == false (the item was not pending while it ran)
 *   Forbidden: r3 != 1 + r1 + r2 (a call that returned true got no run, or a false one got one)
 * </pre>
 * Run 1 holds (bounded) until CPU 1 is about to call, so the first call always falls in the run;
 * it then lingers for 0 or 30 spin hints (one value per state, in turn). With no linger the
 * function returns while CPU 1 makes its calls, so they land across the end of the run: while the
 * worker takes the item out of its busy table, or after, when the same worker may already have
 * started run 2 (then the second call finds the item idle again and returns true: three runs).
 * Both calls target CPU 0's pool from CPU 1.
 *
 * <p>How it fails. Checked by temporary edits of the core (sanity mode, JDK 17, 2-CPU x86-64, 112
 * samples over 28 JVM configurations):
 * <ul>
 *   <li>PENDING cleared after the function returns instead of before it is called: 103 of 112
 *       outcomes forbidden, nearly all {@code 1, 0, 0, 1} (the call during the run found the item
 *       pending, and the re-queue was lost);</li>
 *   <li>{@code __queue_work} taking an item that is executing on the target pool as already served
 *       (PENDING cleared, the item not linked): 90 of 112 outcomes forbidden, most of them
 *       {@code 1, 1, 1, -1} (the runs owed never came).</li>
 * </ul>
 *
 * <p>Result: {@code r1} = CPU 0's result; {@code r2}, {@code r3} = CPU 1's two results
 * ({@code -1, -1}: run 1 never started); {@code r4} = runs once the item is idle again
 * ({@code -1}: the runs owed did not happen within the deadline).
 */
@JCStressTest
@Outcome(id = "1, 1, 0, 2", expect = ACCEPTABLE,
        desc = "The first call re-queued the running item, the second found it pending: two runs.")
@Outcome(id = "1, 1, 1, 3", expect = ACCEPTABLE,
        desc = "Run 2 had already started when the second call came: it queued a third run.")
@Outcome(id = "1, 0, .*", expect = FORBIDDEN,
        desc = "NOT RE-QUEUED: a queue() while the item ran found it pending.")
@Outcome(id = {"1, 1, 0, 1", "1, 1, 1, [12]"}, expect = FORBIDDEN,
        desc = "LOST RUN: a queue() that returned true was not followed by a run.")
@Outcome(id = ".*, -1", expect = FORBIDDEN,
        desc = "TIMEOUT: a run owed did not happen within the deadline, or run 1 never started.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: runs differ from the calls that returned true.")
@State
public class WorkqueueQueueDuringRunTest {
    /** Spin hints run 1 lingers for after CPU 1 announced its calls; one value per state, in turn. */
    private static final int[] LINGER = {0, 30};
    private static final AtomicInteger STATES = new AtomicInteger();

    private final int linger = LINGER[Math.floorMod(STATES.getAndIncrement(), LINGER.length)];
    private final AtomicInteger runs = new AtomicInteger();
    private final Work work = new Work(w -> run());
    private volatile boolean started;
    private volatile boolean about;

    private void run() {
        if (runs.get() == 0) {
            started = true;
            BoundedSpin.hold(() -> about);
            BoundedSpin.spin(linger);
        }
        runs.incrementAndGet();
    }

    @Actor
    public void cpu0(IIII_Result r) {
        r.r1 = WqKernel.bit(PERCPU.queueOn(CPU0, work));
    }

    @Actor
    public void cpu1(IIII_Result r) {
        if (!BoundedSpin.until(() -> started)) {
            about = true;
            r.r2 = r.r3 = WqKernel.TIMEOUT;
            return;
        }
        WqKernel.onCpu(CPU1, () -> {
            about = true;
            r.r2 = WqKernel.bit(PERCPU.queueOn(CPU0, work));
            r.r3 = WqKernel.bit(PERCPU.queueOn(CPU0, work));
            return null;
        });
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        int owed = r.r1 + Math.max(r.r2, 0) + Math.max(r.r3, 0);
        r.r4 = WqKernel.quiescent(work, runs::get, owed) ? runs.get() : WqKernel.TIMEOUT;
    }
}

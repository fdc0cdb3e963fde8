package io.kdefer.jcstress.workqueue;

import io.kdefer.workqueue.Work;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.jcstress.workqueue.WqKernel.BH;
import static io.kdefer.jcstress.workqueue.WqKernel.CPU0;
import static io.kdefer.jcstress.workqueue.WqKernel.CPU1;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Two concurrent {@code Workqueue.queue()} calls on an idle item, from CPU 0 and CPU 1, while the
 * item cannot start: exactly one returns {@code true}, and the item runs exactly once (spec §4.4;
 * §10.3 items 48 and 50).
 * <pre>
 *   CPU0 (bottom halves disabled): r0 = bh.queueOn(0, w)     CPU1: r1 = bh.queueOn(0, w)
 *   afterwards: r2 = runs
 *   Forbidden: r0 == r1 (both queued it, or neither did);  r2 != 1
 * </pre>
 * The item is on the BH queue of CPU 0, and CPU 0's actor holds CPU 0's bottom halves from before
 * its call until CPU 1's call has returned, so no run can start (and clear PENDING) between the two
 * calls: a second {@code true} can only come from two callers both taking the PENDING bit. The two
 * actors meet right before their calls, so the calls start within a cache-line transfer of each
 * other. The run then happens in CPU 0's {@code local_bh_enable()}, on the actor's thread.
 *
 * <p>How it fails. With the PENDING test-and-set in {@code queueOn} split by a temporary edit of
 * the core into a volatile read and a volatile write (check, then set), both callers could take
 * PENDING: the second one then failed to link the item a second time ({@code IllegalStateException}
 * "already on" the worklist, recorded as {@code -3}). A sanity run (JDK 17, 2-CPU x86-64) gave 9
 * of 112 outcomes THREW, and 8 of 28 JVM configurations failed.
 *
 * <p>Result: {@code r1}, {@code r2} = the two results (1 = true, 0 = false, {@code -3}: the call
 * threw {@code IllegalStateException}); {@code r3} = runs once the item is idle again ({@code -1}:
 * the run owed did not happen within the deadline, or the actors never met).
 */
@JCStressTest
@Outcome(id = {"1, 0, 1", "0, 1, 1"}, expect = ACCEPTABLE,
        desc = "One call queued the idle item, the other found it pending: one run.")
@Outcome(id = "1, 1, .*", expect = FORBIDDEN, desc = "BOTH TRUE: both calls took PENDING of one idle item.")
@Outcome(id = "0, 0, .*", expect = FORBIDDEN, desc = "BOTH FALSE: neither call queued the idle item.")
@Outcome(id = {"-3, .*", ".*, -3, .*"}, expect = FORBIDDEN, desc = "THREW: a queue() call failed inside the core.")
@Outcome(id = ".*, -1", expect = FORBIDDEN,
        desc = "TIMEOUT: the run owed did not happen within the deadline, or the actors never met.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: the number of runs differs from the calls that returned true.")
@State
public class WorkqueueConcurrentQueueTest {
    private static final int THREW = -3;

    private final AtomicInteger runs = new AtomicInteger();
    private final Work work = new Work(w -> runs.incrementAndGet());
    private volatile boolean arrived0;
    private volatile boolean arrived1;
    private volatile boolean done1;
    private volatile boolean missed;   // a wait for the other actor ran out

    /** This state's queue() call: 1, 0, or {@link #THREW}. */
    private int queueOwn() {
        try {
            return WqKernel.bit(BH.queueOn(CPU0, work));
        } catch (IllegalStateException e) {
            return THREW;
        }
    }

    @Actor
    public void cpu0(III_Result r) {
        int[] result = new int[1];
        WqKernel.queueBhAndRunHere(CPU0, () -> {
            arrived0 = true;
            if (!WqKernel.spinUntil(() -> arrived1)) {
                missed = true;
            }
            result[0] = queueOwn();
            // keep CPU 0's bottom halves until CPU 1's call returned: the item cannot start before
            if (!WqKernel.meet(() -> done1)) {
                missed = true;
            }
            return true;
        });
        r.r1 = result[0];
    }

    @Actor
    public void cpu1(III_Result r) {
        r.r2 = WqKernel.onCpu(CPU1, () -> {
            arrived1 = true;
            if (!WqKernel.spinUntil(() -> arrived0)) {
                missed = true;
            }
            int q = queueOwn();
            done1 = true;
            return q;
        });
    }

    @Arbiter
    public void arbiter(III_Result r) {
        int owed = Math.max(r.r1, 0) + Math.max(r.r2, 0);
        boolean quiet = WqKernel.quiescent(work, runs::get, owed);
        r.r3 = !quiet || missed ? WqKernel.TIMEOUT : runs.get();
    }
}

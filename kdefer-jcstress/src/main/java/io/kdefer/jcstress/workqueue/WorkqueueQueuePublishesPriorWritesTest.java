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
 * A {@code Workqueue.queue()} that returns {@code true} publishes the caller's earlier writes to
 * the run it queued: for an idle item, and for an item that is running at the time of the call,
 * whose new run must start after the call (spec §4.4; §10.3 items 49 and 52).
 * <pre>
 *   CPU0: y = 1; r0 = wq.queueOn(0, w)       CPU1: wait until run 1 started; x = 1; r1 = wq.queueOn(0, w)
 *   w: run 1: r2 = y; started = 1; see below. Every run: r3 = x          (x, y plain)
 *   Forbidden: r0 == true and r2 == 0
 *   Forbidden: r1 == true and the last run read r3 == 0
 *   Forbidden: r1 == false (PENDING is clear once a run has started), runs != 2
 * </pre>
 * The queue is a per-CPU workqueue; both calls target CPU 0's pool, so the second queueing meets
 * the running item in the pool it runs on (the worker that runs it takes the re-queued item onto
 * its own list: {@code assign_work}). CPU 1 waits until run 1 has started, so its call never finds
 * the item pending, and the states cycle through three phases that put the call at different
 * points of run 1: in phase 0 run 1 holds (bounded) until CPU 1 announces its call, then lingers
 * 30 spin hints (the call lands inside the function); in phase 1 it holds and returns at once (the
 * call lands across the end of the run); in phase 2 it does not wait (the call usually comes
 * after the run). CPU 1 announces its call <em>before</em> it writes {@code x}, and the wait reads
 * a flag run 1 sets after it read {@code y}: nothing orders the write of {@code x} before run 2
 * but the queueing.
 *
 * <p>How it fails. A plain write missed by the run needs a weakly ordered CPU or a JIT reordering
 * (the queueing links the item under the pool lock, which the worker takes before it runs it):
 * run this test on AArch64 too. On x86 it catches a core whose {@code true} is not followed by a
 * run that starts after the call. Checked by temporary edits of the core (sanity mode, JDK 17,
 * 2-CPU x86-64, 112 samples over 28 JVM configurations):
 * <ul>
 *   <li>{@code __queue_work} taking an item that is executing on the target pool as already served
 *       (PENDING cleared, the item not linked): 75 of 112 outcomes forbidden (71 TIMEOUT, the
 *       run owed never came), all 28 configurations failed;</li>
 *   <li>PENDING cleared after the function returns instead of before it is called: 76 of 112
 *       outcomes PENDING ({@code 1, 1, 0, 1}), all 28 configurations failed.</li>
 * </ul>
 *
 * <p>Result: {@code r1} = CPU 0's result (1 = true); {@code r2} = {@code y} as read by run 1;
 * {@code r3} = CPU 1's result ({@code -1}: run 1 never started); {@code r4} = {@code x} as read by
 * the last run ({@code -1}: the runs owed did not happen within the deadline; {@code -2}: more runs
 * than {@code true} results).
 */
@JCStressTest
@Outcome(id = "1, 1, 1, 1", expect = ACCEPTABLE,
        desc = "Both calls queued the item; each run saw the write made before the call that queued it.")
@Outcome(id = "1, 0, .*", expect = FORBIDDEN,
        desc = "STALE: run 1 missed the write made before the queue() that returned true.")
@Outcome(id = "1, 1, 1, 0", expect = FORBIDDEN,
        desc = "STALE: the last run missed CPU1's write, though CPU1's queue() returned true.")
@Outcome(id = "1, 1, 0, .*", expect = FORBIDDEN,
        desc = "PENDING: a queue() after the run had started found the item still pending.")
@Outcome(id = ".*, -1", expect = FORBIDDEN,
        desc = "TIMEOUT: a run owed to a call that returned true did not happen within the deadline.")
@Outcome(id = ".*, -2", expect = FORBIDDEN, desc = "EXTRA RUN: more runs than calls that returned true.")
@Outcome(expect = FORBIDDEN, desc = "Anything else (the first queue() of an idle item returned false).")
@State
public class WorkqueueQueuePublishesPriorWritesTest {
    /** Spin hints run 1 lingers for in phase 0. */
    private static final int LINGER = 30;
    private static final AtomicInteger STATES = new AtomicInteger();

    /** 0: run 1 waits for CPU 1's call and lingers; 1: waits and returns; 2: does not wait. */
    private final int phase = Math.floorMod(STATES.getAndIncrement(), 3);
    private final AtomicInteger runs = new AtomicInteger();
    private final Work work = new Work(w -> run());
    private volatile boolean started;
    private volatile boolean about;
    private int x;             // plain: written by CPU1 before its queue()
    private int y;             // plain: written by CPU0 before its queue()
    private int seenY = -1;    // written by the runs, published by the increment of runs
    private int seenX = -1;

    private void run() {
        if (runs.get() == 0) {
            seenY = y;
            started = true;
            if (phase != 2) {
                BoundedSpin.hold(() -> about);
            }
            if (phase == 0) {
                BoundedSpin.spin(LINGER);
            }
        }
        seenX = x;
        runs.incrementAndGet();
    }

    @Actor
    public void cpu0(IIII_Result r) {
        r.r1 = WqKernel.bit(WqKernel.onCpu(CPU0, () -> {
            y = 1;
            return PERCPU.queueOn(CPU0, work);
        }));
    }

    @Actor
    public void cpu1(IIII_Result r) {
        if (!BoundedSpin.until(() -> started)) {
            about = true;
            r.r3 = WqKernel.TIMEOUT;
            return;
        }
        r.r3 = WqKernel.bit(WqKernel.onCpu(CPU1, () -> {
            about = true;   // before x: run 1's wait for it orders nothing that run 2 reads
            x = 1;
            return PERCPU.queueOn(CPU0, work);
        }));
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        int owed = r.r1 + Math.max(r.r3, 0);
        boolean quiet = WqKernel.quiescent(work, runs::get, owed);
        r.r2 = seenY;
        r.r4 = !quiet ? WqKernel.TIMEOUT : runs.get() != owed ? WqKernel.EXTRA_RUN : seenX;
    }
}

package io.kdefer.jcstress.workqueue;

import io.kdefer.testkit.BoundedSpin;
import io.kdefer.workqueue.Work;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIII_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.jcstress.workqueue.WqKernel.CPU0;
import static io.kdefer.jcstress.workqueue.WqKernel.CPU1;
import static io.kdefer.jcstress.workqueue.WqKernel.PERCPU;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code Work.cancelSync()}: when it returns, the item is neither pending nor running, the
 * effects of its last run are visible to the caller, and no further run starts (nobody queues it
 * afterwards), even for an item that keeps queueing itself (spec §4.7; §10.3 items 71, 72, 73).
 * <pre>
 *   CPU0: wq.queueOn(0, w)
 *   w: n = ++started; (run k: see below) wq.queue(w) while n &lt; 64; data = n (plain); finished = n
 *   CPU1: wait until started &gt;= k; about = 1; c = w.cancelSync();
 *         d = data (plain); s = started; f = finished; p = w.isPending(); linger; s2 = started
 *   Forbidden: s != f (a run was in progress when cancelSync() returned)
 *   Forbidden: d != f (the last finished run's write is not visible)
 *   Forbidden: p (still pending); s2 != s (a run started after cancelSync() returned)
 * </pre>
 * The item re-queues itself from every run, a chain of at most 64 runs. CPU 1 cancels once run
 * {@code k} has started ({@code k} = 1, 2 or 3, in turn), so CPU 0's queueing always comes before
 * the cancel and no run may start after it. The states also cycle through four phases that make
 * the cancel meet run {@code k} in different states:
 * <ul>
 *   <li>{@code 0}: run {@code k} re-queues itself, then holds (bounded) until CPU 1 announces its
 *       cancel and lingers 60 spin hints: the cancel often finds the item both running and pending,
 *       takes the queued instance off and waits for the running one;</li>
 *   <li>{@code 1}: run {@code k} holds, lingers 30 spin hints, re-queues itself, lingers 30 more:
 *       the cancel usually takes PENDING of an item that is only running, and the re-queue made
 *       during its wait must fail;</li>
 *   <li>{@code 2}: run {@code k} holds, re-queues itself and returns: the cancel lands across the end
 *       of the run and the start of the next;</li>
 *   <li>{@code 3}: no hold: the cancel lands anywhere in the chain.</li>
 * </ul>
 * {@code data} is read first, before anything else that could order CPU 1 after the run.
 *
 * <p>How it fails. Checked by temporary edits of the core (sanity mode, JDK 17, 2-CPU x86-64, 112
 * samples over 28 JVM configurations):
 * <ul>
 *   <li>{@code cancelSync()} not waiting for the running instance: 59 of 112 outcomes RUNNING;
 *       all 28 configurations failed;</li>
 *   <li>{@code cancelSync()} without its disable step (PENDING grabbed and cleared, then the running
 *       instance waited for): the re-queue made during the wait got through, 32 of 112 outcomes
 *       were PENDING, STARTED AFTER or RUNNING (the re-queued run had begun); 22 of 28
 *       configurations failed.</li>
 * </ul>
 *
 * <p>Result: {@code r1} = 1 when {@code d == f}, else 0; {@code r2} = {@code s - f}; {@code r3} =
 * {@code p} (1 = pending); {@code r4} = {@code s2 - s}; {@code r5} = {@code c} (1: cancelSync()
 * found the item pending), or {@code -1} when the chain did not end within the deadline (all five
 * are {@code -1} when run {@code k} never started).
 */
@JCStressTest
@Outcome(id = "1, 0, 0, 0, 1", expect = ACCEPTABLE,
        desc = "cancelSync() took a pending instance off the queue and waited for any running one; nothing "
                + "pending or running afterwards, the last run's write visible.")
@Outcome(id = "1, 0, 0, 0, 0", expect = ACCEPTABLE,
        desc = "cancelSync() found the item running but not pending (or idle), and waited for it.")
@Outcome(id = ".*, [1-9][0-9]*, .*, .*, .*", expect = FORBIDDEN,
        desc = "RUNNING: a run was in progress when cancelSync() returned.")
@Outcome(id = "0, 0, .*", expect = FORBIDDEN,
        desc = "STALE: the last finished run's write is not visible after cancelSync().")
@Outcome(id = ".*, .*, 1, .*, .*", expect = FORBIDDEN, desc = "PENDING: the item was pending after cancelSync().")
@Outcome(id = ".*, .*, .*, [1-9][0-9]*, .*", expect = FORBIDDEN,
        desc = "STARTED AFTER: a run started after cancelSync() returned.")
@Outcome(id = ".*, -1", expect = FORBIDDEN,
        desc = "TIMEOUT: run k never started, or the chain did not end within the deadline.")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class WorkCancelSyncWaitsForRunTest {
    /** The longest chain of self-queued runs. */
    private static final int CHAIN = 64;
    /** Spin hints run k lingers for, in two parts around its re-queue (phases 0 and 1). */
    private static final int LINGER = 30;
    /** Spin hints CPU 1 waits after cancelSync() before it looks again for a new run. */
    private static final int AFTER_SPINS = 200;
    private static final AtomicInteger STATES = new AtomicInteger();

    private final int cancelAt;
    /** See the class comment. */
    private final int phase;
    private final AtomicInteger started = new AtomicInteger();
    private final Work work = new Work(w -> run());
    private volatile boolean about;
    private volatile int finished;
    private int data;   // plain: written by each run, read by CPU 1 after cancelSync()

    public WorkCancelSyncWaitsForRunTest() {
        int i = STATES.getAndIncrement();
        phase = Math.floorMod(i, 4);
        cancelAt = 1 + Math.floorMod(i, 3);   // with the phase: twelve combinations in turn
    }

    private void run() {
        int n = started.incrementAndGet();
        if (n != cancelAt || phase == 3) {
            requeue(n);
        } else if (phase == 0) {
            requeue(n);
            BoundedSpin.hold(() -> about);
            BoundedSpin.spin(2 * LINGER);
        } else if (phase == 1) {
            BoundedSpin.hold(() -> about);
            BoundedSpin.spin(LINGER);
            requeue(n);
            BoundedSpin.spin(LINGER);
        } else {
            BoundedSpin.hold(() -> about);
            requeue(n);
        }
        data = n;
        finished = n;
    }

    private void requeue(int n) {
        if (n < CHAIN) {
            PERCPU.queue(work);
        }
    }

    @Actor
    public void cpu0() {
        PERCPU.queueOn(CPU0, work);
    }

    @Actor
    public void cpu1(IIIII_Result r) {
        if (!BoundedSpin.until(() -> started.get() >= cancelAt)) {
            about = true;
            r.r1 = r.r2 = r.r3 = r.r4 = r.r5 = WqKernel.TIMEOUT;
            return;
        }
        WqKernel.onCpu(CPU1, () -> {
            about = true;
            r.r5 = WqKernel.bit(work.cancelSync());
            int d = data;
            int s = started.get();
            int f = finished;
            r.r1 = WqKernel.bit(d == f);
            r.r2 = s - f;
            r.r3 = WqKernel.bit(work.isPending());
            BoundedSpin.spin(AFTER_SPINS);
            r.r4 = started.get() - s;
            return null;
        });
    }

    @Arbiter
    public void arbiter(IIIII_Result r) {
        if (!BoundedSpin.until(() -> work.busy() == 0)) {
            r.r5 = WqKernel.TIMEOUT;   // the chain did not end
        }
    }
}

package io.kdefer.jcstress.workqueue;

import io.kdefer.testkit.BoundedSpin;
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
import static io.kdefer.jcstress.workqueue.WqKernel.KERNEL;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * A {@code Workqueue.queue()} that returns {@code false} because the item is pending (queued, not
 * started) is not a lost event: the pending run sees every store the failed caller made before its
 * call, <em>plain</em> stores included. The failed call still performs an atomic read-modify-write
 * of the item's state word ({@code test_and_set_bit(PENDING)}), and the worker clears PENDING with
 * another one before it calls the function, so the two fully ordered operations meet on one word
 * (spec §4.4, "Memory ordering"; §10.3 item 50: the failed call adds no run).
 * <pre>
 *   CPU0 (task, BH off): a = 1; r0 = bh.queueOn(0, w);   CPU1 (hardirq): wait until queued; delay;
 *         queued = 1; BH on: runs w here                      b = 1; r1 = bh.queueOn(0, w)
 *   w: r2 = b   (a, b plain, on one cache line)
 *   Forbidden: r1 == false and r2 == 0 (the event is lost: nobody will look at b again)
 *   Forbidden: r1 == true and r2 == 0 (the run CPU1's call queued missed its write)
 * </pre>
 * This is the store-buffering pattern: CPU1 stores {@code b} and then loads the state word; the
 * worker stores the state word and then loads {@code b}. Only if both middle operations are full
 * fences can neither side miss the other's store. The test therefore wants CPU1's failed call and
 * the worker's clear of PENDING to happen within nanoseconds of each other. The queue is the BH
 * queue ({@code system_bh_wq}): CPU0 queues with bottom halves disabled, and its
 * {@code local_bh_enable()} runs the item on its own thread (the same {@code process_one_work}
 * path as a kworker: clear PENDING, call the function). CPU1 waits until CPU0's call has returned
 * (CPU0 raises a flag before it enables bottom halves), then waits a number of spin hints that
 * changes from state to state (0 to 31), so that its call sweeps across the interval between
 * CPU0's queueing and CPU0's clear of PENDING and read of {@code b}. CPU0 writes {@code a}, which
 * shares {@code b}'s cache line, so that CPU1's store misses its cache and waits in the store
 * buffer while CPU1 goes on to the state word.
 *
 * <p>CPU1's call is made in hardirq context on {@code cpu/1} ({@code smpCallFunctionSingle}), as
 * an interrupt handler that records an event and queues the work to handle it does. A call from a
 * thread outside the kernel would not do: its entry section (the close protocol of
 * {@code io.kdefer.internal.Lifecycle}) begins with a volatile store, which on x86 is a full fence
 * and would hide a missing one in the queueing.
 *
 * <p>How it fails. With the failed-queue RMW ({@code Workqueue.claim}) preceded, by a temporary
 * edit of the core, by a volatile read of the state word (a fast path {@code if (pending) return
 * false}; x86 may let that load pass the caller's earlier store), quick runs (JDK 17, 2-CPU x86-64)
 * gave 98 outcomes LOST EVENT ({@code 1, 0, 0}) in 413,685 samples (11 of 28 JVM configurations
 * failed) and, on a later core, 46 in 685,909 (10 of 28 failed); a sanity run is too short to catch
 * it. With the real core, quick runs gave none in 192,919 and 1,472,284 samples, and on the later
 * core none in 609,222. Run this test on AArch64 too.
 *
 * <p>Result: {@code r1}, {@code r2} = the two results (1 = true); {@code r3} = {@code b} as read by
 * the last run ({@code -1}: the runs owed did not happen within the deadline, or the actors never
 * met; {@code -2}: more runs than {@code true} results).
 */
@JCStressTest
@Outcome(id = "1, 0, 1", expect = ACCEPTABLE,
        desc = "CPU1's call found the item pending: coalesced into CPU0's run, which saw CPU1's write.")
@Outcome(id = "1, 1, 1", expect = ACCEPTABLE,
        desc = "CPU1's call came after CPU0's run had started: a second run, which saw the write.")
@Outcome(id = "[01], 0, 0", expect = FORBIDDEN,
        desc = "LOST EVENT: CPU1's queue() failed because the item was pending, and that run missed its write.")
@Outcome(id = "[01], 1, 0", expect = FORBIDDEN,
        desc = "STALE: CPU1's queue() returned true, and the run it queued missed its write.")
@Outcome(id = ".*, -1", expect = FORBIDDEN,
        desc = "TIMEOUT: a run owed to a call that returned true did not happen within the deadline.")
@Outcome(id = ".*, -2", expect = FORBIDDEN, desc = "EXTRA RUN: more runs than calls that returned true.")
@Outcome(expect = FORBIDDEN, desc = "Anything else (CPU0's queue() of the idle item returned false).")
@State
public class WorkqueueFailedQueuePublishesTest {
    /** CPU1's delay after CPU0's call returned, in spin hints: 0 to 31, one value per state in turn. */
    private static final int DELAYS = 32;
    private static final AtomicInteger STATES = new AtomicInteger();

    private final int delay = Math.floorMod(STATES.getAndIncrement(), DELAYS);
    private final AtomicInteger runs = new AtomicInteger();
    private final Work work = new Work(w -> run());
    private volatile boolean arrived1;
    private volatile boolean queued0;
    private volatile boolean missed;   // an actor's wait for the other ran out
    private int a;                // plain: CPU0's, on b's cache line
    private int b;                // plain: written by CPU1 before its queue()
    private int seenB = -1;       // written by the runs, published by the increment of runs
    private int result1;          // CPU1's result, published by smpCallFunctionSingle's wait

    private void run() {
        seenB = b;
        runs.incrementAndGet();
    }

    @Actor
    public void cpu0(III_Result r) {
        r.r1 = WqKernel.bit(WqKernel.queueBhAndRunHere(CPU0, () -> {
            a = 1;
            if (!WqKernel.meet(() -> arrived1)) {
                missed = true;
            }
            boolean q = BH.queueOn(CPU0, work);
            queued0 = true;
            return q;
        }));
    }

    @Actor
    public void cpu1(III_Result r) {
        KERNEL.smpCallFunctionSingle(CPU1, this::hardirq, true);
        r.r2 = result1;
    }

    /** CPU1's part, in hardirq context on {@code cpu/1}: a kernel thread, no entry section. */
    private void hardirq() {
        arrived1 = true;
        if (!WqKernel.spinUntil(() -> queued0)) {
            missed = true;
        }
        BoundedSpin.spin(delay);
        b = 1;
        result1 = WqKernel.bit(BH.queueOn(CPU0, work));
    }

    @Arbiter
    public void arbiter(III_Result r) {
        int owed = r.r1 + r.r2;
        if (!WqKernel.quiescent(work, runs::get, owed) || missed) {
            r.r3 = WqKernel.TIMEOUT;
        } else {
            r.r3 = runs.get() != owed ? WqKernel.EXTRA_RUN : seenB;
        }
    }
}

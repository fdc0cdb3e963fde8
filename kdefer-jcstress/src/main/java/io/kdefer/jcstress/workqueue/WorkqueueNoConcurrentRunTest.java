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
import static io.kdefer.jcstress.workqueue.WqKernel.KERNEL;
import static io.kdefer.jcstress.workqueue.WqKernel.PERCPU;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Non-reentrancy across CPUs: an item queued on a per-CPU workqueue from CPU 0, and queued again
 * from CPU 1 while it runs on CPU 0's pool, never runs on two workers at once. The second queueing
 * finds the item executing on its last pool for the same workqueue and goes to that pool, where
 * the worker running it runs it again afterwards (spec §4.5; §10.3 item 55).
 * <pre>
 *   CPU0: r0 = wq.queue(w)             CPU1: wait until run 1 started; r1 = wq.queue(w)
 *   w: c = ++active; maxActive = max(maxActive, c); run 1: started = 1, see below; --active
 *      (a later run records its CPU first)
 *   Forbidden: maxActive == 2
 * </pre>
 * Both calls use {@code queue()}, which picks the caller's CPU: CPU 1's call would go to CPU 1's
 * pool if the item were not running. CPU 1 waits until run 1 has started, and the states cycle
 * through three phases that put its call at different points of run 1:
 * <ul>
 *   <li>{@code 0}: run 1 holds (bounded) until CPU 1 is about to call, then lingers until a second
 *       run has started, at most 200 µs: the call lands inside the function, and with a correct
 *       core no second run can start, so the function lingers the whole time; a second run on
 *       CPU 1's pool would have that long to be woken and overlap it;</li>
 *   <li>{@code 1}: run 1 holds the same way and returns at once: the call lands across the end of
 *       the run, while the worker takes the item out of its busy table, or just after;</li>
 *   <li>{@code 2}: run 1 does not wait: the call usually comes after the run, and run 2 rightly
 *       happens on CPU 1.</li>
 * </ul>
 * A column records the CPU of run 2, so that both paths (redirected to CPU 0, or queued on CPU 1
 * after run 1 ended) are seen to be exercised.
 *
 * <p>How it fails. With the non-reentrancy lookup in {@code __queue_work} removed by a temporary
 * edit of the core (the item always goes to the pool of the CPU it is queued for), a sanity run
 * (JDK 17, 2-CPU x86-64) gave 35 of 112 outcomes OVERLAP ({@code 2, 2, 2, 1}: nearly every state
 * of phase 0), and 26 of 28 JVM configurations failed.
 *
 * <p>Result: {@code r1} = how many of the two calls returned {@code true}; {@code r2} = runs once
 * the item is idle again ({@code -1}: the runs owed did not happen within the deadline, or run 1
 * never started); {@code r3} = the largest number of runs seen in progress at once; {@code r4} =
 * the CPU run 2 ran on.
 */
@JCStressTest
@Outcome(id = "2, 2, 1, 0", expect = ACCEPTABLE,
        desc = "CPU1's call met run 1 on CPU0's pool: run 2 followed it there.")
@Outcome(id = "2, 2, 1, 1", expect = ACCEPTABLE,
        desc = "CPU1's call came after run 1 had left the pool: run 2 ran on CPU1.")
@Outcome(id = ".*, .*, 2, .*", expect = FORBIDDEN, desc = "OVERLAP: two runs of the item were in progress at once.")
@Outcome(id = ".*, -1, .*, .*", expect = FORBIDDEN,
        desc = "TIMEOUT: a run owed did not happen within the deadline, or run 1 never started.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: runs differ from the calls that returned true.")
@State
public class WorkqueueNoConcurrentRunTest {
    /** How long run 1 lingers in phase 0, waiting for a second run to start (none may). */
    private static final long LINGER_NANOS = 200_000;
    private static final AtomicInteger STATES = new AtomicInteger();

    /** 0: run 1 waits for CPU 1's call and lingers; 1: waits and returns; 2: does not wait. */
    private final int phase = Math.floorMod(STATES.getAndIncrement(), 3);
    private final AtomicInteger runs = new AtomicInteger();
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicInteger maxActive = new AtomicInteger();
    private final Work work = new Work(w -> run());
    private volatile boolean started;
    private volatile boolean about;
    private volatile int secondCpu = -1;

    private void run() {
        int now = active.incrementAndGet();
        maxActive.accumulateAndGet(now, Math::max);
        if (started) {
            secondCpu = KERNEL.smpProcessorId();
        } else {
            started = true;
            if (phase != 2) {
                BoundedSpin.hold(() -> about);
            }
            if (phase == 0) {
                long start = System.nanoTime();
                while (secondCpu < 0 && System.nanoTime() - start < LINGER_NANOS) {
                    Thread.yield();   // the host may have fewer cores than busy threads
                }
            }
        }
        active.decrementAndGet();
        runs.incrementAndGet();
    }

    @Actor
    public void cpu0(IIII_Result r) {
        r.r1 = WqKernel.bit(WqKernel.onCpu(CPU0, () -> PERCPU.queue(work)));
    }

    @Actor
    public void cpu1(IIII_Result r) {
        if (!BoundedSpin.until(() -> started)) {
            about = true;
            r.r2 = WqKernel.TIMEOUT;
            return;
        }
        r.r2 = WqKernel.bit(WqKernel.onCpu(CPU1, () -> {
            about = true;
            return PERCPU.queue(work);
        }));
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        // the actors left their results in r1 and r2 (r2 = -1: run 1 never started)
        boolean timedOut = r.r2 == WqKernel.TIMEOUT;
        r.r1 += Math.max(r.r2, 0);
        r.r2 = timedOut || !WqKernel.quiescent(work, runs::get, r.r1) ? WqKernel.TIMEOUT : runs.get();
        r.r3 = maxActive.get();
        r.r4 = secondCpu;
    }
}

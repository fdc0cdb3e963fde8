package io.kdefer.jcstress.workqueue;

import io.kdefer.workqueue.Work;
import io.kdefer.workqueue.Workqueue;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.jcstress.workqueue.WqKernel.CPU0;
import static io.kdefer.jcstress.workqueue.WqKernel.CPU1;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code Workqueue.flush()}: when it returns, every item whose queueing happened before the call
 * has finished its run, and the run's writes are visible to the caller; that includes items parked
 * on the inactive list by {@code max_active} and items on other CPUs' pools (spec §4.6, §5.8;
 * §10.3 item 65).
 * <pre>
 *   wq: per-CPU, max_active 1
 *   CPU0: wq.queueOn(0, a); queued = 1; wq.queueOn(0, b); queued = 2; wq.queueOn(1, c); queued = 3
 *   each item i: linger; d[i] = 1 (plain); done |= 1 &lt;&lt; i
 *   (linger: until CPU1's flush() returned, at most 200 µs)
 *   CPU1: wait until queued >= k; n = queued; wq.flush(); r1 = d[0..n) (plain); r2 = done
 *   Forbidden: an item i &lt; n whose run had not finished (r2), or whose write is not visible (r1)
 * </pre>
 * Item {@code b} waits on CPU 0's inactive list behind {@code a} ({@code max_active} 1), and
 * {@code c} runs on CPU 1's pool. The actors meet, then CPU 1 waits until {@code queued} has
 * reached {@code k}, {@code k} = 0, 1, 2 or 3 (one value per state, in turn), reads it again and
 * flushes at once: the flush starts while CPU 0 goes on queueing and the earlier items are queued,
 * inactive or running. An item queued after CPU 1 read {@code queued} may or may not be waited for;
 * the test makes no claim about it. The plain writes are read before {@code done}, so their
 * visibility comes from the flush itself. Each item lingers until CPU 1's {@code flush()} has
 * returned, at most 200 µs: with a correct core that never happens while an item it waits for
 * runs, so those items linger the full time; a flush that returns early then finds the item still
 * running, whatever the wake-up latency of CPU 1.
 *
 * <p>How it fails. With the in-flight count of an item retired by a temporary edit of the core when
 * a worker takes the item (before its function runs) rather than when the run ends, a sanity run
 * (JDK 17, 2-CPU x86-64) gave 73 of 112 outcomes NOT FINISHED, and all 28 JVM configurations
 * failed.
 *
 * <p>Result: {@code r1} = {@code n}, the items known queued before the flush ({@code -1}: the actors
 * never met); {@code r2} = how many of those had finished when flush() returned; {@code r3} = how
 * many of those writes were visible.
 */
@JCStressTest
@Outcome(id = {"0, 0, 0", "1, 1, 1", "2, 2, 2", "3, 3, 3"}, expect = ACCEPTABLE,
        desc = "flush() returned after every item queued before it had run, with its write visible.")
@Outcome(id = {"1, 0, .*", "2, [01], .*", "3, [0-2], .*"}, expect = FORBIDDEN,
        desc = "NOT FINISHED: an item queued before flush() had not finished when it returned.")
@Outcome(id = {"1, 1, 0", "2, 2, [01]", "3, 3, [0-2]"}, expect = FORBIDDEN,
        desc = "STALE: an item queued before flush() finished, but its write was not visible after it.")
@Outcome(id = "-1, .*", expect = FORBIDDEN, desc = "TIMEOUT: the actors never met.")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class WorkqueueFlushWaitsForQueuedTest {
    /** max_active 1: a second item on one CPU waits on the inactive list. */
    static final Workqueue WQ = WqKernel.KERNEL.allocWorkqueue("jcstress-flush", 1);
    /**
     * How long an item lingers at most, waiting for CPU 1's flush() to return (which it cannot while
     * the item runs, unless the core is broken). Long enough for CPU 1 to wake from its wait.
     */
    private static final long LINGER_NANOS = 200_000;
    private static final AtomicInteger STATES = new AtomicInteger();

    /** How many items CPU 1 waits to see queued before it flushes. */
    private final int flushAfter = Math.floorMod(STATES.getAndIncrement(), 4);
    private final AtomicInteger done = new AtomicInteger();
    private final int[] data = new int[3];   // plain: written by the items, read after flush()
    private final Work[] items = {item(0), item(1), item(2)};
    private volatile int queued;
    private volatile boolean flushed;
    private volatile boolean arrived0;
    private volatile boolean arrived1;

    private Work item(int i) {
        return new Work(w -> {
            long start = System.nanoTime();
            while (!flushed && System.nanoTime() - start < LINGER_NANOS) {
                Thread.yield();   // the host may have fewer cores than busy threads: let CPU 1 run
            }
            data[i] = 1;
            done.getAndAccumulate(1 << i, (x, y) -> x | y);
        });
    }

    @Actor
    public void cpu0() {
        arrived0 = true;
        WqKernel.meet(() -> arrived1);
        WQ.queueOn(CPU0, items[0]);
        queued = 1;
        WQ.queueOn(CPU0, items[1]);
        queued = 2;
        WQ.queueOn(CPU1, items[2]);
        queued = 3;
    }

    @Actor
    public void cpu1(III_Result r) {
        arrived1 = true;
        if (!WqKernel.meet(() -> arrived0) || !WqKernel.spinUntil(() -> queued >= flushAfter)) {
            r.r1 = WqKernel.TIMEOUT;
            return;
        }
        int n = queued;
        WqKernel.onCpu(CPU1, () -> {
            WQ.flush();
            return null;
        });
        flushed = true;
        int visible = 0;
        for (int i = 0; i < n; i++) {
            visible += data[i];
        }
        int finished = Integer.bitCount(done.get() & ((1 << n) - 1));
        r.r1 = n;
        r.r2 = finished;
        r.r3 = visible;
    }
}

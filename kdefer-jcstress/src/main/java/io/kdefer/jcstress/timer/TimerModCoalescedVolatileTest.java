package io.kdefer.jcstress.timer;

import io.kdefer.timer.KernelTimer;
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
 * A {@code KernelTimer.mod()} that finds the timer pending at the same expiry returns {@code true}
 * on its fast path, without the lock; the run that follows it sees the caller's earlier writes when
 * they were ordered before the call by a volatile write (read by the callback with a volatile
 * read). The twin of {@code TaskletCoalescedScheduleVolatileTest}.
 * <pre>
 *   CPU0: a = 1 (volatile); r0 = t.mod(e); tick()     CPU1: b = 1 (volatile); r1 = t.mod(e); tick()
 *   callback: r2 = a; r3 = b (volatile reads), last run's values kept
 *   Forbidden: r2 == 0 or r3 == 0, whatever r0 and r1 are
 * </pre>
 * The fast path reads the timer's pending index with a volatile read after the caller's volatile
 * write; the expiry path takes the timer off its list (index = -1) and issues a full fence before it
 * calls the callback. So either the caller sees the timer no longer pending (and takes the locked
 * path, which arms it again), or the callback, which starts after the fence, sees the caller's
 * write. {@link TimerModCoalescedPlainTest} is the same test with plain writes, where the write of
 * a caller that found the timer pending may be missed.
 *
 * <p>How it fails: a fast path that does not check that the timer is still pending (only that its
 * expiry matches) returns {@code true} for a timer whose run is over, and no run follows:
 * {@code 0, 1, 1, 0} or {@code 1, 0, 0, 1}. So does, on a weakly ordered machine, an expiry path
 * without the fence.
 *
 * <p>Result: {@code r1}, {@code r2} = the two {@code mod()} results (1 = true); {@code r3},
 * {@code r4} = {@code a} and {@code b} as read by the last run ({@code -1, -1}: the runs owed did
 * not happen within the ticks; {@code -2, -2}: more runs than {@code false} results).
 */
@JCStressTest
@Outcome(id = {"0, 1, 1, 1", "1, 0, 1, 1"}, expect = ACCEPTABLE,
        desc = "One call armed the timer, the other found it pending: one run, which saw both volatile writes.")
@Outcome(id = "0, 0, 1, 1", expect = ACCEPTABLE,
        desc = "The first arming expired before the second call: two runs, the last saw both writes.")
@Outcome(id = {"0, 1, .*, 0", "1, 0, 0, .*"}, expect = FORBIDDEN,
        desc = "PENDING WRITE MISSED: the run following a mod() that found the timer pending missed its volatile write.")
@Outcome(id = ".*, -1, -1", expect = FORBIDDEN, desc = "TIMEOUT: a run owed to a mod() that armed the timer never came.")
@Outcome(id = ".*, -2, -2", expect = FORBIDDEN, desc = "EXTRA RUN: more runs than mod() calls that armed the timer.")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class TimerModCoalescedVolatileTest {
    static final TimerKernel K = new TimerKernel();

    private final AtomicInteger runs = new AtomicInteger();
    private final KernelTimer timer = KernelTimer.setup(K.kernel, t -> callback());
    private final long expires = K.kernel.jiffies() - 1;
    private volatile int a;
    private volatile int b;
    private int seenA = -1;   // written by the callback, published by the increment of runs
    private int seenB = -1;

    private void callback() {
        seenA = a;
        seenB = b;
        runs.incrementAndGet();
    }

    @Actor
    public void cpu0(IIII_Result r) {
        r.r1 = K.kernel.runOnCpu(0, () -> {
            a = 1;
            return timer.mod(expires);
        }) ? 1 : 0;
        K.clock.tick();
    }

    @Actor
    public void cpu1(IIII_Result r) {
        r.r2 = K.kernel.runOnCpu(1, () -> {
            b = 1;
            return timer.mod(expires);
        }) ? 1 : 0;
        K.clock.tick();
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        K.judgeCoalescedMods(r, runs, timer, () -> seenA, () -> seenB);
    }
}

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
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Documents the ordering of {@code KernelTimer.mod()}'s fast path, the twin of the coalesced
 * {@code Tasklet.schedule()}: a {@code mod()} that finds the timer pending at the same expiry
 * returns {@code true} without the lock or an atomic (as {@code __mod_timer} does), so it does not
 * publish the caller's earlier <em>plain</em> writes to the run that follows. A {@code mod()} that
 * armed the timer ({@code false}) takes the wheel lock and publishes them.
 * <pre>
 *   CPU0: a = 1; r0 = t.mod(e); tick()     CPU1: b = 1; r1 = t.mod(e); tick()
 *   callback: r2 = a; r3 = b (plain reads), last run's values kept
 *   Forbidden:   r0 == false and r2 == 0, or r1 == false and r3 == 0
 *   Interesting: r0 == true and r2 == 0, or r1 == true and r3 == 0 (allowed, documented)
 * </pre>
 * {@code e} has passed, so the timer fires at the next tick: each actor ticks after its call, and
 * so do the other states' actors (the kernel is shared), which puts the expiry across both calls. Each call that
 * returns {@code false} armed the timer and is owed one run; one that returns {@code true} found it
 * pending and adds none. {@link TimerModCoalescedVolatileTest} is the same test with volatile
 * writes, where every outcome that misses a write is forbidden.
 *
 * <p>Result: {@code r1}, {@code r2} = the two {@code mod()} results (1 = true); {@code r3},
 * {@code r4} = {@code a} and {@code b} as read by the last run ({@code -1, -1}: the runs owed did
 * not happen within the ticks; {@code -2, -2}: more runs than {@code false} results).
 */
@JCStressTest
@Outcome(id = {"0, 1, 1, 1", "1, 0, 1, 1"}, expect = ACCEPTABLE,
        desc = "One call armed the timer, the other found it pending: one run, which saw both writes.")
@Outcome(id = "0, 0, 1, 1", expect = ACCEPTABLE,
        desc = "The first arming expired before the second call: two runs, the last saw both writes.")
@Outcome(id = {"0, 1, 1, 0", "1, 0, 0, 1"}, expect = ACCEPTABLE_INTERESTING,
        desc = "Documented: the run after a mod() that found the timer pending missed that caller's plain write.")
@Outcome(id = ".*, -1, -1", expect = FORBIDDEN, desc = "TIMEOUT: a run owed to a mod() that armed the timer never came.")
@Outcome(id = ".*, -2, -2", expect = FORBIDDEN, desc = "EXTRA RUN: more runs than mod() calls that armed the timer.")
@Outcome(expect = FORBIDDEN,
        desc = "Anything else, in particular a mod() that armed the timer whose run missed its caller's write.")
@State
public class TimerModCoalescedPlainTest {
    static final TimerKernel K = new TimerKernel();

    private final AtomicInteger runs = new AtomicInteger();
    private final KernelTimer timer = KernelTimer.setup(K.kernel, t -> callback());
    private final long expires = K.kernel.jiffies() - 1;
    private int a;            // plain
    private int b;            // plain
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

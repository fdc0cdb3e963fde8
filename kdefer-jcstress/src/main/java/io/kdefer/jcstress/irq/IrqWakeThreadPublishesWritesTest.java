package io.kdefer.jcstress.irq;

import io.kdefer.testkit.BoundedSpin;
import io.kdefer.irq.IrqReturn;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@link io.kdefer.irq.IrqReturn#WAKE_THREAD}: the thread function run it causes sees every write
 * made before the {@code raise()} and every write the primary handler made before it returned.
 * <pre>
 *   T0: x = token; irqs.raise(irq)
 *   primary handler (cpu/0, hardirq):   r0 = x; y = r0; return WAKE_THREAD
 *   thread function (irq/5-litmus-wake): r1 = x; r2 = y
 *   Forbidden: r1 != token (the raiser's write is not visible to the thread function)
 *   Forbidden: r0 == token, r2 != r0 (the primary's write is not visible to the thread function)
 * </pre>
 * {@code x} and {@code y} are plain fields, and the three parties are three threads: the actor,
 * {@code cpu/0} and the action's {@code irq/N} thread. The raiser's writes reach the thread
 * function through {@code raise()} and then the wake; the primary's writes through the wake
 * alone: RUNTHREAD set with a CAS by {@code __irq_wake_thread} on {@code cpu/0}, taken with a
 * volatile read-modify-write by the irq thread before it calls the thread function. Each state
 * writes its own token, so a stale read returns the previous state's token.
 *
 * <p>The actor waits, with a bound, until the thread function has counted its run (a volatile
 * increment after all its reads) before it returns: one raise, one primary run, one thread run
 * per state, and a quiet line for the next one.
 *
 * <p>How it fails: if the irq thread found RUNTHREAD with a plain load, or the waker set it with a
 * plain store, the thread function could start on the irq thread while {@code y = token} (and
 * {@code x = token}) still sat in {@code cpu/0}'s store buffer or had been moved below the store
 * by the JIT: it would read the previous state's token, result {@code r3 == 0} (or {@code r2 == 0}).
 *
 * <p>Result: {@code r1} = 1 when the primary read this state's token ({@code r0 == token}), else
 * 0, {@code -1} when no thread run came within the deadline; {@code r2} = 1 when the thread
 * function read the token in {@code x}; {@code r3} = 1 when it read the primary's value in
 * {@code y}.
 */
@JCStressTest
@Outcome(id = "1, 1, 1", expect = ACCEPTABLE,
        desc = "The primary saw the raiser's write; the thread function saw both the raiser's and the primary's.")
@Outcome(id = "0, .*", expect = FORBIDDEN,
        desc = "STALE PRIMARY: the primary handler read an older x: raise() did not publish the prior write.")
@Outcome(id = "1, 0, .*", expect = FORBIDDEN,
        desc = "STALE X: the thread function read an older x than the primary that woke it.")
@Outcome(id = "1, 1, 0", expect = FORBIDDEN,
        desc = "STALE Y: the thread function missed the primary handler's write: the wake did not publish it.")
@Outcome(id = "-1, .*", expect = FORBIDDEN,
        desc = "TIMEOUT: no thread function run followed the raise within the deadline.")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class IrqWakeThreadPublishesWritesTest {
    private static final int IRQ = 5;
    private static final IrqKernel K = new IrqKernel();
    private static final AtomicInteger TOKENS = new AtomicInteger();
    /** Thread function runs; incremented after the thread function's reads. */
    private static final AtomicInteger THREAD_RUNS = new AtomicInteger();

    private static int x;              // plain: the raiser's prior write
    private static int y;              // plain: the primary handler's write
    private static int primarySawX;    // plain: written on cpu/0, published by the wake and THREAD_RUNS
    private static int threadSawX;     // plain: written by the thread function, published by THREAD_RUNS
    private static int threadSawY;     // plain: idem

    static {
        K.irqs.requestThreadedIrq(IRQ, (irq, dev) -> {
            int v = x;
            primarySawX = v;
            y = v;
            return IrqReturn.WAKE_THREAD;
        }, (irq, dev) -> {
            threadSawX = x;
            threadSawY = y;
            THREAD_RUNS.incrementAndGet();
            return IrqReturn.HANDLED;
        }, "litmus-wake", null);
    }

    private final int token = TOKENS.incrementAndGet();

    @Actor
    public void raiser(III_Result r) {
        final int before = THREAD_RUNS.get();
        x = token;
        K.irqs.raise(IRQ);
        if (!BoundedSpin.until(() -> THREAD_RUNS.get() != before)) {
            r.r1 = BoundedSpin.TIMEOUT;
            return;
        }
        final int p = primarySawX;
        r.r1 = p == token ? 1 : 0;
        r.r2 = threadSawX == token ? 1 : 0;
        r.r3 = threadSawY == p ? 1 : 0;
    }
}

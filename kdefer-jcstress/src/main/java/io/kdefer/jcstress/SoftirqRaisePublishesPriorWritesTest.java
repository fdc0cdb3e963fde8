package io.kdefer.jcstress;

import io.kdefer.softirq.SoftirqVector;
import io.kdefer.testkit.BoundedSpin;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code Softirqs.raise()}: every write the raiser made before the call is visible to the run of
 * the vector's action that the raise causes.
 * <pre>
 *   T0 (task, CPU 0): x = token; softirqs.raise(NET_RX)     NET_RX action (ksoftirqd/0): r0 = x
 *   Forbidden: r0 != token (the action read an older x)
 * </pre>
 * {@code x} is a plain field and the action runs on {@code ksoftirqd/0}, a kdefer thread with no
 * other link to the actor: the publication must come from {@code raise()} itself (the atomic OR
 * that sets the vector's bit in the CPU's pending mask, paired with the runner's {@code getAndSet}
 * of the mask before it calls the action). Each state writes its own token, so "an older x" is the
 * previous state's token.
 *
 * <p>A vector is a shared resource of the kernel: its action is opened once, in the static
 * initialiser, and keeps its observation in a static field. The actor therefore waits, with a
 * bound, until the action counted its run (a volatile increment after its read of {@code x}) before
 * it returns: one raise, one run per state. The wait cannot hide a missing publication: it orders
 * the action's read before the actor's later reads, not the actor's write before the action's read.
 *
 * <p>How it fails: if {@code raise()} set the bit with a plain or opaque store, or the runner found
 * it with a plain load, nothing would order {@code x = token} before the action's read, and the
 * action could see the bit and still read the previous state's token: result {@code 0}.
 *
 * <p>Result: {@code r1} = 1 when the action read this state's token, 0 when it read an older value,
 * {@code -1} when no run came within the deadline; {@code r2} = runs the actor saw for its raise.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "The action ran once and saw the write made before raise().")
@Outcome(id = "0, .*", expect = FORBIDDEN,
        desc = "STALE: the action read an older x: raise() did not publish the prior write.")
@Outcome(id = "-1, .*", expect = FORBIDDEN, desc = "TIMEOUT: no run of the action followed the raise.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: one raise of a quiet vector causes exactly one run.")
@State
public class SoftirqRaisePublishesPriorWritesTest {
    private static final SoftirqVector VECTOR = SoftirqVector.NET_RX;
    private static final AtomicInteger TOKENS = new AtomicInteger();
    /** Runs of the action; incremented after it read {@code x}. */
    private static final AtomicInteger RUNS = new AtomicInteger();

    private static int x;      // plain: the raiser's prior write
    private static int seen;   // plain: written by the action, published by RUNS

    static {
        TestKernel.KERNEL.softirqs().open(VECTOR, () -> {
            seen = x;
            RUNS.incrementAndGet();
        });
    }

    private final int token = TOKENS.incrementAndGet();

    @Actor
    public void raiser(II_Result r) {
        final int before = RUNS.get();
        TestKernel.onCpu(TestKernel.CPU0, () -> {
            x = token;
            TestKernel.KERNEL.softirqs().raise(VECTOR);   // task context: wakes ksoftirqd/0
            return null;
        });
        if (BoundedSpin.until(() -> RUNS.get() != before)) {
            r.r1 = seen == token ? 1 : 0;
            r.r2 = RUNS.get() - before;
        } else {
            r.r1 = BoundedSpin.TIMEOUT;
        }
    }
}

package io.kdefer.jcstress.irq;

import io.kdefer.testkit.BoundedSpin;
import io.kdefer.irq.IrqReturn;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code Irqs.raise()}: every write the raiser made before the call is visible to the primary
 * handler run that handles the interrupt.
 * <pre>
 *   T0: x = token; irqs.raise(irq)          primary handler (cpu/0, hardirq): r0 = x
 *   Forbidden: r0 != token (the handler read an older x)
 * </pre>
 * {@code x} is a plain field and the handler runs on {@code cpu/0}, a kdefer thread with no other
 * link to the actor: the publication must come from {@code raise()} itself (the volatile OR that
 * sets the line's bit in the CPU's pending bitmap, paired with {@code cpu/0}'s volatile read and
 * clear of that bit before it calls the flow handler). Each state writes its own token (a
 * sequence number), so "an older x" is the previous state's token.
 *
 * <p>One raise, one handler run: the actor waits, with a bound, until the handler has counted
 * the run (a volatile increment after its read of {@code x}, which is what publishes the read
 * value back to the actor) before it returns, so the line is quiet when the next state raises it.
 * The wait cannot hide a missing publication: it orders the handler's read before the actor's
 * later reads, not the actor's write before the handler's read.
 *
 * <p>How it fails: if {@code raise()} set the bit with a plain or opaque store, or {@code cpu/0}
 * found the bit with a plain load, nothing would order {@code x = token} before the handler's
 * read. {@code cpu/0} could then see the bit (on a weakly ordered CPU, or after the JIT moved the
 * store to {@code x} below the bit's store) and still read the previous state's token: result
 * {@code 0}.
 *
 * <p>Result: {@code r1} = 1 when the handler read this state's token, 0 when it read an older
 * value, {@code -1} when no handler run came within the deadline; {@code r2} = handler runs the
 * actor saw for its raise.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE,
        desc = "The primary handler ran once and saw the write made before raise().")
@Outcome(id = "0, .*", expect = FORBIDDEN,
        desc = "STALE: the primary handler read an older x: raise() did not publish the prior write.")
@Outcome(id = "-1, .*", expect = FORBIDDEN,
        desc = "TIMEOUT: no primary handler run followed the raise within the deadline.")
@Outcome(expect = FORBIDDEN,
        desc = "Anything else: one raise on a quiet line is handled by exactly one primary run.")
@State
public class IrqRaisePublishesPriorWritesTest {
    private static final int IRQ = 3;
    private static final IrqKernel K = new IrqKernel();
    private static final AtomicInteger TOKENS = new AtomicInteger();
    /** Primary handler runs; incremented after the handler read {@code x}. */
    private static final AtomicInteger HANDLED = new AtomicInteger();

    private static int x;      // plain: the raiser's prior write
    private static int seen;   // plain: written by the handler, published by HANDLED

    static {
        K.irqs.requestIrq(IRQ, (irq, dev) -> {
            seen = x;
            HANDLED.incrementAndGet();
            return IrqReturn.HANDLED;
        }, "litmus-raise", null);
    }

    private final int token = TOKENS.incrementAndGet();

    @Actor
    public void raiser(II_Result r) {
        final int before = HANDLED.get();
        x = token;
        K.irqs.raise(IRQ);
        if (BoundedSpin.until(() -> HANDLED.get() != before)) {
            r.r1 = seen == token ? 1 : 0;
            r.r2 = HANDLED.get() - before;
        } else {
            r.r1 = BoundedSpin.TIMEOUT;
            r.r2 = 0;
        }
    }
}

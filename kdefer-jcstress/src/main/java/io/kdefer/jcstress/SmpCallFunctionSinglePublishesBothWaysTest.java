package io.kdefer.jcstress;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code Kernel.smpCallFunctionSingle(cpu, fn, true)} publishes both ways: the caller's writes made
 * before the call are visible to {@code fn}, and {@code fn}'s writes are visible to the caller once
 * the call returned.
 * <pre>
 *   T0: x = 1; smpCallFunctionSingle(1, fn, true); r1 = y      fn (cpu/1, hardirq): r0 = x; y = 1
 *   Forbidden: r0 != 1 (fn missed the caller's prior write)
 *   Forbidden: r1 != 1 (the caller missed fn's write after the call returned)
 * </pre>
 * {@code x}, {@code y} and {@code r0} are plain fields of the state; {@code fn} runs on
 * {@code cpu/1}, a kdefer thread with no other link to the actor. The first edge comes from the
 * queueing of the call (the inbox's CAS, paired with {@code cpu/1}'s poll), the second from the
 * request's completion ({@code done}, a volatile write after {@code fn} and its irq exit, read by
 * the waiting caller).
 *
 * <p>How it fails: a call that returned before {@code fn} had run (its completion signalled before
 * the call, or a completion flag without release/acquire that the caller sees ahead of
 * {@code fn}'s writes) gives {@code r0 == -1} or {@code r1 == 0}.
 *
 * <p>Result: {@code r1} = {@code x} as {@code fn} read it ({@code -1}: {@code fn} had not run when
 * the call returned); {@code r2} = {@code y} as the caller read it after the call.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "fn saw the caller's write; the caller saw fn's write.")
@Outcome(id = "0, .*", expect = FORBIDDEN, desc = "STALE IN: fn missed the write made before the call.")
@Outcome(id = "-1, .*", expect = FORBIDDEN, desc = "NOT RUN: the call returned before fn's read was visible.")
@Outcome(id = "1, 0", expect = FORBIDDEN, desc = "STALE OUT: the caller missed fn's write after the call returned.")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class SmpCallFunctionSinglePublishesBothWaysTest {
    private int x;              // plain: the caller's prior write
    private int y;              // plain: fn's write
    private int seenX = -1;     // plain: written by fn

    private void fn() {
        seenX = x;
        y = 1;
    }

    @Actor
    public void caller(II_Result r) {
        x = 1;
        TestKernel.KERNEL.smpCallFunctionSingle(TestKernel.CPU1, this::fn, true);
        r.r1 = seenX;
        r.r2 = y;
    }
}

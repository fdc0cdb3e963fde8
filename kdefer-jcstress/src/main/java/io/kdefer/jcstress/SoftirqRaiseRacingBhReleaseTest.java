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
 * No pending bit is stranded: a vector raised by a hardirq ({@code raiseIrqoff}, which wakes
 * nobody) while another thread owns the CPU's bottom halves and is releasing them always runs.
 * <pre>
 *   T0 (task, CPU 0): localBhDisable(); ...; localBhEnable()    // owner: unlockBh() then re-reads pending
 *   T1: smpCallFunctionSingle(0, () -> raiseIrqoff(BLOCK))       // cpu/0: OR the bit, then irq exit
 *                                                                //   tries the owner word
 *   Forbidden: BLOCK's action does not run (the bit stays pending with nobody to run it)
 * </pre>
 * The raise happens on {@code cpu/0} in hardirq context: its irq exit runs the vector if it can take
 * the CPU's bottom halves, and otherwise leaves it to the owner. The owner's outermost
 * {@code localBhEnable()} runs what it finds pending, then releases the owner word and re-reads the
 * mask, waking {@code ksoftirqd/0} if a bit arrived meanwhile ({@code Cpu.unlockBh}). That re-read
 * and the irq exit's try of the owner word form a Dekker pair (see {@code Cpu}, "Memory
 * ordering"): one of them sees the other.
 *
 * <p>To put the raise across the owner's release, the two run in lockstep: the owner holds the
 * bottom halves until the hardirq has started, and the hardirq spins a phase-dependent number of
 * hints before it raises. The states cycle through the phases.
 *
 * <p>A pending bit is rescued by the next irq exit or bottom-half release on the CPU, so a
 * stranded bit must be caught before the next state: the raiser waits, with a bound, for the run
 * its raise caused (running out of the bound is the forbidden outcome), and the owner does not
 * start the next state before the raiser has judged this one.
 *
 * <p>How it fails: an owner that releases the word with a release store instead of a volatile one
 * (its re-read of the mask may then pass the release), or that does not re-read the mask at all,
 * strands the bit whenever the raise lands after the owner's last look and the irq exit tries the
 * word before the release becomes visible: TIMEOUT.
 *
 * <p>Result: {@code r1} = where the action ran: 1 in the owner's {@code localBhEnable()}, 2 at
 * {@code cpu/0}'s irq exit, 3 in {@code ksoftirqd/0} (woken by the owner's re-read: the case this
 * test is about); {@code -1}: no run within the deadline. {@code r2} = the phase.
 */
@JCStressTest
@Outcome(id = "1, .*", expect = ACCEPTABLE, desc = "Raised before the owner's last look: the owner ran it.")
@Outcome(id = "2, .*", expect = ACCEPTABLE, desc = "Raised with nobody owning: the irq exit ran it.")
@Outcome(id = "3, .*", expect = ACCEPTABLE,
        desc = "Raised while the owner released: the irq exit left it, the owner's re-read woke ksoftirqd.")
@Outcome(id = "-1, .*", expect = FORBIDDEN,
        desc = "STRANDED: the bit stayed pending with nobody to run it (no run within the deadline).")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class SoftirqRaiseRacingBhReleaseTest {
    private static final SoftirqVector VECTOR = SoftirqVector.BLOCK;
    /** Spin hints the hardirq waits before it raises, per phase. */
    private static final int[] PHASE_SPINS = {0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64};
    private static final int OWNER = 1;
    private static final int IRQ_EXIT = 2;
    private static final int KSOFTIRQD = 3;

    private static final AtomicInteger TOKENS = new AtomicInteger();
    private static final AtomicInteger NEXT_PHASE = new AtomicInteger();
    /** The token of the state whose raise is the latest; written by the hardirq before it raises. */
    private static volatile int raised;
    /** The token the action saw in {@link #raised} when it last ran; written after {@link #where}. */
    private static volatile int ran;
    private static volatile int where;

    static {
        TestKernel.KERNEL.softirqs().open(VECTOR, () -> {
            String name = Thread.currentThread().getName();
            where = name.startsWith("ksoftirqd/") ? KSOFTIRQD : name.startsWith("cpu/") ? IRQ_EXIT : OWNER;
            ran = raised;
        });
    }

    private final int token = TOKENS.incrementAndGet();
    private final int phase = Math.floorMod(NEXT_PHASE.getAndIncrement(), PHASE_SPINS.length);
    /** Set by the hardirq when it starts; the owner releases the bottom halves once it sees it. */
    private volatile boolean entered;
    /** Set by the raiser once it judged the state; the owner touches CPU 0 again only after it. */
    private volatile boolean judged;

    @Actor
    public void owner() {
        TestKernel.onCpu(TestKernel.CPU0, () -> {
            TestKernel.KERNEL.localBhDisable();
            try {
                BoundedSpin.hold(() -> entered);
            } finally {
                TestKernel.KERNEL.localBhEnable();
            }
            return null;
        });
        // the next state's release of CPU 0's bottom halves would run a stranded bit: not before
        // this state is judged
        BoundedSpin.hold(() -> judged);
    }

    @Actor
    public void raiser(II_Result r) {
        final int spins = PHASE_SPINS[phase];
        TestKernel.KERNEL.smpCallFunctionSingle(TestKernel.CPU0, () -> {
            entered = true;
            BoundedSpin.spin(spins);
            raised = token;
            TestKernel.KERNEL.softirqs().raiseIrqoff(VECTOR);
        }, false);
        r.r1 = BoundedSpin.until(() -> ran == token) ? where : BoundedSpin.TIMEOUT;
        r.r2 = phase;
        judged = true;
    }
}

package io.kdefer.jcstress;

import io.kdefer.timer.KernelTimer;
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
 * Tickless idle never sleeps past a new earliest timer: arming a timer that becomes its wheel's
 * earliest on a CPU whose {@code cpu/N} is going idle (to park with no deadline, or with a later
 * one) wakes it, so the timer fires.
 * <pre>
 *   T0: t.mod(e) on CPU N                          cpu/N, going idle:
 *       wheel: nextExpiry = e (volatile)               parker: sleeping = 1 (volatile)
 *       kick:  if (sleeping == 1) unpark(cpu/N)        hasWork(): nextExpiry earlier than its deadline?
 *   Forbidden: t never fires (cpu/N parked with the old deadline, and the kick was elided)
 * </pre>
 * The system clock, so that {@code cpu/N} sleeps until its next expiry (with a manual clock the
 * ticks come from the clock and nothing sleeps on the wheel). {@code e} has passed, so a woken
 * {@code cpu/N} fires the timer at once. The states cycle through two CPUs, cpu/0 with no other
 * timer (it parks with no deadline) and cpu/1 with a timer an hour away (it parks until then), and
 * through phases: the actor sends {@code cpu/N} an empty hardirq, waits until it started, spins a
 * phase-dependent number of hints and arms, so the arm lands at every point of {@code cpu/N}'s way
 * back to idle (its look at the wheel, the sleep announcement, the re-check, the park).
 *
 * <p>A timer left unfired is rescued by the next wake-up of {@code cpu/N} (the next state's
 * hardirq), so the actor waits, with a bound, for the state's timer to fire before it returns.
 *
 * <p>How it fails: a wheel that published its next expiry with a release store (the arm's read of
 * the parker's {@code sleeping} word may then pass it), an arm that does not kick, or a
 * {@code cpu/N} that does not re-check its deadline after announcing its sleep: TIMEOUT.
 *
 * <p>Result: {@code r1} = the CPU and phase ({@code cpu * 100 + phase}); {@code r2} = 1 when the
 * timer fired, {@code -1} when it did not within the deadline.
 */
@JCStressTest
@Outcome(id = ".*, 1", expect = ACCEPTABLE, desc = "The arm woke cpu/N (or it saw the timer itself): it fired.")
@Outcome(id = ".*, -1", expect = FORBIDDEN,
        desc = "SLEPT THROUGH: cpu/N stayed parked past the new earliest expiry (no fire within the deadline).")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class TimerArmWakesIdleCpuTest {
    /** Spin hints between the hardirq's start and the arm, per phase. */
    private static final int[] PHASE_SPINS = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256};
    /** The far timer of cpu/1: an hour at HZ=1000, past the bound of any run. */
    private static final long FAR_JIFFIES = 3_600_000L;

    private static final AtomicInteger NEXT_PHASE = new AtomicInteger();

    static {
        // cpu/1 idles with a deadline: it has a timer an hour away (re-armed, should it ever fire)
        TestKernel.onCpu(TestKernel.CPU1, () -> {
            KernelTimer far = KernelTimer.setup(TestKernel.KERNEL,
                    t -> t.mod(TestKernel.KERNEL.jiffies() + FAR_JIFFIES));
            far.mod(TestKernel.KERNEL.jiffies() + FAR_JIFFIES);
            return far;
        });
    }

    private final int n = NEXT_PHASE.getAndIncrement();
    private final int cpu = Math.floorMod(n, 2);
    private final int phase = Math.floorMod(n / 2, PHASE_SPINS.length);
    private volatile boolean fired;
    private volatile boolean entered;
    private final KernelTimer timer = TestKernel.onCpu(cpu,
            () -> KernelTimer.setup(TestKernel.KERNEL, t -> fired = true));

    @Actor
    public void arm(II_Result r) {
        TestKernel.KERNEL.smpCallFunctionSingle(cpu, () -> entered = true, false);
        BoundedSpin.hold(() -> entered);
        BoundedSpin.spin(PHASE_SPINS[phase]);
        TestKernel.onCpu(cpu, () -> timer.mod(TestKernel.KERNEL.jiffies() - 1));
        r.r1 = cpu * 100 + phase;
        r.r2 = BoundedSpin.until(() -> fired) ? 1 : BoundedSpin.TIMEOUT;
    }
}

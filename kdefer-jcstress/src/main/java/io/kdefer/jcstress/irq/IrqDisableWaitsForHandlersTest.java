package io.kdefer.jcstress.irq;

import io.kdefer.testkit.BoundedSpin;
import io.kdefer.irq.IrqFlag;
import io.kdefer.irq.IrqReturn;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIIIII_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code Irqs.disableIrq()}: when it returns, no hard handler and no thread function of the line
 * is running, none starts until the matching {@code enableIrq()}, the effects of the runs that
 * finished are visible to the caller, and an interrupt raised while the line was disabled is
 * delivered once after the enable.
 * <pre>
 *   primary (cpu/0):  entered++; ...; return WAKE_THREAD        (an ONESHOT line)
 *   thread function:  started++; ...; data = 1 (plain); finished++
 *   T0: irqs.raise(irq); [wait until the interrupt reached the state's phase]
 *       irqs.disableIrq(irq); r0 = data (plain); r1 = entered; r2 = started; r3 = finished
 *       if (r1 != 0) irqs.raise(irq)                    // raised while disabled
 *       raise the probe line and wait for its handler
 *       r4 = entered + started - r1 - r2; irqs.enableIrq(irq)
 *       wait for the held interrupt's run; r5 = finished
 *   Forbidden: r1 != r3 (a hard handler was running, or its woken thread function had not
 *              finished, when disableIrq returned)
 *   Forbidden: r3 == 1, r0 == 0 (the finished run's write is not visible)
 *   Forbidden: r4 != 0 (a handler started while the line was disabled)
 *   Forbidden: r5 != r1 + 1 (the interrupt held while disabled was lost or delivered twice)
 * </pre>
 * The states cycle through four phases that put {@code disableIrq()} in each window of the
 * interrupt's life:
 * <ul>
 *   <li>{@code 0}: right after the raise, racing the delivery: usually before {@code cpu/0} took
 *       the interrupt, which must then be held until the enable; sometimes after, and the call
 *       must wait for the whole run;</li>
 *   <li>{@code 1}: inside the primary handler, which holds on (bounded) until the actor is about
 *       to call {@code disableIrq()}, then lingers a little more: the call must wait for
 *       INPROGRESS to clear and for the thread run the primary wakes;</li>
 *   <li>{@code 2}: the primary's last statement has run: the call lands while the flow handler
 *       wakes the thread, clears INPROGRESS and exits, or while the woken thread is being
 *       scheduled;</li>
 *   <li>{@code 3}: inside the thread function, which holds on the same way.</li>
 * </ul>
 * When the first interrupt was handled before {@code disableIrq()} returned, the actor raises the
 * line once more while it is disabled (the line is ONESHOT, but its thread has finished: it is
 * disabled, not masked), so that every state checks both halves: no run while disabled, one run
 * after the enable. Before it enables, the actor raises a probe line of the same CPU and waits for
 * the probe's handler: {@code cpu/0} takes asserted lines lowest first, so by then it has taken
 * the held interrupt and either latched it (correct) or run its handler (caught in {@code r4}).
 * The hold makes a handler wait for a write of the actor, never the reverse. {@code data} is read
 * first, before anything that could synchronise with the thread function, so its visibility
 * comes from {@code disableIrq()}.
 *
 * <p>How it fails (names from the litmus above): a {@code disableIrq()} that raised the depth
 * but did not wait (as {@code disableIrqNosync()} does), or waited for INPROGRESS only, returns
 * in phases 1 and 3 (and 0, when the delivery won) while the run is in progress
 * ({@code r1 != r3}); one that waited for {@code threads_active} only returns in phase 1 while
 * the primary still runs ({@code r1 == 1, r3 == 0}); a flow handler that ignored the depth runs
 * the held interrupt while the line is disabled ({@code r4 != 0}); an enable that forgot the
 * latched assertion loses it ({@code r5}: TIMEOUT). Each of these, made in the core, fails a
 * sanity run of this test.
 *
 * <p>Result: {@code r1} = the phase ({@code -1}: the interrupt never reached it); {@code r2} =
 * {@code data}; {@code r3} = primary handler runs when {@code disableIrq()} returned; {@code r4} =
 * thread function runs started then; {@code r5} = runs finished then; {@code r6} = handler runs
 * (primary or thread) that started while the line was disabled ({@code -1}: the probe never ran);
 * {@code r7} = thread function runs once the line is quiet after the enable ({@code -1}: the held
 * interrupt never ran).
 */
@JCStressTest
@Outcome(id = "0, 0, 0, 0, 0, 0, 1", expect = ACCEPTABLE,
        desc = "disableIrq() came before cpu/0 took the interrupt: it was held, and ran once after enableIrq().")
@Outcome(id = "[0-3], 1, 1, 1, 1, 0, 2", expect = ACCEPTABLE,
        desc = "disableIrq() returned after the run finished; its write is visible; the raise made while "
                + "disabled ran once after enableIrq().")
@Outcome(id = "[0-9]+, [0-9]+, [0-9]+, 1, 0, .*", expect = FORBIDDEN,
        desc = "RUNNING: the thread function was running when disableIrq() returned.")
@Outcome(id = "[0-9]+, [0-9]+, 1, 0, 0, .*", expect = FORBIDDEN,
        desc = "NOT DONE: the primary handler was running, or its woken thread function had not run, "
                + "when disableIrq() returned.")
@Outcome(id = "[0-9]+, 0, 1, 1, 1, .*", expect = FORBIDDEN,
        desc = "STALE: the run finished before disableIrq() returned but its write is not visible.")
@Outcome(id = "[0-9]+, [0-9]+, [0-9]+, [0-9]+, [0-9]+, [1-9][0-9]*, .*", expect = FORBIDDEN,
        desc = "STARTED WHILE DISABLED: a handler started after disableIrq() returned, before enableIrq().")
@Outcome(id = "-1, .*", expect = FORBIDDEN,
        desc = "TIMEOUT: the raised interrupt never reached the state's phase.")
@Outcome(id = ".*, -1, [-0-9]+", expect = FORBIDDEN,
        desc = "TIMEOUT: the probe line's handler never ran.")
@Outcome(id = ".*, -1", expect = FORBIDDEN,
        desc = "TIMEOUT: the interrupt held while the line was disabled never ran after enableIrq().")
@Outcome(expect = FORBIDDEN, desc = "Anything else (an interrupt lost, or delivered twice).")
@State
public class IrqDisableWaitsForHandlersTest {
    private static final int IRQ = 9;
    /** A line of the same CPU, taken after {@link #IRQ} when both are asserted. */
    private static final int PROBE_IRQ = IRQ + 1;
    /** Spin hints a handler lingers for after its hold (or in place of it). */
    private static final int LINGER_SPINS = 200;
    private static final int PHASE_NONE = 0;
    private static final int PHASE_PRIMARY = 1;
    private static final int PHASE_PRIMARY_DONE = 2;
    private static final int PHASE_THREAD = 3;
    private static final int PHASES = 4;

    private static final IrqKernel K = new IrqKernel();
    private static final AtomicInteger NEXT_PHASE = new AtomicInteger();
    private static final AtomicInteger PRIMARY_ENTERED = new AtomicInteger();
    private static final AtomicInteger PRIMARY_DONE = new AtomicInteger();
    private static final AtomicInteger THREAD_STARTED = new AtomicInteger();
    private static final AtomicInteger THREAD_FINISHED = new AtomicInteger();
    private static final AtomicInteger PROBES = new AtomicInteger();
    /** What the actor waits for before it disables, per phase; phase 0 waits for nothing. */
    private static final AtomicInteger[] PHASE_MARKS = {null, PRIMARY_ENTERED, PRIMARY_DONE, THREAD_STARTED};

    /** The phase whose handler holds on until {@link #released}; written by the actor. */
    private static volatile int holdIn = PHASE_NONE;
    /** Set by the actor just before it calls {@code disableIrq()}. */
    private static volatile boolean released;
    private static int data;   // plain: written by the thread function, read by the actor

    static {
        K.irqs.requestThreadedIrq(IRQ, (irq, dev) -> {
            PRIMARY_ENTERED.incrementAndGet();
            linger(PHASE_PRIMARY);
            PRIMARY_DONE.incrementAndGet();
            return IrqReturn.WAKE_THREAD;
        }, (irq, dev) -> {
            THREAD_STARTED.incrementAndGet();
            linger(PHASE_THREAD);
            data = 1;
            THREAD_FINISHED.incrementAndGet();
            return IrqReturn.HANDLED;
        }, "litmus-disable", null, IrqFlag.ONESHOT);
        K.irqs.requestIrq(PROBE_IRQ, (irq, dev) -> {
            PROBES.incrementAndGet();
            return IrqReturn.HANDLED;
        }, "litmus-probe", null);
    }

    /** Keeps a handler inside its body until the actor is about to disable, and a bit longer. */
    private static void linger(int phase) {
        if (holdIn == phase) {
            BoundedSpin.until(() -> released);
        }
        BoundedSpin.spin(LINGER_SPINS);
    }

    private final int phase = Math.floorMod(NEXT_PHASE.getAndIncrement(), PHASES);

    @Actor
    public void disabler(IIIIIII_Result r) {
        // the previous state's runs are over (it waited for them after its enable): start afresh
        data = 0;
        PRIMARY_ENTERED.set(0);
        PRIMARY_DONE.set(0);
        THREAD_STARTED.set(0);
        THREAD_FINISHED.set(0);
        released = false;
        holdIn = phase;

        K.irqs.raise(IRQ);
        final AtomicInteger mark = PHASE_MARKS[phase];
        final boolean reached = mark == null || BoundedSpin.until(() -> mark.get() != 0);
        released = true;
        if (!reached) {
            r.r1 = BoundedSpin.TIMEOUT;
            return;
        }
        K.irqs.disableIrq(IRQ);
        r.r2 = data;
        final int entered = PRIMARY_ENTERED.get();
        final int started = THREAD_STARTED.get();
        r.r3 = entered;
        r.r4 = started;
        r.r5 = THREAD_FINISHED.get();
        if (entered != 0) {
            K.irqs.raise(IRQ);   // must be held: the line is disabled
        }
        final int probes = PROBES.get();
        K.irqs.raise(PROBE_IRQ);
        if (BoundedSpin.until(() -> PROBES.get() != probes)) {
            r.r6 = PRIMARY_ENTERED.get() + THREAD_STARTED.get() - entered - started;
        } else {
            r.r6 = BoundedSpin.TIMEOUT;
        }
        K.irqs.enableIrq(IRQ);

        final int expected = entered + 1;
        if (BoundedSpin.until(() -> THREAD_FINISHED.get() >= expected)) {
            K.irqs.synchronizeIrq(IRQ);
            r.r7 = THREAD_FINISHED.get();
        } else {
            r.r7 = BoundedSpin.TIMEOUT;
        }
        r.r1 = phase;
    }
}

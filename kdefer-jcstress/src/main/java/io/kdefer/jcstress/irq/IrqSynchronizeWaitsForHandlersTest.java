package io.kdefer.jcstress.irq;

import io.kdefer.testkit.BoundedSpin;
import io.kdefer.irq.IrqReturn;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code Irqs.synchronizeIrq()}: when it returns, no hard handler and no thread function of the
 * line is running, a thread function woken before the call has run to its end, and everything
 * those runs did is visible to the caller.
 * <pre>
 *   primary (cpu/0):  entered++; ...; done++; return WAKE_THREAD
 *   thread function:  started++; ...; data = 1 (plain); finished++
 *   T0: irqs.raise(irq); wait until the interrupt reached the state's phase;
 *       irqs.synchronizeIrq(irq); r0 = data (plain); r1 = started; r2 = finished
 *   Forbidden: r1 == 1, r2 == 0 (the thread function was running when synchronizeIrq returned)
 *   Forbidden: r1 == 0 (the primary had woken the thread, which had not run yet)
 *   Forbidden: r2 == 1, r0 == 0 (the finished run's write is not visible)
 * </pre>
 * {@code synchronizeIrq()} does not hold off new interrupts, so the actor calls it only once the
 * interrupt it raised has reached a known point: from then on the line owes one complete thread
 * run. The states cycle through three phases, which put the call in each window of the
 * interrupt's life:
 * <ul>
 *   <li>{@code 0}: inside the primary handler. The primary holds on (bounded) until the actor is
 *       about to call {@code synchronizeIrq()}, then lingers a little more: the call must wait
 *       for INPROGRESS to clear, then for the thread run the primary wakes;</li>
 *   <li>{@code 1}: the primary's last statement has run: the call lands while the flow handler
 *       wakes the thread ({@code threads_active++}, then RUNTHREAD), clears INPROGRESS and
 *       exits, or while the woken thread is being scheduled;</li>
 *   <li>{@code 2}: inside the thread function, which holds on the same way: the call must wait
 *       for {@code threads_active} to drop to 0 at the end of the run.</li>
 * </ul>
 * The hold makes the handler wait for a write of the actor, never the reverse, so it adds no
 * ordering from the handlers to the actor. {@code data} is read first, before anything else that
 * could synchronise with the thread function (the phase waits read only counters incremented
 * before the plain write), so its visibility comes from {@code synchronizeIrq()} itself.
 *
 * <p>How it fails (names from the litmus above): a wait for INPROGRESS alone returns in phases
 * 0 and 1 as soon as the flow handler exits, before the woken thread function ran
 * ({@code r1 == 0}), and in phase 2 at once ({@code r2 == 0}); a wait for {@code threads_active}
 * alone returns in phase 0 while the primary is still running, before it woke the thread
 * ({@code r1 == 0}); a wait that read the state with plain loads could return with {@code data}
 * still unseen ({@code r0 == 0}, possible on weakly ordered CPUs only). Phase 1 is also the
 * window of a wait that checks whether the thread function is <em>running</em> instead of
 * whether it was woken. A wait that reads {@code threads_active} before INPROGRESS is wrong too,
 * but only a stall of the waiter between its two reads exposes it: this test catches it by
 * chance at best.
 *
 * <p>Result: {@code r1} = the phase (0, 1, 2; {@code -1}: the interrupt never reached it);
 * {@code r2} = {@code data}; {@code r3} = thread function runs started; {@code r4} = runs
 * finished.
 */
@JCStressTest
@Outcome(id = "[0-2], 1, 1, 1", expect = ACCEPTABLE,
        desc = "synchronizeIrq() returned after the woken thread function finished; its write is visible.")
@Outcome(id = "[0-9]+, [0-9]+, 1, 0", expect = FORBIDDEN,
        desc = "RUNNING: the thread function was still running when synchronizeIrq() returned.")
@Outcome(id = "[0-9]+, [0-9]+, 0, 0", expect = FORBIDDEN,
        desc = "NOT RUN: synchronizeIrq() returned while a woken thread function had not run yet.")
@Outcome(id = "[0-9]+, 0, 1, 1", expect = FORBIDDEN,
        desc = "STALE: the thread function finished but its write is not visible after synchronizeIrq().")
@Outcome(id = "-1, .*", expect = FORBIDDEN,
        desc = "TIMEOUT: the raised interrupt never reached the state's phase.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: one raise wakes the thread function exactly once.")
@State
public class IrqSynchronizeWaitsForHandlersTest {
    private static final int IRQ = 7;
    /** Spin hints a handler lingers for after its hold (or in place of it). */
    private static final int LINGER_SPINS = 200;
    private static final int PHASE_PRIMARY = 0;
    private static final int PHASE_PRIMARY_DONE = 1;
    private static final int PHASE_THREAD = 2;
    private static final int PHASES = 3;

    private static final IrqKernel K = new IrqKernel();
    private static final AtomicInteger NEXT_PHASE = new AtomicInteger();
    private static final AtomicInteger PRIMARY_ENTERED = new AtomicInteger();
    private static final AtomicInteger PRIMARY_DONE = new AtomicInteger();
    private static final AtomicInteger THREAD_STARTED = new AtomicInteger();
    private static final AtomicInteger THREAD_FINISHED = new AtomicInteger();
    /** What the actor waits for before it synchronizes, per phase. */
    private static final AtomicInteger[] PHASE_MARKS = {PRIMARY_ENTERED, PRIMARY_DONE, THREAD_STARTED};

    /** The phase whose handler holds on until {@link #released}; -1: none. Written by the actor. */
    private static volatile int holdIn = -1;
    /** Set by the actor just before it calls {@code synchronizeIrq()}. */
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
        }, "litmus-sync", null);
    }

    /** Keeps a handler inside its body until the actor is about to synchronize, and a bit longer. */
    private static void linger(int phase) {
        if (holdIn == phase) {
            BoundedSpin.until(() -> released);
        }
        BoundedSpin.spin(LINGER_SPINS);
    }

    private final int phase = Math.floorMod(NEXT_PHASE.getAndIncrement(), PHASES);

    @Actor
    public void synchronizer(IIII_Result r) {
        // the previous state's runs are over (its synchronizeIrq returned after them): start afresh
        data = 0;
        PRIMARY_ENTERED.set(0);
        PRIMARY_DONE.set(0);
        THREAD_STARTED.set(0);
        THREAD_FINISHED.set(0);
        released = false;
        holdIn = phase;

        K.irqs.raise(IRQ);
        final AtomicInteger mark = PHASE_MARKS[phase];
        final boolean reached = BoundedSpin.until(() -> mark.get() != 0);
        released = true;
        if (!reached) {
            r.r1 = BoundedSpin.TIMEOUT;
            return;
        }
        K.irqs.synchronizeIrq(IRQ);
        r.r2 = data;
        r.r3 = THREAD_STARTED.get();
        r.r4 = THREAD_FINISHED.get();
        r.r1 = phase;
    }
}

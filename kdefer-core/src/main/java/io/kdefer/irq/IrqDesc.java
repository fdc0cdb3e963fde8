package io.kdefer.irq;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * One interrupt line ({@code struct irq_desc}).
 *
 * <h2>State</h2>
 * <ul>
 *   <li>{@link #depth}: disable nesting; 0 = enabled. A line without actions is shut down, depth 1.
 *   <li>{@link #pendingReplay}: {@code IRQS_PENDING}, an assertion arrived while the line could
 *       not take it (disabled, masked by ONESHOT, or in progress elsewhere); replayed once when
 *       the line can ({@code check_irq_resend}).
 *   <li>{@link #masked}: {@code IRQD_IRQ_MASKED}, set from the hard interrupt of an ONESHOT line
 *       until every woken ONESHOT thread finished ({@link #threadsOneshot} back to 0).
 *   <li>{@link #inProgress}: {@code IRQD_IRQ_INPROGRESS}, the handlers run now (on {@code cpu/N},
 *       or in the spurious poller).
 *   <li>{@link #threadsActive}: woken-but-not-finished thread runs; {@code synchronize_irq} waits
 *       for 0.
 * </ul>
 *
 * <p>Field access codes: {@code F} final; {@code L} guarded by this object's monitor
 * ({@code desc->lock}); {@code A} volatile or atomic; {@code P} written only by the flow handler
 * while {@link #inProgress} is set (so by one thread at a time), read under the lock by views.
 */
final class IrqDesc {
    /** Bit 31 of {@link #threadsHandledLast}: the spurious verdict is deferred by one interrupt. */
    static final int SPURIOUS_DEFERRED = 0x80000000;

    static final IrqAction[] NO_ACTIONS = new IrqAction[0];

    final int irq;                                    // F
    volatile IrqAction[] actions = NO_ACTIONS;         // A: copy-on-write, written under the lock
    volatile int cpu;                                 // A: the affinity: where raises are delivered
    volatile boolean inProgress;                      // A: written under the lock
    int depth = 1;                                    // L
    boolean pendingReplay;                            // L
    boolean masked;                                   // L
    boolean oneshot;                                  // L: IRQS_ONESHOT
    boolean spuriousDisabled;                         // L: IRQS_SPURIOUS_DISABLED
    boolean noDebug;                                  // L: IRQF_NO_DEBUG on the first action
    long threadsOneshot;                              // L
    final AtomicInteger threadsActive = new AtomicInteger();   // A
    final AtomicInteger threadsHandled = new AtomicInteger();  // A: thread runs that returned HANDLED
    int threadsHandledLast;                           // P
    int irqCount;                                     // P: interrupts counted in the current window
    int irqsUnhandled;                                // P
    long lastUnhandled;                               // P: jiffies of the last unhandled one
    final long[] kstat;                               // per CPU; slot n written by cpu/N only

    IrqDesc(int irq, int nrCpus) {
        this.irq = irq;
        this.kstat = new long[nrCpus];
    }

    /** The line can take an assertion now. */
    boolean deliverableLocked() {
        return actions.length != 0 && depth == 0 && !masked;
    }

    /** Clears {@link #pendingReplay} and returns true when a remembered assertion should be replayed. */
    boolean takeReplayLocked() {
        if (pendingReplay && deliverableLocked() && !inProgress) {
            pendingReplay = false;
            return true;
        }
        return false;
    }
}

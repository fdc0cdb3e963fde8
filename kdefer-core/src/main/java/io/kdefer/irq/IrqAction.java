package io.kdefer.irq;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One requested handler of a line ({@code struct irqaction}).
 *
 * <p>{@link #runThread} is {@code IRQTF_RUNTHREAD}: set (test-and-set) by whoever wakes the
 * thread, cleared (test-and-clear) by the thread when it starts a run. A wake while the bit is
 * set is coalesced with the one not yet consumed; a wake while the thread runs (the bit was
 * cleared when the run began) sets it again and makes exactly one more run follow.
 *
 * <p>Field access codes: {@code F} final; {@code L} guarded by the descriptor's lock;
 * {@code A} VarHandle/volatile.
 */
final class IrqAction {
    private static final VarHandle RUN_THREAD;
    private static final VarHandle WARNED;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            RUN_THREAD = l.findVarHandle(IrqAction.class, "runThread", int.class);
            WARNED = l.findVarHandle(IrqAction.class, "warned", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final IrqDesc desc;             // F
    final IrqHandler handler;       // F: the primary handler (the default one for thread-only actions)
    final IrqHandler threadFn;      // F: null for a hardirq-only action
    final String name;              // F
    final Object devId;             // F
    final int flags;                // F: IRQF_* after forced threading adjusted them
    final boolean forced;           // F: IRQTF_FORCED_THREAD: threadFn is the original primary handler
    final boolean secondaryAction;  // F: the forced-threading secondary (irq/N-s-name)
    final IrqAction secondary;      // F: the original thread function's action when forced, else null
    long threadMask;                // L: this action's bit in threads_oneshot (0 unless ONESHOT)
    IrqThread thread;               // L: set at request, before the action is published
    @SuppressWarnings("unused")
    private volatile int runThread; // A: IRQTF_RUNTHREAD
    @SuppressWarnings("unused")
    private volatile int warned;    // A: "WAKE_THREAD without a thread function" reported once

    IrqAction(IrqDesc desc, IrqHandler handler, IrqHandler threadFn, String name, Object devId, int flags,
              boolean forced, boolean secondaryAction, IrqAction secondary) {
        this.desc = desc;
        this.handler = handler;
        this.threadFn = threadFn;
        this.name = name;
        this.devId = devId;
        this.flags = flags;
        this.forced = forced;
        this.secondaryAction = secondaryAction;
        this.secondary = secondary;
    }

    boolean has(IrqFlag f) {
        return (flags & f.value()) != 0;
    }

    /** {@code test_and_set_bit(IRQTF_RUNTHREAD)}: true when this call set it. */
    boolean setRunThread() {
        return (int) RUN_THREAD.getVolatile(this) == 0 && RUN_THREAD.compareAndSet(this, 0, 1);
    }

    /** {@code test_and_clear_bit(IRQTF_RUNTHREAD)}: true when it was set. */
    boolean takeRunThread() {
        return (int) RUN_THREAD.getVolatile(this) != 0 && (int) RUN_THREAD.getAndSet(this, 0) != 0;
    }

    boolean runThreadVolatile() {
        return (int) RUN_THREAD.getVolatile(this) != 0;
    }

    /** True the first time only: {@code WARN_ONCE} per action. */
    boolean warnOnce() {
        return WARNED.compareAndSet(this, 0, 1);
    }

    @Override
    public String toString() {
        return "irq " + desc.irq + " action '" + name + "'";
    }
}

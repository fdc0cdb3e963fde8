package io.kdefer.softirq;

/**
 * A kernel's softirq table ({@code kernel/softirq.c}).
 *
 * <p>A raised vector runs on the CPU that raised it, in softirq context, at the next of: the exit
 * of the hardirq that raised it ({@code irq_exit}), the outermost {@code local_bh_enable()} of a
 * section that raised it, or in {@code ksoftirqd/N} (woken when it was raised from task context,
 * or when an invocation of the loop ran out of its 10-pass / 2 ms budget).
 *
 * <p>Memory ordering: writes made before {@link #raise} are visible to the action run it causes.
 * <pre>
 *   T0: x = token; softirqs.raise(v)       v's action (the run the raise causes): r0 = x
 *   Forbidden: r0 != token
 * </pre>
 * Verified by {@code kdefer-jcstress: SoftirqRaisePublishesPriorWritesTest}. A raise is never
 * stranded: a vector raised (also with {@link #raiseIrqoff} from a hardirq) while another thread
 * owns the CPU's bottom halves and is releasing them runs, in that thread, at the hardirq's exit,
 * or in {@code ksoftirqd} ({@code SoftirqRaiseRacingBhReleaseTest}).
 */
public interface Softirqs {
    /**
     * {@code open_softirq()}: installs the action of {@code vector}. Once per vector; HI, TIMER and
     * TASKLET belong to kdefer and are refused ({@link IllegalStateException}).
     */
    void open(SoftirqVector vector, Runnable action);

    /** {@code raise_softirq()}: marks {@code vector} pending on the caller's CPU (see the class comment). */
    void raise(SoftirqVector vector);

    /** {@code raise_softirq_irqoff()} without the ksoftirqd wake-up: {@code __raise_softirq_irqoff()}. */
    void raiseIrqoff(SoftirqVector vector);

    /** {@code local_softirq_pending()} of {@code cpu}: the mask of raised vectors not yet run. */
    int pending(int cpu);

    /** How many times {@code vector}'s action was invoked on {@code cpu} ({@code /proc/softirqs}). */
    long count(int cpu, SoftirqVector vector);

    /** The {@code /proc/softirqs} table as text. */
    String procSoftirqs();
}

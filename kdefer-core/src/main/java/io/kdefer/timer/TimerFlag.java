package io.kdefer.timer;

/** Flags of {@link KernelTimer#setup} ({@code include/linux/timer.h}). */
public enum TimerFlag {
    /**
     * {@code TIMER_PINNED}: expires on the CPU it was armed on. kdefer enqueues every timer on the
     * arming CPU's wheel anyway (see docs/deviations.md); the flag is kept and reported.
     */
    PINNED,
    /**
     * {@code TIMER_DEFERRABLE}: on a separate wheel that does not wake an idle CPU; it expires when
     * the CPU is awake for another reason.
     */
    DEFERRABLE,
    /**
     * {@code TIMER_IRQSAFE}: {@link KernelTimer#deleteSync()} may be called on it from hardirq
     * context.
     */
    IRQSAFE
}

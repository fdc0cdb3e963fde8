package io.kdefer.internal;

/**
 * What the tick and the idle loop of {@code cpu/N} need from the timer wheel. Installed by the
 * timer mechanism when a kernel's first timer is set up.
 */
public interface TimerHooks {
    /**
     * {@code run_local_timers()}: called in hardirq context on {@code cpu} at a tick. Returns true
     * when one of the CPU's timer bases has expired timers (the caller raises TIMER_SOFTIRQ).
     * Deferrable timers count only when the CPU is {@code awake}: it did other work since its last
     * tick (an idle, tickless CPU would not have had this tick).
     */
    boolean tick(int cpu, long jiffies, boolean awake);

    /**
     * True when a deferrable timer is due on {@code cpu}: checked when the CPU is woken by another
     * interrupt, since deferrable timers do not wake an idle CPU themselves.
     */
    boolean deferrableDue(int cpu, long jiffies);

    /**
     * The earliest jiffy at which a timer that may wake an idle CPU (not deferrable) expires on
     * {@code cpu}, or {@link Long#MAX_VALUE} when there is none.
     */
    long nextWakeup(int cpu);

    /**
     * As {@link #nextWakeup} without taking a lock: the last published value, which may be earlier
     * than the exact one after a removal. Read by an idle {@code cpu/N} that checks whether its
     * deadline went stale.
     */
    long nextWakeupHint(int cpu);

    /**
     * True when timers are armed on {@code cpu}. While the kernel closes, a TIMER_SOFTIRQ deals with
     * every armed timer (run once or report, per the close policy) and shuts it down.
     */
    boolean anyArmed(int cpu);

    /**
     * close() began: takes and releases every wheel lock once, so that every arm that checked the
     * kernel state under one of them before CLOSING has finished (see "Entry protocol" in
     * {@link KernelRuntime}).
     */
    void quiesce();
}

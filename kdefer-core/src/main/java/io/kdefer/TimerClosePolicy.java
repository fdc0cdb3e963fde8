package io.kdefer;

/**
 * What {@link Kernel#close()} does with timers that are still armed. Either way each such timer
 * ends shut down (later arms are ignored), so that close terminates even with periodic timers.
 */
public enum TimerClosePolicy {
    /**
     * Report each armed timer to the error handler as not run, and shut it down. The default: a
     * timer's callback is not run before its time.
     */
    REPORT,
    /**
     * Run each armed timer's callback once, now (early), on its CPU in TIMER_SOFTIRQ context, then
     * shut it down: for timers whose callback releases resources.
     */
    RUN
}

package io.kdefer;

/**
 * Receives what a callback threw. Softirq actions, tasklet callbacks and hardirq functions run on
 * kdefer's threads; an exception there is handed here, counted, and the thread and the object go
 * on (a tasklet that threw is not left RUNNING).
 *
 * <p>The default handler logs through {@link System.Logger} at WARNING. A handler that throws is
 * ignored.
 */
@FunctionalInterface
public interface ErrorHandler {
    /**
     * @param source what was running: a {@code Tasklet}, or a description such as
     *               {@code "NET_RX softirq on cpu 0"}
     * @param error  what it threw
     */
    void onError(Object source, Throwable error);

    /** The default: log at WARNING through {@code System.getLogger("io.kdefer")}. */
    static ErrorHandler logging() {
        return (source, error) -> System.getLogger("io.kdefer")
                .log(System.Logger.Level.WARNING, "callback of " + source + " threw", error);
    }
}

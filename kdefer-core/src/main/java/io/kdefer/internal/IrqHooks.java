package io.kdefer.internal;

/**
 * What {@code cpu/N} and the kernel's lifecycle need from the interrupt-line mechanism. Installed
 * by it when a kernel's interrupt lines are first used.
 */
public interface IrqHooks {
    /**
     * The flow handler of line {@code irq} ({@code handle_edge_irq} and friends), called on
     * {@code cpu/N} in hardirq context when a device asserted the line there. Its irq exit follows.
     */
    void handle(int irq);

    /** Counts threaded-handler runs, so that close() can tell when interrupt threads went quiet. */
    long activity();

    /** Waits until no interrupt thread has a run pending or in progress. Called by close(). */
    void awaitThreadsIdle();

    /** close() started: stop background activity that would re-arm itself (the spurious poller). */
    void closing();

    /** Stops and joins every interrupt thread. Called by close() once everything is drained. */
    void stopThreads();
}

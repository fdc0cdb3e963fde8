package io.kdefer.tasklet;

/**
 * What carries a tasklet's runs ({@code Kernel.builder().taskletBackend(...)}). The tasklet API and
 * its state machine (SCHED, RUN, the disable count) are the same on every backend; the backends
 * differ in the context and the queue a run goes through, so the designs the kernel community
 * debated can be compared on the same driver code. Differences are listed in docs/deviations.md.
 */
public enum TaskletBackend {
    /**
     * The kernel's own: per-CPU lists run by {@code tasklet_action} in TASKLET_SOFTIRQ / HI_SOFTIRQ
     * (softirq context, at irq exit or in {@code ksoftirqd}). The default.
     */
    SOFTIRQ,
    /**
     * Carried by BH work items, as Linux 6.9+ converts tasklets: a schedule queues the tasklet's
     * work item on {@code system_bh_wq} (HI: {@code system_bh_highpri_wq}) of the caller's CPU; it
     * runs in softirq context, in the same vector, ahead of the tasklets proper.
     */
    BH_WORKQUEUE,
    /**
     * Carried by a process-context workqueue, as the 2007 proposal to run tasklets on workqueues
     * did: a schedule queues the tasklet's work item on the per-CPU {@code ktasklets} queue (HI: the
     * highpri {@code ktasklets_hi}); the callback runs on a {@code kworker} with bottom halves
     * disabled (so it still may not sleep), in task context rather than serving a softirq.
     */
    WORKQUEUE
}

package io.kdefer.workqueue;

/**
 * Flags of {@code alloc_workqueue()} ({@code include/linux/workqueue.h}, spec §4.3).
 */
public enum WqFlag {
    /** {@code WQ_UNBOUND}: unbound pools; not concurrency-managed, one worker per active item. */
    UNBOUND,
    /** {@code WQ_HIGHPRI}: the high-priority pools ({@code kworker/N:MH}); for BH, HI_SOFTIRQ. */
    HIGHPRI,
    /** {@code WQ_CPU_INTENSIVE}: items do not count toward concurrency ({@code nr_running}). */
    CPU_INTENSIVE,
    /** {@code WQ_MEM_RECLAIM}: a rescuer guarantees forward progress (see docs/deviations.md). */
    MEM_RECLAIM,
    /** {@code WQ_BH} (6.9+): items run in softirq context of the queueing CPU. */
    BH,
    /** {@code WQ_FREEZABLE}: accepted; kdefer has no system freeze (see docs/deviations.md). */
    FREEZABLE,
    /** {@code WQ_PERCPU} (6.17+): the explicit per-CPU marker; per-CPU is the default. */
    PERCPU,
    /** {@code WQ_POWER_EFFICIENT}: per-CPU, as with {@code workqueue.power_efficient=0} (the default). */
    POWER_EFFICIENT
}

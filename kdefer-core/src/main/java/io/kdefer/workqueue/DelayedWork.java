package io.kdefer.workqueue;

import io.kdefer.timer.KernelTimer;

import java.util.function.Consumer;

/**
 * A work item queued after a delay ({@code struct delayed_work}): the item plus a kernel timer
 * whose callback ({@code delayed_work_timer_fn}, softirq context) queues it on the workqueue and
 * CPU recorded when it was armed. While the timer is armed the item is PENDING, so a second
 * {@code queueDelayed} returns false and leaves the timer alone; {@link Workqueue#modDelayed}
 * re-times it.
 *
 * <p>The timer is created on the first delayed queueing (the constructor has no kernel); an item
 * belongs to the kernel of the first workqueue it is queued on with a delay.
 *
 * <p>Field access codes: {@code A} volatile; {@code P} written only by the owner of PENDING.
 */
public class DelayedWork extends Work {
    /** A: the timer, created by the first delayed queueing (which owns PENDING), never replaced. */
    volatile KernelTimer timer;
    /** A: the kernel's workqueue engine, set with {@link #timer}. */
    volatile WorkqueueEngine engine;
    /** P: the workqueue the timer queues on ({@code dwork->wq}). */
    Workqueue wq;
    /** P: the CPU requested, or {@link Workqueue#WORK_CPU_UNBOUND} ({@code dwork->cpu}). */
    int targetCpu;

    /** {@code INIT_DELAYED_WORK(dwork, func)}. */
    public DelayedWork(Consumer<Work> func) {
        super(func);
    }

    /** The timer, or null before the first delayed queueing. */
    public final KernelTimer timer() {
        return timer;
    }

    /**
     * {@code flush_delayed_work()}: if the timer is armed, deletes it and queues the item at once on
     * its recorded workqueue, then waits as {@link Work#flush()} does.
     */
    @Override
    public boolean flush() {
        return Flush.flushDelayed(this);
    }

    /** {@code cancel_delayed_work()}: also steals the timer. Any context. */
    @Override
    public boolean cancel() {
        return Cancel.cancel(this, true);
    }

    /** {@code cancel_delayed_work_sync()}. */
    @Override
    public boolean cancelSync() {
        return Cancel.cancelSync(this, true);
    }

    /** {@code disable_delayed_work()}. */
    @Override
    public boolean disable() {
        return Cancel.disable(this, true);
    }
}

package io.kdefer.workqueue;

import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.RunnableScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One task of a workqueue's scheduled view ({@link WorkqueueScheduledExecutorService}): a
 * {@link WorkqueueExecutorTask} with a deadline in jiffies, whose work item waits for it on the
 * kernel's timer wheel ({@link Workqueue#queueDelayed(DelayedWork, long)}).
 *
 * <p>Periodic tasks keep one work item and one timer for their whole life: after each run the view
 * advances {@link #time} (by the period for a fixed rate, to the end of the run plus the delay for
 * a fixed delay) and queues the item again with the jiffies left.
 *
 * <p>Field access codes: {@code F} final; {@code A} volatile, written under the view's lock (and
 * once before the task is shared).
 */
final class WorkqueueScheduledTask<V> extends WorkqueueExecutorTask<V> implements RunnableScheduledFuture<V> {
    /** F: jiffies between runs; positive: fixed rate, negative: fixed delay, 0: one run. */
    private final long period;
    /** F: order of creation, breaks ties between equal deadlines (first scheduled, first). */
    private final long seq;
    /** A: the deadline of the next run, in jiffies. */
    private volatile long time;

    WorkqueueScheduledTask(WorkqueueScheduledExecutorService owner, Callable<V> body, long seq) {
        super(owner, body, false);
        this.period = 0;
        this.seq = seq;
    }

    WorkqueueScheduledTask(WorkqueueScheduledExecutorService owner, Runnable body, V value, boolean execute,
            long period, long seq) {
        super(owner, body, value, execute);
        this.period = period;
        this.seq = seq;
    }

    private WorkqueueScheduledExecutorService view() {
        return (WorkqueueScheduledExecutorService) owner;
    }

    @Override
    public boolean isPeriodic() {
        return period != 0;
    }

    /** The deadline of the next run, in jiffies. */
    long time() {
        return time;
    }

    @Override
    void onAccept(long delay) {
        time = view().jiffies() + delay;
    }

    /** L: after a run: the deadline of the next one, given the jiffies now. */
    void advance(long now) {
        long next = period > 0 ? time + period : now - period;
        time = next - now > WorkqueueScheduledExecutorService.MAX_DELAY
                ? now + WorkqueueScheduledExecutorService.MAX_DELAY : next;
    }

    /** The scheduled view hands back the task itself, even for {@code execute()}, as STPE does. */
    @Override
    Runnable unstarted() {
        return this;
    }

    /** The time left to the deadline (negative once it passed), at the kernel's HZ. */
    @Override
    public long getDelay(TimeUnit unit) {
        WorkqueueScheduledExecutorService v = view();
        return unit.convert(v.jiffiesToNanos(time - v.jiffies()), TimeUnit.NANOSECONDS);
    }

    /**
     * Earlier deadline first; equal deadlines in the order the tasks were created. Tasks of the
     * same kernel compare by jiffies; anything else by {@link #getDelay} in nanoseconds.
     */
    @Override
    public int compareTo(Delayed other) {
        if (other == this) {
            return 0;
        }
        if (other instanceof WorkqueueScheduledTask) {
            WorkqueueScheduledTask<?> x = (WorkqueueScheduledTask<?>) other;
            if (x.owner.wq.rt == owner.wq.rt) {
                long diff = time - x.time;
                if (diff != 0) {
                    return diff < 0 ? -1 : 1;
                }
                return Long.compare(seq, x.seq);
            }
        }
        return Long.compare(getDelay(TimeUnit.NANOSECONDS), other.getDelay(TimeUnit.NANOSECONDS));
    }

    @Override
    public String toString() {
        String base = super.toString();
        return base.substring(0, base.length() - 1) + ", deadline = " + time
                + (period > 0 ? ", fixed rate " + period : period < 0 ? ", fixed delay " + (-period) : "") + "]";
    }
}

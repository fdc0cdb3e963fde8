package io.kdefer.workqueue;

import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A workqueue seen as a JDK {@link ScheduledExecutorService}
 * ({@link Workqueue#asScheduledExecutorService()}), whose delays run on the kernel's timer wheel:
 * each task is one {@link DelayedWork} queued with
 * {@link Workqueue#queueDelayed(DelayedWork, long)}, so a program can swap a
 * {@link java.util.concurrent.ScheduledThreadPoolExecutor} for it in one line and have its timeouts
 * driven by jiffies (and, in tests, by a {@link io.kdefer.ManualClock}).
 *
 * <pre>{@code
 * ScheduledExecutorService ses = kernel.systemUnboundWq().asScheduledExecutorService();
 * ScheduledFuture<?> poll = ses.scheduleAtFixedRate(this::poll, 0, 10, TimeUnit.MILLISECONDS);
 * poll.cancel(false);     // deletes its timer; it never runs again
 * }</pre>
 *
 * <h2>Time</h2>
 * A delay is converted to jiffies at the kernel's HZ, rounded up (at HZ 1000, 1500 us is 2
 * jiffies; any positive delay is at least one jiffy; zero or negative means now, without a timer).
 * The deadline is the jiffies at acceptance plus that; {@link ScheduledFuture#getDelay} is the
 * jiffies left to it, in the unit asked. The item is queued when its timer fires: never before the
 * deadline, and like every kernel timer one jiffy after it at the wheel's first level (up to one
 * granule after it on the coarser levels). A delay beyond the wheel's range fires early, clamped by
 * the wheel; the task notices the deadline has not come and arms itself again for the rest.
 *
 * <h2>Periodic tasks</h2>
 * Each run re-arms the same item: a fixed rate at the previous deadline plus the period (so the
 * timer's lateness does not accumulate; a run that is late by more than a period is followed at once
 * by the next), a fixed delay at the end of the run plus the delay. A run that throws completes the
 * future exceptionally and stops the series; {@code cancel} stops it too, whether the task waits on
 * its timer (the timer is deleted) or is running (it is not re-armed). The future of a periodic task
 * completes only that way.
 *
 * <h2>Shutdown (the defaults of {@code ScheduledThreadPoolExecutor})</h2>
 * {@code shutdown} cancels the periodic tasks (deleting their timers) and lets the one-shot delayed
 * tasks wait for their deadlines and run: the view terminates after the last of them. A periodic
 * task running at that moment finishes its run and is cancelled instead of re-armed.
 * {@code shutdownNow} removes every task not running, periodic ones included, deletes their timers
 * and returns them as {@link ScheduledFuture}s (also those that came from {@code execute}); it does
 * not cancel their futures. A task that a worker took just before {@code shutdownNow} does not run:
 * it is cancelled. When the kernel closes, periodic tasks are cancelled instead of re-armed, and a
 * timer that the close runs early runs its task at once.
 *
 * <p>Everything else, including the ordering of a shutdown against a racing schedule (the same
 * lock), is as in {@link WorkqueueExecutorService}.
 *
 * <h2>Not like {@code ScheduledThreadPoolExecutor}</h2>
 * <ul>
 *   <li>What a command given to {@code execute} throws is reported to the kernel's error handler
 *       (and completes its hidden future exceptionally); STPE only keeps it in that future.</li>
 *   <li>{@code cancel} removes the task from the queue at once (STPE's
 *       {@code setRemoveOnCancelPolicy(true)}), so a cancelled delayed task does not hold back
 *       termination.</li>
 *   <li>Delays are whole jiffies, run on the timer wheel's granularity (see Time).</li>
 * </ul>
 */
final class WorkqueueScheduledExecutorService extends WorkqueueExecutorService implements ScheduledExecutorService {
    /**
     * The longest delay or period kept, in jiffies (2^61: thousands of years at any HZ). Keeps
     * {@code jiffies + delay} far from overflow, so that wrap-safe comparisons of deadlines hold.
     */
    static final long MAX_DELAY = Long.MAX_VALUE >> 2;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    /** A: creation order of this view's tasks (ties between equal deadlines). */
    private final AtomicLong sequencer = new AtomicLong();

    WorkqueueScheduledExecutorService(Workqueue wq) {
        super(wq);
    }

    // ---------------------------------------------------------------- ScheduledExecutorService

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        Objects.requireNonNull(command, "command");
        Objects.requireNonNull(unit, "unit");
        return submitScheduled(new WorkqueueScheduledTask<Void>(this, command, null, false, 0, nextSeq()),
                toJiffies(delay, unit));
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        Objects.requireNonNull(callable, "callable");
        Objects.requireNonNull(unit, "unit");
        return submitScheduled(new WorkqueueScheduledTask<>(this, callable, nextSeq()), toJiffies(delay, unit));
    }

    /**
     * @throws IllegalArgumentException if {@code period} is not positive
     */
    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        Objects.requireNonNull(command, "command");
        Objects.requireNonNull(unit, "unit");
        if (period <= 0L) {
            throw new IllegalArgumentException("period must be positive: " + period);
        }
        return submitScheduled(new WorkqueueScheduledTask<Void>(this, command, null, false,
                toJiffies(period, unit), nextSeq()), toJiffies(initialDelay, unit));
    }

    /**
     * @throws IllegalArgumentException if {@code delay} is not positive
     */
    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        Objects.requireNonNull(command, "command");
        Objects.requireNonNull(unit, "unit");
        if (delay <= 0L) {
            throw new IllegalArgumentException("delay must be positive: " + delay);
        }
        return submitScheduled(new WorkqueueScheduledTask<Void>(this, command, null, false,
                -toJiffies(delay, unit), nextSeq()), toJiffies(initialDelay, unit));
    }

    @Override
    protected <T> RunnableFuture<T> newTaskFor(Runnable runnable, T value) {
        return new WorkqueueScheduledTask<>(this, runnable, value, false, 0, nextSeq());
    }

    @Override
    protected <T> RunnableFuture<T> newTaskFor(Callable<T> callable) {
        return new WorkqueueScheduledTask<>(this, callable, nextSeq());
    }

    @Override
    WorkqueueExecutorTask<?> taskForExecute(Runnable command) {
        return new WorkqueueScheduledTask<Void>(this, command, null, true, 0, nextSeq());
    }

    private <V> ScheduledFuture<V> submitScheduled(WorkqueueScheduledTask<V> t, long delay) {
        lock.lock();
        try {
            accept(t, delay);
        } finally {
            lock.unlock();
        }
        return t;
    }

    private long nextSeq() {
        return sequencer.getAndIncrement();
    }

    // ---------------------------------------------------------------- policies (L)

    /** L: STPE's defaults: periodic tasks are cancelled, one-shot delayed tasks stay. */
    @Override
    void onShutdown(WorkqueueExecutorTask<?> t) {
        if (t.isPeriodic()) {
            t.cancel(false);   // deletes its timer, or (running) keeps it from re-arming
        }
    }

    @Override
    int admit(WorkqueueExecutorTask<?> task) {
        WorkqueueScheduledTask<?> t = (WorkqueueScheduledTask<?>) task;
        if (t.isDone()) {
            return DROP;
        }
        if (!mayRun(t)) {
            t.cancel(false);
            return DROP;
        }
        long left = t.time() - jiffies();
        if (left > 0 && !wq.rt.isClosing()) {
            // the wheel clamped a delay beyond its range and fired early: wait for the rest
            if (requeue(t, left)) {
                return REARMED;
            }
            t.cancel(false);
            return DROP;
        }
        return RUN;
    }

    @Override
    boolean rearm(WorkqueueExecutorTask<?> task) {
        WorkqueueScheduledTask<?> t = (WorkqueueScheduledTask<?>) task;
        if (t.isDone()) {
            return false;   // cancelled while it ran (that cancel found it running and left it to us)
        }
        if (runStateLocked() != RUNNING || wq.rt.isClosing()) {
            t.cancel(false);   // STPE cancels a periodic task that may not run again
            return false;
        }
        long now = jiffies();
        t.advance(now);
        if (requeue(t, Math.max(0L, t.time() - now))) {
            return true;
        }
        t.cancel(false);
        return false;
    }

    /** L: may {@code t} run in the current state (STPE's {@code canRunInCurrentRunState}, default policies)? */
    private boolean mayRun(WorkqueueScheduledTask<?> t) {
        int s = runStateLocked();
        return s == RUNNING || (s == SHUTDOWN && !t.isPeriodic());
    }

    /** L: queues {@code t}'s item again after {@code delay} jiffies; false if the queue refuses it. */
    private boolean requeue(WorkqueueScheduledTask<?> t, long delay) {
        try {
            return delay == 0 ? wq.queue(t) : wq.queueDelayed(t, delay);
        } catch (IllegalStateException e) {
            return false;   // the queue is destroyed or the kernel closed: the task is cancelled
        }
    }

    // ---------------------------------------------------------------- time

    long jiffies() {
        return wq.rt.clock.jiffies();
    }

    /**
     * {@code delay} in jiffies at the kernel's HZ, rounded up; 0 for zero or negative delays; at most
     * {@link #MAX_DELAY}.
     */
    long toJiffies(long delay, TimeUnit unit) {
        if (delay <= 0L) {
            return 0L;
        }
        long nanos = unit.toNanos(delay);   // saturates
        long hz = wq.rt.hz;
        long seconds = nanos / NANOS_PER_SECOND;
        long rest = ((nanos % NANOS_PER_SECOND) * hz + NANOS_PER_SECOND - 1) / NANOS_PER_SECOND;
        if (seconds > (MAX_DELAY - rest) / hz) {
            return MAX_DELAY;
        }
        return seconds * hz + rest;
    }

    /** {@code jiffies} (may be negative) in nanoseconds at the kernel's HZ, saturating. */
    long jiffiesToNanos(long jiffies) {
        long hz = wq.rt.hz;
        long seconds = jiffies / hz;
        long rest = jiffies % hz;
        long limit = Long.MAX_VALUE / NANOS_PER_SECOND - 1;
        if (seconds > limit) {
            return Long.MAX_VALUE;
        }
        if (seconds < -limit) {
            return Long.MIN_VALUE;
        }
        return seconds * NANOS_PER_SECOND + rest * NANOS_PER_SECOND / hz;
    }
}

package io.kdefer.bench.peers;

import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The run-once-coalesce idiom a Java programmer writes by hand: a flag says "a drain is already
 * queued", so a burst of {@link #schedule()} calls submits one drain to the backing executor.
 *
 * <p>The flag is cleared when the drain starts, before the task runs, so a schedule made while the
 * task runs (the task's own included) submits one more drain: the same re-run rule as a tasklet.
 * The task runs on the backing executor's threads; it is self-serialised only when that executor
 * has one thread, which is how the benchmarks use it.
 *
 * <p>The fast path tests the flag with a plain volatile read before trying the CAS, so a schedule
 * that finds a drain already queued costs one read, as {@code Tasklet.schedule()} does.
 */
public final class DrainLoopExecutor {
    private final AtomicBoolean scheduled = new AtomicBoolean();   // A: a drain is queued
    private final Executor executor;                               // F
    private final Runnable task;                                   // F
    private final Runnable drain = this::drain;                    // F: allocated once

    public DrainLoopExecutor(Executor executor, Runnable task) {
        this.executor = Objects.requireNonNull(executor, "executor");
        this.task = Objects.requireNonNull(task, "task");
    }

    /** Queues a drain unless one is queued already; true when this call queued it. */
    public boolean schedule() {
        if (!scheduled.get() && scheduled.compareAndSet(false, true)) {
            executor.execute(drain);
            return true;
        }
        return false;
    }

    /** True while a drain is queued and has not started yet. */
    public boolean isScheduled() {
        return scheduled.get();
    }

    private void drain() {
        scheduled.set(false);
        task.run();
    }
}

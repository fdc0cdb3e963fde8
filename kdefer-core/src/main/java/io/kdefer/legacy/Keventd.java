package io.kdefer.legacy;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KThread;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Parker;

import java.util.ArrayList;

/**
 * {@code keventd} and {@code schedule_task} of Linux 2.4 ({@code kernel/context.c}): one kernel
 * thread, system-wide, that runs the task queue {@code tq_context} ({@link TaskQueue#SCHEDULER})
 * in process context. Its tasks may sleep ({@code Kernel.msleep}, completions, ...), and while one
 * sleeps every other scheduled task waits: the head-of-line blocking that workqueues removed.
 *
 * <h2>Thread</h2>
 * The thread, named {@code keventd}, is started by the first {@link #scheduleTask} and lives until
 * {@code Kernel.close()}, which waits until {@code tq_context} is empty and no pass runs, then
 * stops and joins it (a task queued by a callback during the drain is still run). Its CPU is 0
 * (2.4's keventd could run on any CPU; kdefer gives every thread one). It is an ordinary kdefer
 * thread: the kernel's blocking helpers work in it, with no concurrency management behind them.
 *
 * <h2>Passes and flushing</h2>
 * {@code context_thread} loops: sleep until {@code tq_context} is non-empty, then
 * {@code run_task_queue(&tq_context)} (one <em>pass</em>). Under the task-queue lock, a pass
 * detaches the list and increments {@code started}; when the pass has called every task,
 * {@code finished} is incremented (under the lock too) and flushers are woken.
 * {@link #flushScheduledTasks()} reads, under the same lock, {@code target = started} if the list
 * is empty, else {@code started + 1}, and waits until {@code finished >= target}: a task queued
 * before the call is either in the list (the next pass detaches it) or in the pass that is running.
 * Passes are sequential, so {@code finished} reaching the target means both are done.
 *
 * <p>Field access codes: {@code F} final; {@code L} guarded by {@link LegacyEngine#tqLock};
 * {@code A} volatile.
 */
public final class Keventd {
    private final LegacyEngine engine;     // F
    private final KernelRuntime rt;        // F
    private final TaskQueue context;       // F: tq_context
    private long started;                  // L: passes that detached a list
    private volatile long finished;        // A, written under L: passes that called every task
    private volatile KeventdThread thread; // A: set once, under this object's monitor
    private boolean stopped;               // guarded by this

    Keventd(LegacyEngine engine, TaskQueue context) {
        this.engine = engine;
        this.rt = engine.rt;
        this.context = context;
    }

    /**
     * {@code schedule_task(task)}: {@code queue_task(task, &tq_context)} and wake {@code keventd}.
     * Callable from any context, interrupt context included; the task runs later, in process
     * context, on the {@code keventd} thread.
     *
     * @return true when queued (the kernel's 1), false when the task was already queued on some
     *         task queue of this kernel (0)
     * @throws IllegalStateException from a thread outside the kernel once {@code close()} began
     */
    public boolean scheduleTask(Runnable task) {
        return context.queueTask(task);   // SCHEDULER: wakes keventd
    }

    /**
     * {@code flush_scheduled_tasks()}: waits until every task scheduled before the call has run
     * (tasks they re-queue are not waited for). Process context only.
     *
     * @throws IllegalStateException from {@code keventd} itself (it would wait for itself) or from
     *         atomic context (it sleeps)
     */
    public void flushScheduledTasks() {
        rt.checkOpen();
        if (currentIsKeventd()) {
            throw new IllegalStateException("flush_scheduled_tasks() from keventd itself: it would wait"
                    + " for its own pass forever");
        }
        CpuContext ctx = rt.context();
        if (!ctx.inTask() || ctx.inSoftirq()) {
            throw new IllegalStateException("flush_scheduled_tasks() sleeps: not allowed in atomic context"
                    + " (preempt_count " + ctx.countHex() + ")");
        }
        final long target;
        synchronized (engine.tqLock) {
            target = context.sizeLocked() == 0 ? started : started + 1;
        }
        if (finished >= target) {
            return;
        }
        wake();   // the tasks are queued, so keventd exists; make sure it looks
        rt.waitQueue().await(this, () -> finished >= target);
    }

    /** {@code current_is_keventd()}: true on the {@code keventd} thread. */
    public boolean currentIsKeventd() {
        Thread t = thread;
        return t != null && Thread.currentThread() == t;
    }

    /** The {@code keventd} thread, or null before the first {@link #scheduleTask}. */
    public Thread thread() {
        return thread;
    }

    /** Passes that ran every task they detached. */
    public long passes() {
        return finished;
    }

    /** The number of tasks waiting in {@code tq_context}. */
    public int queued() {
        return context.size();
    }

    /** Starts keventd if needed and wakes it: tq_context has tasks. */
    void wake() {
        KeventdThread t = thread;
        if (t == null) {
            t = start();
            if (t == null) {
                return;
            }
        }
        t.parker.wake();
    }

    private synchronized KeventdThread start() {
        KeventdThread t = thread;
        if (t == null && !stopped) {
            t = new KeventdThread();
            thread = t;
            t.start();
        }
        return t;
    }

    /** Nothing queued and no pass running. */
    boolean idle() {
        if (!context.isEmpty()) {
            return false;
        }
        synchronized (engine.tqLock) {
            return context.sizeLocked() == 0 && finished == started;
        }
    }

    /** Stops and joins the thread (it runs what is still queued first); true if interrupted. */
    boolean stop() {
        KeventdThread t;
        synchronized (this) {
            stopped = true;
            t = thread;
        }
        if (t == null) {
            return false;
        }
        t.requestStop();
        return KernelRuntime.join(t);
    }

    /** One pass: {@code run_task_queue(&tq_context)}. */
    private void pass() {
        ArrayList<Runnable> batch;
        synchronized (engine.tqLock) {
            batch = context.detachLocked();
            if (batch == null) {
                return;
            }
            started++;
        }
        try {
            context.runBatch(batch);
        } finally {
            synchronized (engine.tqLock) {
                finished = finished + 1;
            }
            rt.waitQueue().wakeAll(this);
            engine.wentIdle();
        }
    }

    /** {@code context_thread}. */
    private final class KeventdThread extends KThread implements Parker.Condition {
        KeventdThread() {
            super(engine.rt, 0, "keventd");
        }

        @Override
        public boolean hasWork() {
            return !context.isEmpty() || stopRequested();
        }

        @Override
        public void run() {
            for (;;) {
                if (!context.isEmpty()) {
                    pass();
                    continue;
                }
                if (stopRequested()) {
                    return;
                }
                parker.idle(this, 0);
            }
        }
    }

    @Override
    public String toString() {
        return "keventd";
    }
}

package io.kdefer.legacy;

import io.kdefer.Kernel;
import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Secrets;

import java.util.ArrayList;
import java.util.Objects;

/**
 * A task queue of Linux 2.0–2.4 ({@code include/linux/tqueue.h}, {@code DECLARE_TASK_QUEUE}): a
 * list of {@code tq_struct}s that runs, all at once, wherever {@link #run()}
 * ({@code run_task_queue}) is called.
 *
 * <h2>Tasks</h2>
 * The task is the {@link Runnable} itself: its identity plays the {@code tq_struct}, and the
 * kernel keeps its {@code sync} bit. A task is on at most one queue of a kernel at a time, as a
 * {@code tq_struct} with its single {@code sync} bit was: {@link #queueTask} of a task that waits
 * on any queue of the kernel (this one or another) returns false.
 *
 * <h2>The predefined queues</h2>
 * <ul>
 *   <li>{@link #TIMER} ({@code tq_timer}): every tick that finds it non-empty marks
 *       {@link BottomHalves#TQUEUE_BH}, whose handler runs it (HI softirq context, globally
 *       serialised with every other bottom half), as 2.4's {@code do_timer} did;</li>
 *   <li>{@link #IMMEDIATE} ({@code tq_immediate}): run by {@link BottomHalves#IMMEDIATE_BH}; the
 *       queuer must also mark that bottom half ({@code mark_bh(IMMEDIATE_BH)}), or use
 *       {@link BottomHalves#queueImmediate};</li>
 *   <li>{@link #SCHEDULER} ({@code tq_context} of 2.4, which took over from {@code tq_scheduler}):
 *       run by {@code keventd} in process context, where tasks may sleep. Queueing here is
 *       {@code schedule_task} ({@link Keventd#scheduleTask}): it wakes {@code keventd}. Only
 *       {@code keventd} runs it.</li>
 * </ul>
 * Queues made with {@link #TaskQueue(Kernel, String)} run where their owner calls {@link #run()};
 * {@code Kernel.close()} reports the tasks still waiting on them to the error handler.
 *
 * <h2>Protocol and ordering</h2>
 * All queues of a kernel share one lock ({@code tqueue_lock}), which also guards the
 * {@code sync} bits (the kernel's set of queued tasks).
 * <pre>
 *   queueTask(t):  lock; if t is queued anywhere: unlock, false; mark t queued; append; unlock; true
 *   run():         lock; detach the whole list; unlock;
 *                  for each t in order: lock; clear t's sync bit; unlock; t.run()
 * </pre>
 * The sync bit of a task is cleared before its routine is called, so the routine (or anyone
 * else) may queue it again; it then lands on the queue's new list, for the next run. A
 * {@code queueTask(t)} racing {@code run()} is therefore never lost: it either finds the bit set
 * (false) before the runner clears it, and the run that follows the clearing sees the queuer's
 * writes (the lock orders them), or it finds it clear and queues {@code t} for the next run.
 * <pre>
 *   T0: x = 1; r0 = q.queueTask(t)      T1: q.run()      t: r1 = x
 *   Forbidden: t never runs with x == 1 although r0 is true or false
 * </pre>
 * Verified by {@code kdefer-jcstress: TaskQueueRequeueNotLostTest}.
 *
 * <p>Field access codes: {@code F} final; {@code L} guarded by the kernel's task-queue lock
 * ({@link LegacyEngine#tqLock}); {@code A} volatile.
 */
public final class TaskQueue {
    /** The predefined queues of a kernel. */
    public enum Predefined {
        /** {@code tq_timer}. */
        TIMER,
        /** {@code tq_immediate}. */
        IMMEDIATE,
        /** {@code tq_context} (2.4) / {@code tq_scheduler} (2.0–2.2). */
        SCHEDULER
    }

    /** {@code tq_timer}: run from the tick by {@code TQUEUE_BH}. */
    public static final Predefined TIMER = Predefined.TIMER;
    /** {@code tq_immediate}: run by {@code IMMEDIATE_BH}, which the queuer marks. */
    public static final Predefined IMMEDIATE = Predefined.IMMEDIATE;
    /** {@code tq_context}: run by {@code keventd}, in process context. */
    public static final Predefined SCHEDULER = Predefined.SCHEDULER;

    final LegacyEngine engine;          // F
    private final KernelRuntime rt;     // F
    private final String name;          // F
    final Predefined kind;              // F: null for a queue of the user's
    private ArrayList<Runnable> list = new ArrayList<>();   // L
    private volatile int size;          // A, written under L: TQ_ACTIVE without the lock
    private volatile long runs;         // A, written under L: run_task_queue calls that ran something

    /**
     * {@code DECLARE_TASK_QUEUE(name)}: a queue of the user's, run wherever {@link #run()} is called.
     */
    public TaskQueue(Kernel kernel, String name) {
        this(LegacyEngine.of(Secrets.runtime(Objects.requireNonNull(kernel, "kernel"))),
                Objects.requireNonNull(name, "name"), null);
        rt.checkOpen();
        engine.register(this);
    }

    TaskQueue(LegacyEngine engine, String name, Predefined kind) {
        this.engine = engine;
        this.rt = engine.rt;
        this.name = name;
        this.kind = kind;
    }

    /** The queue's name ({@code tq_timer}, {@code tq_immediate}, {@code tq_context}, or the user's). */
    public String name() {
        return name;
    }

    /**
     * {@code queue_task(task, &q)}: appends {@code task} unless it is already queued (on any queue
     * of this kernel). Runs nothing. Callable from any context.
     *
     * @return true when this call queued the task (the kernel's 1), false when it was queued already
     * @throws IllegalStateException from a thread outside the kernel once {@code close()} began
     */
    public boolean queueTask(Runnable task) {
        Objects.requireNonNull(task, "task");
        CpuContext ctx = rt.context();
        boolean section = rt.enter(ctx);
        try {
            if (!queueLocked(task)) {
                return false;
            }
        } finally {
            if (section) {
                rt.exit(ctx);
            }
        }
        if (kind == Predefined.SCHEDULER) {
            engine.keventd.wake();
        }
        return true;
    }

    private boolean queueLocked(Runnable task) {
        synchronized (engine.tqLock) {
            if (!engine.queued.add(task)) {
                return false;   // test_and_set_bit(0, &tq->sync) found it set
            }
            list.add(task);
            size = list.size();
            return true;
        }
    }

    /**
     * {@code run_task_queue(&q)}: detaches the whole list, then calls each task in queueing order,
     * clearing its sync bit just before the call; tasks queued meanwhile (including by the
     * routines themselves) wait for the next run. Runs in the caller's context. A task that throws
     * is reported to the kernel's error handler and the run goes on.
     *
     * @throws IllegalStateException on {@link #SCHEDULER} from any thread but {@code keventd}
     */
    public void run() {
        rt.checkOpen();
        if (kind == Predefined.SCHEDULER && !engine.keventd.currentIsKeventd()) {
            throw new IllegalStateException("run_task_queue(" + name + "): only keventd runs this queue;"
                    + " use Keventd.flushScheduledTasks() to wait for its tasks");
        }
        runBatch(detach());
    }

    /** Detaches the list; the caller holds no lock. */
    ArrayList<Runnable> detach() {
        synchronized (engine.tqLock) {
            return detachLocked();
        }
    }

    /** Detaches the list under {@code tqLock}; null when empty. */
    ArrayList<Runnable> detachLocked() {
        if (list.isEmpty()) {
            return null;
        }
        ArrayList<Runnable> batch = list;
        list = new ArrayList<>();
        size = 0;
        engine.inFlight += batch.size();
        runs = runs + 1;
        return batch;
    }

    /** Runs a detached batch: clear each sync bit (under the lock: a release), then call. */
    void runBatch(ArrayList<Runnable> batch) {
        if (batch == null) {
            return;
        }
        for (Runnable t : batch) {
            synchronized (engine.tqLock) {
                engine.queued.remove(t);
                engine.inFlight--;
            }
            try {
                t.run();
            } catch (Throwable e) {
                rt.reportError(this + " task " + t, e);
            }
        }
        engine.ran(batch.size());
    }

    /** {@code TQ_ACTIVE(q)} negated: true when no task waits on this queue. */
    public boolean isEmpty() {
        return size == 0;
    }

    /** The number of tasks waiting on this queue. */
    public int size() {
        return size;
    }

    /** How many {@code run_task_queue} calls found tasks to run. */
    public long runs() {
        return runs;
    }

    /** Tasks still queued at close, for the report; under {@code tqLock}. */
    int dropLocked() {
        int n = list.size();
        for (Runnable t : list) {
            engine.queued.remove(t);
        }
        list = new ArrayList<>();
        size = 0;
        return n;
    }

    /** The list's length under {@code tqLock}, for the invariant check. */
    int sizeLocked() {
        return list.size();
    }

    @Override
    public String toString() {
        return "TaskQueue[" + name + "]";
    }
}

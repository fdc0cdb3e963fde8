package io.kdefer.workqueue;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A workqueue seen as a JDK {@link java.util.concurrent.ExecutorService}
 * ({@link Workqueue#asExecutorService()}): every task becomes one work item of the queue (queued
 * as {@link Workqueue#queue(Work)} does, on the caller's CPU for a per-CPU queue), run by the
 * queue's workers (or in softirq context for a BH queue), and the view keeps the
 * {@code ExecutorService} contracts as {@link java.util.concurrent.ThreadPoolExecutor} does.
 *
 * <pre>{@code
 * ExecutorService es = kernel.allocWorkqueue("io", 0, WqFlag.UNBOUND).asExecutorService();
 * Future<Integer> f = es.submit(() -> read(dev));   // one work item
 * es.shutdown();                                    // refuses new tasks, runs the accepted ones
 * es.awaitTermination(1, TimeUnit.SECONDS);
 * }</pre>
 *
 * <h2>Guarantees</h2>
 * <ul>
 *   <li>{@code submit}: the future completes with the result or with what the task threw; a throw
 *       goes into the future only, not to the kernel's error handler (as a
 *       {@link java.util.concurrent.FutureTask} captures it).</li>
 *   <li>{@code execute}: what the command throws goes to the kernel's error handler (with the task
 *       as source) before the task counts as finished; the worker goes on.</li>
 *   <li>{@code shutdown}: later tasks are refused with {@link RejectedExecutionException}; the
 *       accepted ones still run ("shutdown drains").</li>
 *   <li>{@code shutdownNow}: takes every accepted task that has not started off the queue
 *       ({@link Work#cancel()}) and returns it, in submission order: the command itself for
 *       {@code execute}, the future for {@code submit}, as {@code ThreadPoolExecutor} does; the
 *       returned futures are not cancelled. Tasks that are running are interrupted.</li>
 *   <li>{@code isTerminated}: after a shutdown, once every accepted task has finished or been
 *       removed. {@code awaitTermination} waits for that with the JDK's own timed wait (real time,
 *       not jiffies) and returns false when the timeout passes first.</li>
 *   <li>{@code invokeAll}/{@code invokeAny} are {@link AbstractExecutorService}'s, on this view's
 *       futures; {@code invokeAny} cancels (with interrupt) every task not needed.</li>
 *   <li>{@code Future.cancel} takes a task that has not started off the queue at once, so it never
 *       runs and no longer delays termination.</li>
 *   <li>A worker that ran a task is given back with the interrupt status it had before the task
 *       (as {@code ThreadPoolExecutor} clears it between tasks): neither a {@code shutdownNow} or
 *       {@code cancel(true)} interrupt nor one the task left set reaches the queue's next item.</li>
 * </ul>
 * Shutting the view down does not destroy the queue, and destroying the queue does not shut the
 * view down: the queue then refuses the view's tasks, which the view reports as
 * {@link RejectedExecutionException}. Several views of one queue are independent.
 *
 * <h2>Caveats</h2>
 * A task that blocks in plain JDK code holds its CPU's worker pool until the pool's sampler notices
 * (at the next tick): use an unbound queue for blocking tasks. {@code awaitTermination} or
 * {@code Future.get} from one of the view's own tasks on a queue that runs one item at a time waits
 * for itself until the timeout, as on a single-thread pool. In faithful mode a queue that is being
 * drained keeps a refused item pending instead of throwing; a task refused that way stays accepted
 * and the view does not terminate.
 *
 * <h2>State machine (field {@link #runState}; forward only, ordered so that one comparison tests
 * "at least")</h2>
 * <pre>
 *   RUNNING     accepts tasks
 *   SHUTDOWN    refuses tasks; accepted ones run
 *   STOP        refuses tasks; the unstarted ones were removed, the running ones interrupted
 *   TERMINATED  SHUTDOWN or STOP, and no accepted task is left
 *
 *   from                event                                      to
 *   RUNNING             shutdown()                                 SHUTDOWN (then TERMINATED if none left)
 *   RUNNING, SHUTDOWN   shutdownNow()                              STOP (then TERMINATED if none left)
 *   SHUTDOWN, STOP      the last accepted task finishes or is      TERMINATED; awaitTermination() waiters
 *                       removed (cancel, shutdownNow)              are signalled
 *   SHUTDOWN..          shutdown() / shutdownNow() again           unchanged (shutdownNow still removes and
 *                                                                  interrupts)
 * </pre>
 *
 * <h2>Shutdown against a racing submit</h2>
 * A submit checks the state, links the task on the view's list of live tasks and queues its work
 * item all under {@link #lock}; {@code shutdown} and {@code shutdownNow} change the state under the
 * same lock. So every submit is ordered entirely before or entirely after a shutdown:
 * <pre>
 *   submitter                                    shutdown / shutdownNow
 *   lock                                         lock
 *   if runState != RUNNING: reject               runState = SHUTDOWN (or STOP)
 *   link task; wq.queue(task)                    STOP: for each live task: Work.cancel() or interrupt
 *   unlock                                       unlock
 * </pre>
 * A task whose submit returned normally therefore either runs, or is handed back by a
 * {@code shutdownNow} that came after it (or was cancelled by its caller); a submit after the
 * shutdown throws {@link RejectedExecutionException}. There is no third outcome: no accepted task is
 * lost and none runs after a {@code shutdownNow} that returned it. A task taken by a worker just
 * before {@code shutdownNow} (its item no longer pending, its run not begun) is not returned: it
 * runs, with its thread interrupted, as {@code ThreadPoolExecutor} runs a task a worker already took.
 *
 * <h2>Run protocol (on the worker)</h2>
 * <pre>
 *   beforeRun (lock)   task.worker = this thread; if STOP: interrupt this thread (the scheduled
 *                      view cancels the task instead, and re-arms one whose timer fired early)
 *   body               the future's run (FutureTask protocol); execute(): a throw is reported
 *   afterRun (lock)    task.worker = null; restore the thread's interrupt status; unlink the task,
 *                      or (scheduled view) re-arm a periodic one; terminate if it was the last
 * </pre>
 * {@code shutdownNow} interrupts only threads whose {@code worker} field it reads under the lock,
 * and {@code cancel(true)} interrupts only a runner that is still inside the body (the runner waits
 * for that interrupt before it leaves the body), so no interrupt of the view reaches a thread after
 * afterRun cleared it.
 *
 * <h2>Memory ordering</h2>
 * A submit that returns happens-before the task's run (the queue's own edge: the item is linked
 * under the pool lock). Everything the task did happens-before a {@code get()} that returns its
 * outcome (the future's volatile state), and before an {@code awaitTermination} that returns true
 * (the view's lock).
 *
 * <p>Field access codes: {@code F} final; {@code L} guarded by {@link #lock}; {@code A} volatile,
 * written under {@link #lock}.
 */
class WorkqueueExecutorService extends AbstractExecutorService {
    /** Accepts tasks. */
    static final int RUNNING = 0;
    /** Refuses tasks; the accepted ones run. */
    static final int SHUTDOWN = 1;
    /** Refuses tasks; the unstarted ones were removed, the running ones interrupted. */
    static final int STOP = 2;
    /** Shut down, and no accepted task is left. */
    static final int TERMINATED = 3;

    /** beforeRun's verdict: run the body. */
    static final int RUN = 0;
    /** beforeRun's verdict: do not run it; the task is finished. */
    static final int DROP = 1;
    /** beforeRun's verdict: not yet (its timer fired early); it was armed again. */
    static final int REARMED = 2;

    final Workqueue wq;                                        // F
    /** F: the view's lock ({@code mainLock} of ThreadPoolExecutor). */
    final ReentrantLock lock = new ReentrantLock();
    private final Condition termination = lock.newCondition();   // F
    private volatile int runState;                             // A
    private WorkqueueExecutorTask<?> head;                     // L: oldest live task
    private WorkqueueExecutorTask<?> tail;                     // L: newest live task
    private int live;                                          // L: accepted tasks not finished or removed

    WorkqueueExecutorService(Workqueue wq) {
        this.wq = Objects.requireNonNull(wq, "wq");
    }

    // ---------------------------------------------------------------- ExecutorService

    /**
     * Queues {@code command} as one work item of the queue. What it throws is reported to the
     * kernel's error handler.
     *
     * @throws RejectedExecutionException after a shutdown, or when the queue refuses the item
     *                                    (destroyed, or the kernel is closing)
     */
    @Override
    public void execute(Runnable command) {
        Objects.requireNonNull(command, "command");
        lock.lock();
        try {
            WorkqueueExecutorTask<?> t = null;
            if (command instanceof WorkqueueExecutorTask) {
                WorkqueueExecutorTask<?> own = (WorkqueueExecutorTask<?>) command;
                if (own.owner == this && !own.accepted) {
                    t = own;   // made by newTaskFor for submit/invokeAll: queue it as it is
                }
            }
            if (t == null) {
                t = taskForExecute(command);
            }
            accept(t, 0);
        } finally {
            lock.unlock();
        }
    }

    @Override
    protected <T> RunnableFuture<T> newTaskFor(Runnable runnable, T value) {
        return new WorkqueueExecutorTask<>(this, runnable, value, false);
    }

    @Override
    protected <T> RunnableFuture<T> newTaskFor(Callable<T> callable) {
        return new WorkqueueExecutorTask<>(this, callable, false);
    }

    /** The task that runs a command given to {@code execute()}. */
    WorkqueueExecutorTask<?> taskForExecute(Runnable command) {
        return new WorkqueueExecutorTask<Void>(this, command, null, true);
    }

    @Override
    public void shutdown() {
        lock.lock();
        try {
            if (runState == RUNNING) {
                runState = SHUTDOWN;
                WorkqueueExecutorTask<?> next;
                for (WorkqueueExecutorTask<?> t = head; t != null; t = next) {
                    next = t.nextLive;
                    onShutdown(t);
                }
            }
            tryTerminate();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public List<Runnable> shutdownNow() {
        List<Runnable> unstarted = new ArrayList<>();
        lock.lock();
        try {
            if (runState < STOP) {
                runState = STOP;
            }
            WorkqueueExecutorTask<?> next;
            for (WorkqueueExecutorTask<?> t = head; t != null; t = next) {
                next = t.nextLive;
                Thread w = t.worker;
                if (w != null) {
                    w.interrupt();
                } else if (t.dequeue()) {
                    retire(t);
                    unstarted.add(t.unstarted());
                }
                // else: a worker took it and has not begun; beforeRun sees STOP
            }
            tryTerminate();
        } finally {
            lock.unlock();
        }
        return unstarted;
    }

    @Override
    public boolean isShutdown() {
        return runState >= SHUTDOWN;
    }

    @Override
    public boolean isTerminated() {
        return runState == TERMINATED;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = unit.toNanos(timeout);
        lock.lock();
        try {
            while (runState != TERMINATED) {
                if (nanos <= 0L) {
                    return false;
                }
                nanos = termination.awaitNanos(nanos);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        int s = runState;
        String st = s == RUNNING ? "Running" : s == TERMINATED ? "Terminated" : "Shutting down";
        int n;
        lock.lock();
        try {
            n = live;
        } finally {
            lock.unlock();
        }
        return getClass().getSimpleName() + "[" + st + ", " + wq + ", live tasks = " + n + "]";
    }

    // ---------------------------------------------------------------- acceptance (L)

    /**
     * L: admits {@code t} and queues its work item after {@code delay} jiffies, or refuses it.
     * Called with the lock held, so that a shutdown is ordered before or after the whole step.
     */
    final void accept(WorkqueueExecutorTask<?> t, long delay) {
        if (runState != RUNNING) {
            throw new RejectedExecutionException("Task " + t + " rejected from " + this + ": shut down");
        }
        t.accepted = true;
        link(t);
        boolean queued;
        try {
            t.onAccept(delay);
            queued = delay == 0 ? wq.queue(t) : wq.queueDelayed(t, delay);
        } catch (IllegalStateException e) {
            unlink(t);
            throw new RejectedExecutionException("Task " + t + " rejected from " + this + ": " + e.getMessage(), e);
        }
        if (!queued) {
            unlink(t);
            throw new RejectedExecutionException("Task " + t + " rejected from " + this + ": its work item is pending");
        }
    }

    /** L: appends to the live list. */
    private void link(WorkqueueExecutorTask<?> t) {
        t.linked = true;
        t.prevLive = tail;
        t.nextLive = null;
        if (tail == null) {
            head = t;
        } else {
            tail.nextLive = t;
        }
        tail = t;
        live++;
    }

    /** L: removes from the live list. */
    private void unlink(WorkqueueExecutorTask<?> t) {
        if (!t.linked) {
            return;
        }
        WorkqueueExecutorTask<?> p = t.prevLive;
        WorkqueueExecutorTask<?> n = t.nextLive;
        if (p == null) {
            head = n;
        } else {
            p.nextLive = n;
        }
        if (n == null) {
            tail = p;
        } else {
            n.prevLive = p;
        }
        t.prevLive = null;
        t.nextLive = null;
        t.linked = false;
        live--;
    }

    /** L: the task is finished or removed: forget it, and terminate if it was the last. */
    final void retire(WorkqueueExecutorTask<?> t) {
        unlink(t);
        tryTerminate();
    }

    /** L: SHUTDOWN or STOP with nothing left moves to TERMINATED. */
    private void tryTerminate() {
        int s = runState;
        if (s != RUNNING && s != TERMINATED && live == 0) {
            runState = TERMINATED;
            termination.signalAll();
        }
    }

    /** L: the state at acceptance and at each run (for the scheduled view's policies). */
    final int runStateLocked() {
        return runState;
    }

    /**
     * L: run by the first {@code shutdown()} for each live task, after the state moved to SHUTDOWN;
     * may remove that task (and no other).
     */
    void onShutdown(WorkqueueExecutorTask<?> t) {
    }

    /** L: what to do with {@code t}, which a worker is about to run. */
    int admit(WorkqueueExecutorTask<?> t) {
        return RUN;
    }

    /** L: a periodic task ran; true if it was armed again (it stays live). */
    boolean rearm(WorkqueueExecutorTask<?> t) {
        return false;
    }

    /** The task's future was cancelled: take it off the queue unless a worker has it. */
    final void cancelled(WorkqueueExecutorTask<?> t) {
        lock.lock();
        try {
            if (t.linked && t.worker == null && t.dequeue()) {
                retire(t);
            }
            // a worker has it, or is about to: afterRun (or beforeRun's DROP) retires it
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- run protocol (worker)

    /** The work function of every task (see "Run protocol" in the class comment). */
    final void runQueued(WorkqueueExecutorTask<?> t) {
        final Thread me = Thread.currentThread();
        final boolean wasInterrupted = me.isInterrupted();
        final int verdict;
        lock.lock();
        try {
            verdict = admit(t);
            if (verdict == RUN) {
                t.worker = me;
                if (runState >= STOP) {
                    me.interrupt();   // taken just before shutdownNow: it runs, interrupted
                }
            } else if (verdict == DROP) {
                retire(t);
            }
        } finally {
            lock.unlock();
        }
        if (verdict != RUN) {
            return;
        }
        boolean again = false;
        try {
            again = t.runOnce();
            Throwable thrown = t.execute ? t.failure() : null;
            if (thrown != null) {
                wq.rt.reportError(t, thrown);   // before the task counts as finished
            }
        } finally {
            afterRun(t, again, wasInterrupted);
        }
    }

    private void afterRun(WorkqueueExecutorTask<?> t, boolean again, boolean wasInterrupted) {
        lock.lock();
        try {
            t.worker = null;
            if (!wasInterrupted) {
                Thread.interrupted();   // no interrupt of the view can arrive any more (see above)
            }
            if (again && rearm(t)) {
                return;
            }
            retire(t);
        } finally {
            lock.unlock();
        }
    }

    /** The number of accepted tasks not finished or removed (for tests and diagnostics). */
    final int liveTasks() {
        lock.lock();
        try {
            return live;
        } finally {
            lock.unlock();
        }
    }
}

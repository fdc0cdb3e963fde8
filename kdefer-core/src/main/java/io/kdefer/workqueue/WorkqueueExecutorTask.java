package io.kdefer.workqueue;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * One task of a workqueue's JDK view ({@link WorkqueueExecutorService}): the task's future and the
 * work item that runs it, in one object. The work item is a {@link DelayedWork} so that the
 * scheduled view ({@link WorkqueueScheduledTask}) can put it on the timer wheel; a task of the
 * plain view never arms its timer.
 *
 * <p>The future follows {@link java.util.concurrent.FutureTask}'s contract: {@link #run()} runs
 * the body at most once (a periodic body once per call, the future staying open), the first of
 * {@code set}, {@code setException} and {@code cancel} decides the outcome, and {@link #get()}
 * waits for it.
 *
 * <h2>Future state (field {@link #state})</h2>
 * <pre>
 *   state          meaning
 *   NEW            not decided: queued, on its timer, running, or (periodic) between two runs
 *   COMPLETING     the body returned or threw; the outcome is being written
 *   NORMAL         decided: the outcome is the result
 *   EXCEPTIONAL    decided: the outcome is what the body threw
 *   CANCELLED      decided by cancel(false)
 *   INTERRUPTING   decided by cancel(true); the runner is being interrupted
 *   INTERRUPTED    decided by cancel(true); the interrupt, if any, was delivered
 *
 *   from          event                                   to
 *   NEW           the body returns (one-shot)             COMPLETING, then NORMAL (release)
 *   NEW           the body throws                         COMPLETING, then EXCEPTIONAL (release)
 *   NEW           the body returns (periodic)             NEW (it may run again)
 *   NEW           cancel(false) wins the CAS              CANCELLED
 *   NEW           cancel(true) wins the CAS               INTERRUPTING, then INTERRUPTED (release)
 *   any other     anything                                unchanged (done is final)
 * </pre>
 * Only moves forward. A runner that finds INTERRUPTING when its body ends waits for
 * INTERRUPTED before it returns, so that a {@code cancel(true)} interrupt never lands on the
 * worker after the task has left it; the view then gives the worker back with the interrupt
 * status it had before the task (see {@link WorkqueueExecutorService}).
 *
 * <h2>Memory ordering</h2>
 * {@link #outcome} is written plainly between the CAS to COMPLETING and the release store of the
 * final state, and read only after a volatile read of a final state: every write of the body
 * happens-before a {@code get()} that returns its result (or throws its exception). A
 * {@code cancel} happens-before a {@code get()} that throws {@link CancellationException}.
 *
 * <p>Field access codes: {@code F} final; {@code A} VarHandle/volatile; {@code P} published by the
 * release store of {@link #state}; {@code L} guarded by the owning view's lock.
 */
class WorkqueueExecutorTask<V> extends DelayedWork implements RunnableFuture<V> {
    static final int NEW = 0;
    static final int COMPLETING = 1;
    static final int NORMAL = 2;
    static final int EXCEPTIONAL = 3;
    static final int CANCELLED = 4;
    static final int INTERRUPTING = 5;
    static final int INTERRUPTED = 6;

    private static final VarHandle STATE;
    private static final VarHandle RUNNER;
    private static final VarHandle WAITERS;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            STATE = l.findVarHandle(WorkqueueExecutorTask.class, "state", int.class);
            RUNNER = l.findVarHandle(WorkqueueExecutorTask.class, "runner", Thread.class);
            WAITERS = l.findVarHandle(WorkqueueExecutorTask.class, "waiters", Waiter.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The function of every task's work item: the view's run protocol. Captures nothing. */
    private static final Consumer<Work> RUN_QUEUED = w -> {
        WorkqueueExecutorTask<?> t = (WorkqueueExecutorTask<?>) w;
        t.owner.runQueued(t);
    };

    /** F: the view that accepts (or accepted) this task. */
    final WorkqueueExecutorService owner;
    /** F: the body is a {@link Callable}; otherwise a {@link Runnable} whose result is {@link #value}. */
    private final boolean callable;
    /** F: the task came from {@code execute()}: what its body throws is also reported. */
    final boolean execute;
    /** F: what a {@link Runnable} body returns. */
    private final V value;
    /** The body; cleared (plain store) once the future is decided, to let it go. */
    private Object body;
    /** A: the future state; see the class comment. */
    private volatile int state;
    /** P: the result or the throwable, once decided. */
    private Object outcome;
    /** A: the thread inside {@link #runOnce()}; also its "running" lock (CAS from null). */
    private volatile Thread runner;
    /** A: threads waiting in {@code get()}, a Treiber stack; detached on completion. */
    private volatile Waiter waiters;

    /** L: on the view's list of live tasks (accepted, not yet finished or removed). */
    boolean linked;
    /** L: the view accepted this task once (a task is never accepted twice). */
    boolean accepted;
    /** L: neighbours on the view's list of live tasks. */
    WorkqueueExecutorTask<?> prevLive;
    WorkqueueExecutorTask<?> nextLive;
    /** L: the thread running this task's body for the view (between beforeRun and afterRun). */
    Thread worker;

    /** A task whose body is a {@link Callable}. */
    WorkqueueExecutorTask(WorkqueueExecutorService owner, Callable<V> body, boolean execute) {
        super(RUN_QUEUED);
        this.owner = owner;
        this.body = Objects.requireNonNull(body, "task");
        this.callable = true;
        this.value = null;
        this.execute = execute;
    }

    /** A task whose body is a {@link Runnable} that produces {@code value}. */
    WorkqueueExecutorTask(WorkqueueExecutorService owner, Runnable body, V value, boolean execute) {
        super(RUN_QUEUED);
        this.owner = owner;
        this.body = Objects.requireNonNull(body, "task");
        this.callable = false;
        this.value = value;
        this.execute = execute;
    }

    // ---------------------------------------------------------------- Future

    @Override
    public boolean isCancelled() {
        return state >= CANCELLED;
    }

    @Override
    public boolean isDone() {
        return state != NEW;
    }

    /**
     * Decides the future as cancelled if it is still open; then takes the work item off its queue
     * or timer, so that a task cancelled before it started never runs and leaves no armed timer.
     * With {@code mayInterruptIfRunning}, a running body is interrupted.
     */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        if (!STATE.compareAndSet(this, NEW, mayInterruptIfRunning ? INTERRUPTING : CANCELLED)) {
            return false;
        }
        try {
            if (mayInterruptIfRunning) {
                try {
                    Thread t = runner;
                    if (t != null) {
                        t.interrupt();
                    }
                } finally {
                    STATE.setRelease(this, INTERRUPTED);
                }
            }
        } finally {
            finishCompletion();
        }
        owner.cancelled(this);
        return true;
    }

    @Override
    public V get() throws InterruptedException, ExecutionException {
        int s = state;
        if (s <= COMPLETING) {
            s = awaitDone(false, 0L);
        }
        return report(s);
    }

    @Override
    public V get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
        Objects.requireNonNull(unit, "unit");
        int s = state;
        if (s <= COMPLETING && (s = awaitDone(true, unit.toNanos(timeout))) <= COMPLETING) {
            throw new TimeoutException();
        }
        return report(s);
    }

    /**
     * Runs the body on the calling thread unless the future is decided or another thread runs it;
     * a periodic body runs once and the future stays open. This is what a caller of a task that
     * {@code shutdownNow()} handed back gets.
     */
    @Override
    public void run() {
        runOnce();
    }

    /** True for the scheduled view's periodic tasks. */
    public boolean isPeriodic() {
        return false;
    }

    // ---------------------------------------------------------------- for the view

    /**
     * Runs the body once, as {@link #run()}; true when the task is periodic, the body returned,
     * and the future is still open (it may run again).
     */
    final boolean runOnce() {
        if (state != NEW || !RUNNER.compareAndSet(this, null, Thread.currentThread())) {
            return false;
        }
        boolean again = false;
        try {
            Object b = body;
            if (b != null && state == NEW) {
                V v;
                boolean ok = false;
                try {
                    v = call(b);
                    ok = true;
                } catch (Throwable ex) {
                    v = null;
                    setException(ex);
                }
                if (ok) {
                    if (isPeriodic()) {
                        again = true;
                    } else {
                        set(v);
                    }
                }
            }
        } finally {
            // cleared before the state is read: a cancel(true) that still sees this thread as the
            // runner has already won its CAS, and its interrupt is awaited below
            runner = null;
            int s = state;
            if (s >= INTERRUPTING) {
                while (state == INTERRUPTING) {
                    Thread.yield();   // the canceller is between its CAS and its interrupt
                }
            }
        }
        return again && state == NEW;
    }

    @SuppressWarnings("unchecked")
    private V call(Object b) throws Exception {
        if (callable) {
            return ((Callable<V>) b).call();
        }
        ((Runnable) b).run();
        return value;
    }

    /** What the body threw, if it did (the future is EXCEPTIONAL); else null. */
    final Throwable failure() {
        return state == EXCEPTIONAL ? (Throwable) outcome : null;
    }

    /** What {@code shutdownNow()} hands back for this task: the task, or the plain view's command. */
    Runnable unstarted() {
        if (execute && !callable) {
            Object b = body;
            if (b instanceof Runnable) {
                return (Runnable) b;
            }
        }
        return this;
    }

    /** The view accepted this task with {@code delay} jiffies; the scheduled task records its deadline. */
    void onAccept(long delay) {
    }

    /** Takes the work item off its worklist or its timer ({@code cancel_delayed_work}). */
    final boolean dequeue() {
        return cancel();
    }

    // ---------------------------------------------------------------- completion

    private void set(V v) {
        if (STATE.compareAndSet(this, NEW, COMPLETING)) {
            outcome = v;
            STATE.setRelease(this, NORMAL);
            finishCompletion();
        }
    }

    private void setException(Throwable t) {
        if (STATE.compareAndSet(this, NEW, COMPLETING)) {
            outcome = t;
            STATE.setRelease(this, EXCEPTIONAL);
            finishCompletion();
        }
    }

    /** Detaches every waiter and wakes it; lets the body go. */
    private void finishCompletion() {
        Waiter w = (Waiter) WAITERS.getAndSet(this, (Waiter) null);
        for (; w != null; w = w.next) {
            Thread t = w.thread;
            if (t != null) {
                w.thread = null;
                LockSupport.unpark(t);
            }
        }
        if (!execute) {
            body = null;   // an execute() task keeps its command for toString and reports
        }
    }

    @SuppressWarnings("unchecked")
    private V report(int s) throws ExecutionException {
        Object x = outcome;
        if (s == NORMAL) {
            return (V) x;
        }
        if (s >= CANCELLED) {
            throw new CancellationException("task was cancelled: " + this);
        }
        throw new ExecutionException((Throwable) x);
    }

    /** A thread waiting in {@code get()}: pushed once, woken at completion, or given up. */
    private static final class Waiter {
        volatile Thread thread = Thread.currentThread();
        volatile Waiter next;
    }

    /**
     * Waits until the future is decided, the timeout passes or the caller is interrupted; returns
     * the state seen last (at most COMPLETING on a timeout).
     */
    private int awaitDone(boolean timed, long nanos) throws InterruptedException {
        final long start = timed ? System.nanoTime() : 0L;
        Waiter me = null;
        boolean pushed = false;
        for (;;) {
            int s = state;
            if (s > COMPLETING) {
                if (me != null) {
                    me.thread = null;
                }
                return s;
            }
            if (s == COMPLETING) {
                Thread.yield();   // the outcome is a store away
                continue;
            }
            if (Thread.interrupted()) {
                giveUp(me);
                throw new InterruptedException();
            }
            if (me == null) {
                if (timed && nanos <= 0L) {
                    return s;
                }
                me = new Waiter();
            } else if (!pushed) {
                Waiter head = waiters;
                me.next = head;
                pushed = WAITERS.compareAndSet(this, head, me);
            } else if (timed) {
                long left = nanos - (System.nanoTime() - start);
                if (left <= 0L) {
                    giveUp(me);
                    return state;
                }
                LockSupport.parkNanos(this, left);
            } else {
                LockSupport.park(this);
            }
        }
    }

    /**
     * A waiter leaves before completion: its node is marked and every marked node is unlinked.
     * Restarts from the head whenever a concurrent change makes the walk unsafe (a CAS on the
     * head fails, or the node it linked around was itself marked meanwhile).
     */
    private void giveUp(Waiter me) {
        if (me == null) {
            return;
        }
        me.thread = null;
        restart:
        for (;;) {
            Waiter pred = null;
            for (Waiter q = waiters; q != null; ) {
                Waiter succ = q.next;
                if (q.thread != null) {
                    pred = q;
                } else if (pred != null) {
                    pred.next = succ;
                    if (pred.thread == null) {
                        continue restart;
                    }
                } else if (!WAITERS.compareAndSet(this, q, succ)) {
                    continue restart;
                }
                q = succ;
            }
            return;
        }
    }

    @Override
    public String toString() {
        int s = state;
        String st;
        switch (s) {
            case NEW:
            case COMPLETING:
                st = "Not completed";
                break;
            case NORMAL:
                st = "Completed normally";
                break;
            case EXCEPTIONAL:
                st = "Completed exceptionally: " + outcome;
                break;
            default:
                st = "Cancelled";
                break;
        }
        Object b = body;
        return getClass().getSimpleName() + "@" + Integer.toHexString(System.identityHashCode(this))
                + "[" + st + (b != null ? ", task = " + b : "") + "]";
    }
}

package io.kdefer.wait;

import io.kdefer.Jiffies;
import io.kdefer.Kernel;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Secrets;
import io.kdefer.internal.TaskSleep;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * A completion ({@code struct completion}, {@code kernel/sched/completion.c}): a counter of
 * "done" events that tasks wait for. {@link #complete()} releases one waiter, or the next wait if
 * nobody waits yet; {@link #completeAll()} releases every current and future waiter until
 * {@link #reinit()}.
 *
 * <pre>{@code
 * Completion done = new Completion(kernel);                  // init_completion()
 * irqs.requestIrq(7, (irq, dev) -> {
 *     done.complete();                                      // any context, hardirq included
 *     return IrqReturn.HANDLED;
 * }, "dev", dev);
 * startTransfer();
 * if (done.waitForCompletionTimeout(kernel.msecsToJiffies(100)) == 0) {
 *     // timed out
 * }
 * }</pre>
 *
 * <h2>Guarantees</h2>
 * <ul>
 *   <li>Each {@code complete()} releases exactly one wait (now or later); waiters queued when it is
 *       called are released in the order they started waiting (FIFO, as the kernel's simple wait
 *       queue wakes them).</li>
 *   <li>Actions before {@code complete()} or {@code completeAll()} happen-before the return of a
 *       wait that it released (the count and the queue are guarded by one lock).</li>
 *   <li>Waits are refused in atomic context (hardirq, softirq, bottom halves disabled) with
 *       {@link IllegalStateException}, as the kernel's {@code might_sleep()} complains; the
 *       {@code complete} calls, {@link #tryWaitForCompletion()} and {@link #completionDone()} work
 *       in any context.</li>
 *   <li>Timeouts are kernel timers on the caller's CPU ({@code schedule_timeout()}), so they end no
 *       earlier than asked and follow the kernel's clock (a {@code ManualClock} in tests).</li>
 *   <li>A thread waiting here tells its worker pool that it sleeps ({@code wq_worker_sleeping})
 *       and when it runs again.</li>
 * </ul>
 *
 * <h2>Caveats</h2>
 * The count saturates like the kernel's {@code unsigned int done}: {@link #completeAll()} sets it
 * to {@code UINT_MAX}, where waits stop consuming it, and {@code complete()} stops counting there
 * too. {@link #reinit()} must not race with {@code complete()} calls meant for the next round (as
 * in the kernel). A {@link Kernel#close() closed} kernel still completes and releases waits
 * without a timeout, but cannot arm the timer of a timed wait.
 */
public final class Completion {
    /*
     * Implementation overview
     *
     * Model. The kernel's completion is `done` plus a simple wait queue (swait) under one raw
     * spinlock. Here `done` and a FIFO of waiter records live under one private monitor.
     *
     * State (all L: guarded by `lock`):
     *   done     0..UINT_MAX; UINT_MAX means complete_all (waits do not consume it)
     *   waiters  queued waits, oldest first; non-empty only while done == 0
     *   Waiter.granted  set by complete()/completeAll() when it hands the event to that waiter
     *
     * Transitions:
     *   complete()      waiters empty: done++ (unless UINT_MAX); else dequeue the head,
     *                   granted = true, unpark it (the event goes to it, done unchanged)
     *   completeAll()   done = UINT_MAX; every queued waiter granted and unparked
     *   wait, done > 0  done-- (unless UINT_MAX); returns at once
     *   wait, done == 0 enqueue at the tail; park until granted, timed out or interrupted;
     *                   a wait that ends without being granted removes itself
     *   reinit()        done = 0 (queued waiters keep waiting for the next complete())
     *
     * Invariant: waiters non-empty implies done == 0. A wait only enqueues when done == 0, and a
     * complete() that finds a queued waiter gives the event to it instead of counting it.
     *
     * Memory ordering: the lock. complete() grants under it; the waiter reads `granted` under it
     * after each park, so everything before complete() happens-before the wait's return. The
     * waiter enqueues under the lock before its first park, so a complete() that comes after
     * finds it and its unpark leaves a permit if it lands before the park.
     *
     * Deviations from Linux. complete() hands the event straight to the first queued waiter;
     * the kernel increments `done`, wakes the first waiter, and lets it decrement `done` when it
     * runs, so a task that calls wait_for_completion() in between may take the event first and
     * completion_done() is briefly true. Here queued waiters are served strictly FIFO (a spurious
     * wake-up of a later waiter cannot take the event either) and completionDone() stays false
     * while the event went to a waiter. A woken waiter whose timeout also expired returns success
     * (1), as the kernel's does when it finds `done` set. Interrupts stand for signals: an
     * interruptible wait throws InterruptedException where the kernel returns -ERESTARTSYS.
     *
     * References: kernel/sched/completion.c (complete, complete_all, do_wait_for_common,
     * try_wait_for_completion, completion_done), include/linux/completion.h.
     */

    /** {@code UINT_MAX}: the count after {@link #completeAll()}; waits do not consume it. */
    static final long UINT_MAX = 0xFFFF_FFFFL;

    private final Kernel kernel;           // F
    private final KernelRuntime rt;        // F
    private final Object lock = new Object();   // F: the kernel's wait.lock
    private long done;                     // L
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();   // L: FIFO

    /** One queued wait. */
    private static final class Waiter {
        final Thread thread;   // F
        boolean granted;       // L: the event was handed to this waiter

        Waiter(Thread thread) {
            this.thread = thread;
        }
    }

    /** {@code init_completion()}: a completion of {@code kernel}, not done, with no waiters. */
    public Completion(Kernel kernel) {
        this(kernel, 0);
    }

    /** A completion whose count starts at {@code done} (tests reach the saturation with it). */
    Completion(Kernel kernel, long done) {
        this.kernel = Objects.requireNonNull(kernel, "kernel");
        this.rt = Secrets.runtime(kernel);
        this.done = done;
    }

    // ---------------------------------------------------------------- completing

    /**
     * {@code complete()}: releases the longest-waiting waiter, or, if nobody waits, lets the next
     * wait return at once (the count goes up by one, saturating at {@code UINT_MAX}). Any context.
     */
    public void complete() {
        Waiter w;
        synchronized (lock) {
            w = waiters.pollFirst();
            if (w != null) {
                w.granted = true;
            } else if (done != UINT_MAX) {
                done++;
            }
        }
        if (w != null) {
            LockSupport.unpark(w.thread);
        }
    }

    /**
     * {@code complete_all()}: releases every waiter, and every later wait until {@link #reinit()}.
     * Any context.
     */
    public void completeAll() {
        ArrayList<Waiter> woken;
        synchronized (lock) {
            done = UINT_MAX;
            if (waiters.isEmpty()) {
                return;
            }
            woken = new ArrayList<>(waiters);
            waiters.clear();
            for (Waiter w : woken) {
                w.granted = true;
            }
        }
        for (Waiter w : woken) {
            LockSupport.unpark(w.thread);
        }
    }

    /**
     * {@code reinit_completion()}: not done again, so that the completion can be reused. Waiters
     * still queued wait for the next {@link #complete()}.
     */
    public void reinit() {
        synchronized (lock) {
            done = 0;
        }
    }

    // ---------------------------------------------------------------- waiting

    /**
     * {@code wait_for_completion()}: waits, uninterruptibly and without a timeout, until this
     * completion is completed. An interrupt does not end the wait; it is remembered and re-asserted
     * on return. Task context only.
     *
     * @throws IllegalStateException in atomic context
     */
    public void waitForCompletion() {
        try {
            waitCommon("wait_for_completion()", Jiffies.MAX_SCHEDULE_TIMEOUT, false);
        } catch (InterruptedException e) {
            throw new AssertionError("uninterruptible wait was interrupted", e);
        }
    }

    /**
     * {@code wait_for_completion_timeout()}: as {@link #waitForCompletion()}, but gives up after
     * {@code timeout} jiffies (a kernel timer on the caller's CPU ends the wait).
     *
     * @return 0 if it timed out, else the jiffies left, at least 1
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws IllegalStateException in atomic context
     */
    public long waitForCompletionTimeout(long timeout) {
        checkTimeout("wait_for_completion_timeout", timeout);
        try {
            return waitCommon("wait_for_completion_timeout()", timeout, false);
        } catch (InterruptedException e) {
            throw new AssertionError("uninterruptible wait was interrupted", e);
        }
    }

    /**
     * {@code wait_for_completion_interruptible()}: as {@link #waitForCompletion()}, but an interrupt
     * (the kernel's signal) ends the wait. If the completion is done when the wait starts or when it
     * wakes, the wait succeeds and the thread's interrupt status is left as it was, as the kernel
     * returns 0 with the signal still pending.
     *
     * @throws InterruptedException (the kernel's {@code -ERESTARTSYS}) if the thread is interrupted
     *         before the completion is done; the interrupt status is cleared
     * @throws IllegalStateException in atomic context
     */
    public void waitForCompletionInterruptible() throws InterruptedException {
        waitCommon("wait_for_completion_interruptible()", Jiffies.MAX_SCHEDULE_TIMEOUT, true);
    }

    /**
     * {@code wait_for_completion_interruptible_timeout()}: both of the above.
     *
     * @return 0 if it timed out, else the jiffies left, at least 1
     * @throws InterruptedException if the thread is interrupted before the completion is done
     */
    public long waitForCompletionInterruptibleTimeout(long timeout) throws InterruptedException {
        checkTimeout("wait_for_completion_interruptible_timeout", timeout);
        return waitCommon("wait_for_completion_interruptible_timeout()", timeout, true);
    }

    /**
     * {@code try_wait_for_completion()}: consumes one completion event if there is one, without
     * waiting. Any context.
     *
     * @return true if it consumed an event (or the completion is completed for all)
     */
    public boolean tryWaitForCompletion() {
        synchronized (lock) {
            if (done == 0) {
                return false;
            }
            if (done != UINT_MAX) {
                done--;
            }
            return true;
        }
    }

    /**
     * {@code completion_done()}: true if a wait would return at once (the count is not zero), false
     * while waits would block. Any context.
     */
    public boolean completionDone() {
        synchronized (lock) {
            return done != 0;
        }
    }

    /** The count, {@code UINT_MAX} after {@link #completeAll()}. */
    long doneCount() {
        synchronized (lock) {
            return done;
        }
    }

    /** Waits queued now. */
    int queuedWaiters() {
        synchronized (lock) {
            return waiters.size();
        }
    }

    @Override
    public String toString() {
        synchronized (lock) {
            return "Completion@" + Integer.toHexString(System.identityHashCode(this))
                    + "[done=" + (done == UINT_MAX ? "UINT_MAX" : String.valueOf(done))
                    + " waiters=" + waiters.size() + "]";
        }
    }

    // ---------------------------------------------------------------- internals

    private static void checkTimeout(String what, long timeout) {
        if (timeout < 0) {
            throw new IllegalArgumentException(what + "(" + timeout + "): negative timeout");
        }
    }

    /** {@code wait_for_common()}: returns 0 on timeout, else the jiffies left (at least 1). */
    private long waitCommon(String what, long timeout, boolean interruptible) throws InterruptedException {
        TaskSleep.mightSleep(rt, what, this);
        final Waiter w;
        synchronized (lock) {
            if (done != 0) {   // the event is here: take it, even with an interrupt pending
                if (done != UINT_MAX) {
                    done--;
                }
                return timeout == 0 ? 1 : timeout;
            }
            if (interruptible && Thread.interrupted()) {
                throw new InterruptedException(what + " on " + this + ": interrupted");
            }
            if (timeout == 0) {
                return 0;
            }
            w = new Waiter(Thread.currentThread());
            waiters.addLast(w);
        }
        final TaskSleep sleep = new TaskSleep(this, interruptible);
        try {
            sleep.armTimeout(kernel, timeout);
            for (;;) {
                synchronized (lock) {
                    if (w.granted) {
                        long left = sleep.jiffiesLeft();
                        return left == 0 ? 1 : left;
                    }
                    if (sleep.timedOut()) {
                        waiters.remove(w);
                        return 0;
                    }
                    if (sleep.interruptPending()) {
                        waiters.remove(w);
                        Thread.interrupted();
                        throw new InterruptedException(what + " on " + this + ": interrupted");
                    }
                }
                sleep.park();
            }
        } finally {
            sleep.finish();
        }
    }
}

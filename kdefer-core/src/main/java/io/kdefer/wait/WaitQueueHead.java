package io.kdefer.wait;

import io.kdefer.Jiffies;
import io.kdefer.Kernel;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Secrets;
import io.kdefer.internal.TaskSleep;

import java.util.ArrayList;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * A wait-queue head ({@code wait_queue_head_t}, {@code include/linux/wait.h},
 * {@code kernel/sched/wait.c}): tasks sleep on it until a condition of their own comes true, and
 * whoever makes it true wakes them.
 *
 * <pre>{@code
 * WaitQueueHead wq = new WaitQueueHead(kernel);               // init_waitqueue_head()
 * // consumer, task context:
 * wq.waitEvent(() -> !ring.isEmpty());                       // wait_event(wq, !ring_empty())
 * // producer, any context:
 * ring.put(item);
 * wq.wakeUp();                                               // wake_up(&wq)
 * }</pre>
 *
 * <h2>Guarantees</h2>
 * <ul>
 *   <li>No lost wake-ups: a waiter registers before it evaluates its condition, and
 *       {@link #wakeUp()} always takes the queue's lock, so a waker that makes the condition true
 *       and then calls {@code wakeUp()} either wakes the waiter or was seen by its check.</li>
 *   <li>Actions before {@code wakeUp()} / {@code wakeUpAll()} happen-before the condition's next
 *       evaluation by every waiter it woke: the condition may read plain fields written before the
 *       wake-up (the waiter passes through the queue's lock between waking and re-checking).</li>
 *   <li>The condition is evaluated on the waiting thread, outside the queue's lock, once before
 *       anything else, again after registering, and after every wake-up. It may run any number of
 *       times and must not block.</li>
 *   <li>Waits are refused in atomic context (hardirq, softirq, bottom halves disabled) with
 *       {@link IllegalStateException}; {@code wakeUp()} works in any context.</li>
 *   <li>Timeouts are kernel timers on the caller's CPU ({@code schedule_timeout()}): never early,
 *       on the kernel's clock (a {@code ManualClock} in tests).</li>
 *   <li>A waiting thread tells its worker pool that it sleeps ({@code wq_worker_sleeping}) and
 *       when it runs again.</li>
 * </ul>
 *
 * <h2>Interrupts</h2>
 * The interrupt stands for the kernel's signal. The plain waits are uninterruptible
 * ({@code TASK_UNINTERRUPTIBLE}): an interrupt is remembered and re-asserted on return. The
 * {@code Interruptible} waits throw {@link InterruptedException} where the kernel returns
 * {@code -ERESTARTSYS}, and clear the interrupt status as Java's blocking methods do. As in the
 * kernel, a condition found true wins over a pending interrupt (the wait returns normally and the
 * interrupt status stays set), and so does a timeout that expired first.
 *
 * <h2>Caveats</h2>
 * All waits are non-exclusive, so {@link #wakeUp()} wakes every waiter, as the kernel's
 * {@code wake_up()} does when no exclusive waiter is queued; exclusive waits
 * ({@code wait_event_interruptible_exclusive}) are not provided. {@code wake_up_interruptible()}
 * is {@code wakeUp()} here: every waiter re-checks its condition, which is harmless.
 */
public final class WaitQueueHead {
    /*
     * Implementation overview
     *
     * Model. The kernel's head is a spinlock and a list of entries; ___wait_event() loops
     * { prepare_to_wait_event (add the entry, set the task state); if (condition) break;
     *   if (signal) return -ERESTARTSYS; schedule(); } and the default wake function
     * (autoremove_wake_function) wakes the task and takes its entry off the list, so the next
     * prepare_to_wait_event puts it back. This class does the same under a private monitor:
     * each loop turn (re-)registers the waiter under the lock, then evaluates the condition
     * without it; wakeUp() unparks and unlinks every registered entry.
     *
     * State: `entries` (L: guarded by `lock`), the registered waits; Entry.queued (L) whether an
     * entry is on the list.
     *
     * Memory ordering. wakeUp() always takes the lock (no waitqueue_active() shortcut), so the
     * waker's writes before wakeUp() happen-before the lock release, and a waiter's next turn
     * takes the same lock before it evaluates the condition. Either the waker's lock comes after
     * the waiter's registration (it unparks the waiter, whose next turn sees the writes), or
     * before it (the waiter's registration, and then its check, sees the writes).
     *
     * Deviations from Linux: no exclusive waits; interrupts for signals (InterruptedException for
     * -ERESTARTSYS); no killable / freezable / lock-dropping variants.
     *
     * References: include/linux/wait.h (___wait_event, ___wait_cond_timeout, wait_event*,
     * wake_up*), kernel/sched/wait.c (prepare_to_wait_event, __wake_up_common,
     * autoremove_wake_function).
     */

    private final Kernel kernel;           // F
    private final KernelRuntime rt;        // F
    private final Object lock = new Object();   // F: the head's spinlock
    private final ArrayList<Entry> entries = new ArrayList<>();   // L

    /** One registered wait. */
    private static final class Entry {
        final Thread thread;   // F
        boolean queued;        // L: on `entries`

        Entry(Thread thread) {
            this.thread = thread;
        }
    }

    /** {@code init_waitqueue_head()}: an empty wait queue of {@code kernel}. */
    public WaitQueueHead(Kernel kernel) {
        this.kernel = Objects.requireNonNull(kernel, "kernel");
        this.rt = Secrets.runtime(kernel);
    }

    // ---------------------------------------------------------------- waiting

    /**
     * {@code wait_event(wq, condition)}: sleeps, uninterruptibly, until {@code condition} is true.
     * Task context only.
     *
     * @throws IllegalStateException in atomic context
     */
    public void waitEvent(BooleanSupplier condition) {
        try {
            waitCommon("wait_event()", condition, Jiffies.MAX_SCHEDULE_TIMEOUT, false);
        } catch (InterruptedException e) {
            throw new AssertionError("uninterruptible wait was interrupted", e);
        }
    }

    /**
     * {@code wait_event_timeout(wq, condition, timeout)}: as {@link #waitEvent}, for at most
     * {@code timeout} jiffies.
     *
     * @return 0 if the timeout elapsed with the condition false; 1 if the condition was true when
     *         the timeout elapsed; otherwise the jiffies left (at least 1) when the condition came
     *         true. A condition already true on entry returns {@code timeout} (1 for 0).
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws IllegalStateException in atomic context
     */
    public long waitEventTimeout(BooleanSupplier condition, long timeout) {
        try {
            return waitCommon("wait_event_timeout()", condition, timeout, false);
        } catch (InterruptedException e) {
            throw new AssertionError("uninterruptible wait was interrupted", e);
        }
    }

    /**
     * {@code wait_event_interruptible(wq, condition)}: as {@link #waitEvent}, but an interrupt ends
     * the wait.
     *
     * @throws InterruptedException (the kernel's {@code -ERESTARTSYS}) if the thread is interrupted
     *         while the condition is false; the interrupt status is cleared
     * @throws IllegalStateException in atomic context
     */
    public void waitEventInterruptible(BooleanSupplier condition) throws InterruptedException {
        waitCommon("wait_event_interruptible()", condition, Jiffies.MAX_SCHEDULE_TIMEOUT, true);
    }

    /**
     * {@code wait_event_interruptible_timeout(wq, condition, timeout)}: both of the above. This is
     * what LDD3's {@code /proc/jitqueue} calls with a condition that is never true.
     *
     * @return as {@link #waitEventTimeout}
     * @throws InterruptedException if the thread is interrupted while the condition is false and
     *         the timeout has not expired; the interrupt status is cleared
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws IllegalStateException in atomic context
     */
    public long waitEventInterruptibleTimeout(BooleanSupplier condition, long timeout) throws InterruptedException {
        return waitCommon("wait_event_interruptible_timeout()", condition, timeout, true);
    }

    // ---------------------------------------------------------------- waking

    /**
     * {@code wake_up()}: wakes every waiter; each re-evaluates its condition and sleeps again if it
     * is still false. Any context.
     */
    public void wakeUp() {
        wakeUpAll();
    }

    /** {@code wake_up_all()}: wakes every waiter. Any context. */
    public void wakeUpAll() {
        Thread[] woken;
        synchronized (lock) {
            int n = entries.size();
            if (n == 0) {
                return;
            }
            woken = new Thread[n];
            for (int i = 0; i < n; i++) {
                Entry e = entries.get(i);
                e.queued = false;   // autoremove_wake_function: its next turn registers again
                woken[i] = e.thread;
            }
            entries.clear();
        }
        for (Thread t : woken) {
            LockSupport.unpark(t);
        }
    }

    /** {@code waitqueue_active()}: true while some thread is registered. A hint, racy by nature. */
    public boolean waitqueueActive() {
        synchronized (lock) {
            return !entries.isEmpty();
        }
    }

    @Override
    public String toString() {
        synchronized (lock) {
            return "WaitQueueHead@" + Integer.toHexString(System.identityHashCode(this))
                    + "[waiters=" + entries.size() + "]";
        }
    }

    // ---------------------------------------------------------------- internals

    /** {@code ___wait_event()} with {@code ___wait_cond_timeout()}. */
    private long waitCommon(String what, BooleanSupplier condition, long timeout, boolean interruptible)
            throws InterruptedException {
        Objects.requireNonNull(condition, "condition");
        TaskSleep.mightSleep(rt, what, this);
        if (timeout < 0) {
            throw new IllegalArgumentException(what + " on " + this + ": negative timeout " + timeout);
        }
        // the macros' fast path: the condition once, before any sleeping setup
        if (condition.getAsBoolean()) {
            return timeout == 0 ? 1 : timeout;
        }
        if (timeout == 0) {
            return 0;
        }
        final Entry e = new Entry(Thread.currentThread());
        final TaskSleep sleep = new TaskSleep(this, interruptible);
        try {
            sleep.armTimeout(kernel, timeout);
            for (;;) {
                synchronized (lock) {   // prepare_to_wait_event
                    if (!e.queued) {
                        e.queued = true;
                        entries.add(e);
                    }
                }
                if (condition.getAsBoolean()) {
                    long left = sleep.jiffiesLeft();
                    return left == 0 ? 1 : left;
                }
                if (sleep.timedOut()) {
                    return 0;
                }
                if (sleep.interruptPending()) {
                    Thread.interrupted();
                    throw new InterruptedException(what + " on " + this + ": interrupted");
                }
                sleep.park();
            }
        } finally {
            synchronized (lock) {   // finish_wait
                if (e.queued) {
                    e.queued = false;
                    entries.remove(e);
                }
            }
            sleep.finish();
        }
    }
}

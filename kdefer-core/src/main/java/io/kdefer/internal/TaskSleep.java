package io.kdefer.internal;

import io.kdefer.Jiffies;
import io.kdefer.Kernel;
import io.kdefer.timer.KernelTimer;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * One sleep of the calling thread in a kdefer blocking helper: the part of {@code schedule()} and
 * {@code schedule_timeout()} that every wait shares. Used by {@link WaitQueue#await}, by
 * {@code Kernel.scheduleTimeout}/{@code msleep}, and by the completions and wait-queue heads of
 * {@code io.kdefer.wait}.
 *
 * <p>A sleep is created by the thread that sleeps and used by it only. The caller's loop:
 * <pre>{@code
 *   TaskSleep s = new TaskSleep(blocker, interruptible);
 *   try {
 *       s.armTimeout(kernel, timeout);          // optional: schedule_timeout's on-stack timer
 *       while (!condition && !s.timedOut() && !s.interruptPending()) {
 *           s.park();                           // SleepHooks.sleeping() before the first park
 *       }
 *   } finally {
 *       s.finish();                             // SleepHooks.running(), timer deleted, interrupt re-asserted
 *   }
 * }</pre>
 * The caller registers itself where its waker will find it <em>before</em> it evaluates its
 * condition; a wake-up is then an {@link LockSupport#unpark} of the registered thread, which a
 * later {@link #park()} consumes, so no wake-up between the check and the park is lost.
 *
 * <h2>Interrupts</h2>
 * An interruptible sleep ({@code TASK_INTERRUPTIBLE}) stops parking once the thread is interrupted
 * (the kernel's pending signal): {@link #interruptPending()} turns true and the interrupt status
 * is left for the caller to report. An uninterruptible one ({@code TASK_UNINTERRUPTIBLE}) clears
 * the interrupt status after each park, so that the next park really sleeps, remembers it, and
 * {@link #finish()} re-asserts it.
 *
 * <h2>Timeout</h2>
 * {@link #armTimeout} arms a {@link KernelTimer} at {@code jiffies + timeout} on the caller's CPU,
 * as {@code schedule_timeout()} does; its callback (softirq context) sets {@link #timedOut()} and
 * unparks the sleeper. So a wait's timeout is as late as the timer wheel makes it, and a
 * {@code ManualClock} kernel's tests end it with {@code clock.tick()}.
 *
 * <p>Field access codes: {@code F} final; {@code O} confined to the sleeping thread; {@code A}
 * volatile.
 */
public final class TaskSleep {
    /** Threads other than {@link KThread}s that installed hooks and did not remove them. */
    private static final AtomicInteger FOREIGN_HOOKS = new AtomicInteger();
    /** Hooks of threads other than {@link KThread}s. */
    private static final ThreadLocal<SleepHooks> HOOKS = new ThreadLocal<>();

    private final Thread thread;          // F: the sleeper
    private final Object blocker;         // F: LockSupport's blocker while parked
    private final boolean interruptible;  // F
    private KernelTimer timer;            // O: the timeout's timer, null without a timeout
    private long expire;                  // O: jiffies at which the timer expires
    private Kernel kernel;                // O: whose jiffies the timeout counts
    private volatile boolean fired;       // A: set by the timer's callback
    private SleepHooks hooks;             // O: the hooks told that this thread sleeps
    private boolean slept;                // O: sleeping() was called (or there were no hooks to call)
    private boolean interrupted;          // O: an uninterruptible sleep swallowed an interrupt

    /** A sleep of the calling thread; {@code blocker} is what thread dumps show it parked on. */
    public TaskSleep(Object blocker, boolean interruptible) {
        this.thread = Thread.currentThread();
        this.blocker = blocker;
        this.interruptible = interruptible;
    }

    // ---------------------------------------------------------------- might_sleep

    /**
     * {@code might_sleep()}: refuses to sleep in atomic context (hardirq, serving softirqs, or bottom
     * halves disabled), where the kernel would print "BUG: sleeping function called from invalid
     * context". {@code what} names the call, {@code on} the object (or null).
     */
    public static void mightSleep(KernelRuntime rt, String what, Object on) {
        CpuContext ctx = rt.context();
        if (!ctx.inTask() || ctx.inSoftirq()) {
            throw new IllegalStateException(what + (on != null ? " on " + on : "")
                    + " sleeps: not allowed in atomic context (preempt_count " + ctx.countHex() + ")");
        }
    }

    // ---------------------------------------------------------------- hooks

    /**
     * Installs {@code hooks} for the calling thread ({@code null} removes them). A {@link KThread}
     * keeps them in its field; any other thread in a thread-local.
     */
    public static void setHooks(SleepHooks hooks) {
        Thread t = Thread.currentThread();
        if (t instanceof KThread) {
            ((KThread) t).setSleepHooks(hooks);
            return;
        }
        SleepHooks old = HOOKS.get();
        if (hooks != null) {
            HOOKS.set(hooks);
            if (old == null) {
                FOREIGN_HOOKS.incrementAndGet();
            }
        } else if (old != null) {
            HOOKS.remove();
            FOREIGN_HOOKS.decrementAndGet();
        }
    }

    /**
     * The hooks of {@code current}, which must be the calling thread, or null. A {@link KThread} pays
     * a field read; any other thread one volatile read while no such thread installed hooks, and a
     * thread-local lookup otherwise.
     */
    public static SleepHooks hooks(Thread current) {
        if (current instanceof KThread) {
            return ((KThread) current).sleepHooks();
        }
        return FOREIGN_HOOKS.get() == 0 ? null : HOOKS.get();
    }

    // ---------------------------------------------------------------- timeout

    /**
     * Arms the timeout: a kernel timer at {@code jiffies + timeout} on the caller's CPU whose
     * callback wakes this sleeper. {@link Jiffies#MAX_SCHEDULE_TIMEOUT} arms nothing (no timeout).
     * At most once per sleep.
     */
    public void armTimeout(Kernel kernel, long timeout) {
        if (timeout == Jiffies.MAX_SCHEDULE_TIMEOUT) {
            return;
        }
        this.kernel = kernel;
        this.expire = kernel.jiffies() + timeout;
        final Thread sleeper = thread;
        KernelTimer t = KernelTimer.setup(kernel, self -> {
            fired = true;                    // read by the sleeper after its park returns
            LockSupport.unpark(sleeper);
        });
        timer = t;
        t.mod(expire);
    }

    /** True once the timeout's timer fired. Never true without a timeout. */
    public boolean timedOut() {
        return fired;
    }

    /**
     * What {@code schedule_timeout()} returns: the jiffies left until the expiry (0 once the timer
     * fired or the expiry passed), or {@link Jiffies#MAX_SCHEDULE_TIMEOUT} without a timeout.
     */
    public long jiffiesLeft() {
        if (kernel == null) {
            return Jiffies.MAX_SCHEDULE_TIMEOUT;
        }
        if (fired) {
            return 0;
        }
        long left = expire - kernel.jiffies();
        return left < 0 ? 0 : left;
    }

    /** An interruptible sleep whose thread is interrupted (the interrupt status stays set). */
    public boolean interruptPending() {
        return interruptible && thread.isInterrupted();
    }

    // ---------------------------------------------------------------- sleeping

    /**
     * Parks until unparked (or spuriously). The first park of this sleep tells the thread's
     * {@link SleepHooks} that it sleeps and returns without parking: a hook may take a lock (a
     * worker pool's), and a thread that waits for a lock parks and consumes the unpark its waker
     * gave in the meantime, so the caller must check its condition again before it really parks.
     * An uninterruptible sleep swallows and remembers an interrupt here.
     */
    public void park() {
        if (!slept) {
            slept = true;
            SleepHooks h = hooks(thread);
            if (h != null) {
                hooks = h;
                h.sleeping(thread);
                return;   // a spurious wake-up: every caller re-checks before it parks again
            }
        }
        LockSupport.park(blocker);
        if (!interruptible && Thread.interrupted()) {
            interrupted = true;
        }
    }

    /**
     * Ends the sleep: tells the hooks that the thread runs again (if {@link #park()} told them it
     * sleeps), deletes the timeout's timer and waits until its callback is not running (so it cannot
     * unpark this thread later), and re-asserts a swallowed interrupt. Call in a {@code finally}.
     */
    public void finish() {
        SleepHooks h = hooks;
        if (h != null) {
            hooks = null;
            h.running(thread);   // before deleteSync, whose own wait may sleep and tell the hooks again
        }
        try {
            KernelTimer t = timer;
            if (t != null) {
                timer = null;
                t.deleteSync();
            }
        } finally {
            if (interrupted) {
                interrupted = false;
                thread.interrupt();
            }
        }
    }
}

package io.kdefer.internal;

import io.kdefer.Clock;

import java.util.concurrent.locks.LockSupport;

/**
 * The periodic tick's copy of {@code jiffies}, for the softirq loop's time budget: the thread
 * {@code tick} stores the clock's {@code jiffies} once per jiffy while loops are restarting, and
 * sleeps (tickless) once a whole jiffy passed without a reader.
 *
 * <p>Why: the kernel's restart test {@code time_before(jiffies, end)} reads a variable the timer
 * interrupt keeps up to date ({@code tick_periodic()} → {@code do_timer()}); reading the system
 * clock instead costs a {@link System#nanoTime()} per restart, more than a whole pass of a small
 * tasklet. Only a clock that moves by itself needs this; a {@link io.kdefer.ManualClock}'s
 * {@code jiffies} is already a field.
 *
 * <p><b>Counting the budget.</b> While the thread ticks, a loop reads the copy at its start
 * ({@link #peek()}) and at each restart ({@link #jiffies()}), so its 2 ms are counted in the tick's
 * jiffies, as the kernel counts them in its own. Every value stored here was read from the clock,
 * so the copy is never ahead of it. When this thread is late (descheduled on a busy host) the
 * copy is late and the budget runs long, or short if the copy catches up between a loop's start
 * and its restart, as the kernel's does when ticks are late; the restart count bounds the loop
 * either way, and so does any {@code Kernel.jiffies()} read meanwhile, which moves the copy up to
 * the clock ({@link #observe}). A loop that starts while the thread sleeps reads the clock itself.
 *
 * <p>Protocol (all fields volatile):
 * <pre>
 *   reader                                   tick thread
 *   if (wanted) return copy                  loop: if (!wanted) { sleeping = true
 *   now = clock.jiffies()                                         if (!wanted) park()
 *   if (sleeping) copy = now                                      sleeping = false; continue }
 *   wanted = true; if (sleeping) unpark            wanted = false
 *   return now                                     copy = clock.jiffies(); sleep to the next jiffy
 * </pre>
 * The reader writes {@code wanted} then reads {@code sleeping}; the tick thread writes
 * {@code sleeping} then reads {@code wanted}: at least one sees the other's write, so a reader
 * never leaves the thread asleep while it relies on the copy. Verified by
 * {@code kdefer-jcstress: JiffiesTickNoLostWakeupTest}. A copy written by a reader may
 * land after the thread's own (at most a tick older); both came from the clock, so the copy stays
 * at or behind it.
 *
 * <p>Field access codes: {@code F} final; {@code A} volatile.
 */
public final class JiffiesTick implements Runnable {
    private final Clock clock;           // F
    private final Thread thread;         // F
    private volatile long copy;          // A: the clock's jiffies at the last tick
    private volatile boolean wanted;     // A: a reader used the copy since the last tick
    private volatile boolean sleeping;   // A: the thread parks (or is about to) until a reader comes
    private volatile boolean stop;       // A: set once by requestStop()
    private volatile long ticks;         // A: copies stored by the thread (written by it only)

    public JiffiesTick(Clock clock) {
        this.clock = clock;
        this.copy = clock.jiffies();
        this.thread = new Thread(this, "tick");
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Asks the thread to end; the caller joins {@link #thread()}. */
    void requestStop() {
        stop = true;
        LockSupport.unpark(thread);
    }

    /** The {@code tick} thread (for close() and tests). */
    public Thread thread() {
        return thread;
    }

    /**
     * {@code jiffies} as the tick last saw it: at or behind the clock, and at most about one jiffy
     * behind while the thread keeps up. The first read after a quiet jiffy reads the clock itself
     * and wakes the thread.
     */
    public long jiffies() {
        if (wanted) {
            return copy;
        }
        long now = clock.jiffies();
        if (announceReader(now)) {
            LockSupport.unpark(thread);
        }
        return now;
    }

    /**
     * A value {@code now} read from the clock by someone else ({@code Kernel.jiffies()}): while
     * loops use the copy, it moves the copy forward to it. In the kernel a callback that reads
     * {@code jiffies} and the loop's budget read one variable; here the copy lags while this
     * thread is descheduled, and without this a callback could see jiffies move by several
     * while the loop that runs it still counts its 2 ms as unspent. Like a reader's store in
     * {@link #announceReader}, it may land after a newer store of the thread's (at most a tick
     * older); the copy stays at or behind the clock.
     */
    public void observe(long now) {
        if (wanted && now - copy > 0) {
            copy = now;
        }
    }

    /**
     * {@code jiffies} for the start of a softirq loop: the copy while the thread is ticking (a
     * loop restarted within the last jiffy), otherwise the clock. Never wakes the thread, so a
     * loop that does not restart costs no tick.
     */
    public long peek() {
        return wanted ? copy : clock.jiffies();
    }

    /**
     * The reader's half of the protocol: if the thread seems to sleep, stores {@code now} (read
     * from the clock) as the copy; marks the copy wanted; then looks whether the thread sleeps and
     * returns true if so: the caller must unpark it.
     */
    public boolean announceReader(long now) {
        if (sleeping) {
            // refresh the copy before it is marked wanted, so that no reader relies on a copy
            // from before the thread fell asleep
            copy = now;
        }
        wanted = true;
        return sleeping;
    }

    /**
     * The thread's half: announces that it sleeps, then looks whether a reader came; true if it
     * may park, false (announcement withdrawn) if the copy is wanted or the thread must stop.
     */
    public boolean beginSleep() {
        sleeping = true;
        if (wanted || stop) {
            sleeping = false;
            return false;
        }
        return true;
    }

    /** How many times the thread stored the copy (for tests and diagnostics). */
    public long ticks() {
        return ticks;
    }

    @Override
    public void run() {
        final Clock c = clock;
        while (!stop) {
            if (!wanted) {
                if (beginSleep()) {
                    LockSupport.park(this);
                    sleeping = false;
                }
                continue;
            }
            wanted = false;
            long j = c.jiffies();
            copy = j;
            ticks++;
            // until the next jiffy begins; an early return (unpark, spurious) just ticks again
            long left = c.nanoTimeOf(j + 1) - System.nanoTime();
            if (left > 0) {
                LockSupport.parkNanos(this, left);
            }
        }
    }
}

package io.kdefer.workqueue;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A finer sampler for pools whose items block in plain JDK code ({@code Thread.sleep}, a lock,
 * I/O), which no sleep hook reports. The pool's own sampler runs once a jiffy; a worker that
 * blocks for about a jiffy is found when its sleep is nearly over, so the items queued behind it
 * wait the whole sleep, as in a fixed thread pool. Once that sampler has found a blocked worker
 * in a pool, the pool is watched here every {@link #INTERVAL_NANOS} for the next
 * {@code hz / 10} jiffies (each find renews it), so the next blocked worker is noticed within
 * about that interval and another worker starts.
 *
 * <p>The kernel needs nothing like it: the scheduler calls {@code wq_worker_sleeping} when a
 * kworker blocks. It exists only for kernels on a clock that moves by itself; a
 * {@link io.kdefer.ManualClock} kernel keeps the jiffy sampler alone, so tests stay
 * deterministic. Cost: while a pool is watched, one wake-up of this thread per interval, and per
 * wake-up the pool lock and one {@link Thread#getState()} per busy worker of each watched pool.
 * A pool whose items never block in JDK code is never watched.
 *
 * <p>Thread: {@code kworker/sampler}, a daemon started at the first watch, stopped and joined by
 * {@code close()}. Membership: a pool is added and removed under its own lock
 * ({@link WorkerPool#fastUntil}), so a watch that renews a pool the thread is about to drop cannot
 * be lost.
 */
final class FastSampler implements Runnable {
    /** How often a watched pool is sampled: 100 µs. */
    static final long INTERVAL_NANOS = TimeUnit.MICROSECONDS.toNanos(100);

    private final WorkqueueEngine engine;                                  // F
    private final Set<WorkerPool> pools = ConcurrentHashMap.newKeySet();   // A
    /** Passes over the watched pools (diagnostics, tests). */
    final AtomicLong passes = new AtomicLong();                            // A
    private final Object startLock = new Object();
    private Thread thread;                                                 // guarded by startLock
    private volatile boolean stop;                                         // A

    FastSampler(WorkqueueEngine engine) {
        this.engine = engine;
    }

    /** Pool lock held: {@code pool} is to be watched (it is not already). */
    void add(WorkerPool pool) {
        pools.add(pool);
        Thread t;
        synchronized (startLock) {
            if (stop) {
                return;
            }
            t = thread;
            if (t == null) {
                t = new Thread(this, "kworker/sampler");
                t.setDaemon(true);
                thread = t;
                t.start();
                return;
            }
        }
        LockSupport.unpark(t);
    }

    /** Pool lock held: {@code pool}'s watch ended. */
    void remove(WorkerPool pool) {
        pools.remove(pool);
    }

    @Override
    public void run() {
        while (!stop) {
            if (pools.isEmpty()) {
                LockSupport.park(this);
                continue;
            }
            LockSupport.parkNanos(this, INTERVAL_NANOS);
            if (stop) {
                break;
            }
            passes.incrementAndGet();
            for (WorkerPool p : pools) {
                p.fastSample();
            }
        }
    }

    /** close(): no more sampling; joins the thread. Returns true if the wait was interrupted. */
    boolean stop() {
        Thread t;
        synchronized (startLock) {
            stop = true;
            t = thread;
        }
        if (t == null) {
            return false;
        }
        LockSupport.unpark(t);
        boolean interrupted = false;
        for (;;) {
            try {
                t.join();
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
    }
}

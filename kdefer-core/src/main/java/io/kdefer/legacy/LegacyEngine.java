package io.kdefer.legacy;

import io.kdefer.Kernel;
import io.kdefer.internal.Cpu;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Subsystem;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The historical mechanisms of one kernel (its {@code LEGACY} subsystem): the task-queue lock and
 * sync bits, the predefined task queues, the bottom halves (built right after the kernel, since
 * they are tasklets), {@code keventd} and the classic workqueues.
 *
 * <p>Its part in the kernel's life:
 * <pre>
 *   tick        cpu/N: tq_timer non-empty -> mark TQUEUE_BH (2.4's do_timer)
 *   drain       cpu/N: tq_timer / tq_immediate non-empty -> mark their bottom half (close runs
 *               them even if the queuer forgot mark_bh)
 *   awaitIdle   keventd and every classic workqueue thread has nothing queued or running
 *   stopThreads report the tasks left on the user's task queues; stop and join keventd and the
 *               classic threads (each runs what is still queued before it ends)
 * </pre>
 *
 * <p>Field access codes: {@code F} final; {@code L} guarded by {@link #tqLock}; {@code S} set once
 * by {@link #attach} in the kernel's constructor, before the kernel is published.
 */
final class LegacyEngine implements Subsystem {
    final KernelRuntime rt;                   // F
    final Kernel kernel;                      // F
    /** F: {@code tqueue_lock}: the lists of every task queue and the sync bits. */
    final Object tqLock = new Object();
    /** L: the sync bits: the tasks queued on some queue of this kernel (by identity). */
    final Set<Runnable> queued = Collections.newSetFromMap(new IdentityHashMap<>());
    /** L: tasks detached by a run whose sync bit is not cleared yet. */
    int inFlight;
    final TaskQueue tqTimer;                  // F
    final TaskQueue tqImmediate;              // F
    final TaskQueue tqContext;                // F
    final Keventd keventd;                    // F
    /** F: the queues of the user's (for the invariant check and the close report). */
    private final CopyOnWriteArrayList<TaskQueue> userQueues = new CopyOnWriteArrayList<>();
    /** F: the live classic workqueues. */
    final CopyOnWriteArrayList<ClassicWorkqueue> classic = new CopyOnWriteArrayList<>();
    private final AtomicLong ran = new AtomicLong();   // A: tasks run by any task queue
    private BottomHalves bottomHalves;                // S
    private ClassicWorkqueue events;                  // guarded by this

    LegacyEngine(Kernel kernel, KernelRuntime rt) {
        this.kernel = kernel;
        this.rt = rt;
        this.tqTimer = new TaskQueue(this, "tq_timer", TaskQueue.Predefined.TIMER);
        this.tqImmediate = new TaskQueue(this, "tq_immediate", TaskQueue.Predefined.IMMEDIATE);
        this.tqContext = new TaskQueue(this, "tq_context", TaskQueue.Predefined.SCHEDULER);
        this.keventd = new Keventd(this, tqContext);
    }

    static LegacyEngine of(KernelRuntime rt) {
        return rt.subsystem(LegacyEngine.class);
    }

    /** Builds the bottom halves (tasklets, so only once the kernel's subsystems exist). */
    void attach() {
        bottomHalves = new BottomHalves(this);
    }

    BottomHalves bottomHalves() {
        return bottomHalves;
    }

    TaskQueue taskQueue(TaskQueue.Predefined which) {
        switch (which) {
            case TIMER:
                return tqTimer;
            case IMMEDIATE:
                return tqImmediate;
            default:
                return tqContext;
        }
    }

    synchronized ClassicWorkqueue classicEvents() {
        if (events == null) {
            events = new ClassicWorkqueue(this, "events", false);
        }
        return events;
    }

    void register(TaskQueue q) {
        userQueues.add(q);
    }

    void ran(int n) {
        ran.addAndGet(n);
    }

    // ---------------------------------------------------------------- Subsystem

    @Override
    public String name() {
        return "legacy";
    }

    @Override
    public boolean tick(int cpu, long jiffies, boolean awake) {
        // do_timer(): if (TQ_ACTIVE(tq_timer)) mark_bh(TQUEUE_BH); marking is idempotent, so every
        // CPU's tick may do it and the first HI softirq to get the global lock runs the queue
        BottomHalves bh = bottomHalves;
        if (bh != null && !tqTimer.isEmpty()) {
            bh.markOwned(BottomHalves.TQUEUE_BH);
        }
        return false;
    }

    @Override
    public void drainHardirq(Cpu cpu) {
        BottomHalves bh = bottomHalves;
        if (bh == null) {
            return;
        }
        if (!tqTimer.isEmpty()) {
            bh.markOwned(BottomHalves.TQUEUE_BH);
        }
        if (!tqImmediate.isEmpty()) {
            bh.markOwned(BottomHalves.IMMEDIATE_BH);
        }
    }

    @Override
    public boolean quiet(Cpu cpu) {
        return tqTimer.isEmpty() && tqImmediate.isEmpty();
    }

    @Override
    public long activity() {
        long sum = ran.get() + keventd.passes();
        for (ClassicWorkqueue wq : classic) {
            sum += wq.processed();
        }
        return sum;
    }

    @Override
    public void awaitIdle() {
        rt.waitQueue().await(this, this::threadsIdle);
    }

    private boolean threadsIdle() {
        if (!keventd.idle()) {
            return false;
        }
        for (ClassicWorkqueue wq : classic) {
            if (!wq.idle()) {
                return false;
            }
        }
        return true;
    }

    /** A legacy thread finished a batch: close() may be waiting in {@link #awaitIdle}. */
    void wentIdle() {
        rt.waitQueue().wakeAll(this);
    }

    @Override
    public void stopThreads() {
        for (TaskQueue q : userQueues) {
            int n;
            synchronized (tqLock) {
                n = q.dropLocked();
            }
            if (n > 0) {
                rt.reportError(q, new IllegalStateException(q + ": " + n
                        + " task(s) still queued at close; run_task_queue() was never called for them"));
            }
        }
        boolean interrupted = keventd.stop();
        for (ClassicWorkqueue wq : classic) {
            interrupted |= wq.stopThreads();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void checkInvariants(boolean quiescent, List<String> out) {
        List<TaskQueue> all = new ArrayList<>(userQueues);
        all.add(tqTimer);
        all.add(tqImmediate);
        all.add(tqContext);
        synchronized (tqLock) {
            int listed = inFlight;
            for (TaskQueue q : all) {
                listed += q.sizeLocked();
            }
            if (listed != queued.size()) {
                out.add("task queues: " + queued.size() + " task(s) have their sync bit set but "
                        + listed + " are on a list or being run (a sync bit without a list, or a list entry without one)");
            }
        }
        BottomHalves bh = bottomHalves;
        if (bh != null) {
            bh.checkInvariants(quiescent, out);
        }
        for (ClassicWorkqueue wq : classic) {
            wq.checkInvariants(out);
        }
    }
}

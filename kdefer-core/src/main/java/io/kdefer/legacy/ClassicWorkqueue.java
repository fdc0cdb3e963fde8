package io.kdefer.legacy;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KThread;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Parker;
import io.kdefer.timer.KernelTimer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A workqueue as Linux 2.6.0–2.6.35 built it ({@code kernel/workqueue.c} before cmwq): every
 * queue has its own threads, one per CPU named {@code name/N} ({@code create_workqueue}), or a
 * single one named {@code name} ({@code create_singlethread_workqueue}). There is no concurrency
 * management: an item that sleeps holds up every later item of its CPU's thread, and every queue
 * costs {@code nrCpus} threads, which is what cmwq (2.6.36) fixed.
 *
 * <h2>Items</h2>
 * An item is the {@link Runnable} itself (its identity plays the {@code work_struct}); the queue
 * keeps its {@code pending} bit. {@link #queueWork} of an item that is pending on this queue
 * (queued, or armed as delayed work) returns false. The bit is cleared just before the item runs
 * ({@code run_workqueue}: {@code clear_bit(0, &work->pending)} then {@code f(data)}), so an item
 * may queue itself again.
 *
 * <h2>State and locking</h2>
 * One lock per queue guards the pending set, the per-CPU lists, the sequence numbers and the
 * delayed timers (the kernel had one {@code cwq->lock} per CPU and the pending bit in the item).
 * Per CPU ({@code cpu_workqueue_struct}): a FIFO list, {@code insertSeq} (items ever queued) and
 * {@code removeSeq} (items finished), as 2.6.0's {@code insert_sequence}/{@code remove_sequence}.
 * {@link #flush()} ({@code flush_workqueue}) snapshots each CPU's {@code insertSeq} and waits until
 * its {@code removeSeq} reaches it. Items run on their CPU's thread, in process context, with
 * {@code smpProcessorId()} equal to that CPU. A thrown exception is reported to the kernel's
 * error handler; the thread goes on.
 *
 * <p>Delayed items ({@code queue_delayed_work}) arm a kernel timer on the caller's CPU (or on
 * {@code cpu} for {@link #queueDelayedWorkOn}); its callback ({@code delayed_work_timer_fn}) queues
 * the item to the thread of the CPU the timer fired on (or of {@code cpu}).
 *
 * <p>Deviations from 2.6: {@link #flush()} from one of the queue's own threads throws (2.6.0 ran
 * the list recursively there, later kernels deadlock); {@link #destroy()} refuses a queue with
 * armed delayed items (the kernel required {@code cancel_delayed_work} first and crashed
 * otherwise); the pending bit is per queue.
 *
 * <p>Field access codes: {@code F} final; {@code L} guarded by {@link #lock}; {@code A} volatile.
 */
public final class ClassicWorkqueue {
    private final LegacyEngine engine;   // F
    private final KernelRuntime rt;      // F
    private final String name;           // F
    private final boolean singleThread;  // F
    private final Cwq[] cwqs;            // F: per CPU, or one
    final Object lock = new Object();    // F
    private final Set<Runnable> pending = Collections.newSetFromMap(new IdentityHashMap<>());   // L
    private final Map<Runnable, KernelTimer> delayed = new IdentityHashMap<>();                // L
    private boolean destroyed;           // L
    private volatile long processed;     // A, written under L

    ClassicWorkqueue(LegacyEngine engine, String name, boolean singleThread) {
        this.engine = engine;
        this.rt = engine.rt;
        this.name = name;
        this.singleThread = singleThread;
        int n = singleThread ? 1 : rt.nrCpus;
        cwqs = new Cwq[n];
        for (int c = 0; c < n; c++) {
            cwqs[c] = new Cwq(c, singleThread ? name : name + "/" + c);
        }
        engine.classic.add(this);
        for (Cwq q : cwqs) {
            q.thread.start();
        }
    }

    /** The queue's name. */
    public String name() {
        return name;
    }

    /** True for a {@code create_singlethread_workqueue} queue. */
    public boolean singleThread() {
        return singleThread;
    }

    /** The queue's threads: index {@code cpu} for a per-CPU queue, one for a single-thread one. */
    public List<Thread> threads() {
        List<Thread> out = new ArrayList<>(cwqs.length);
        for (Cwq q : cwqs) {
            out.add(q.thread);
        }
        return out;
    }

    /** Items that ran so far. */
    public long processed() {
        return processed;
    }

    private Cwq cwqFor(int cpu) {
        return singleThread ? cwqs[0] : cwqs[cpu];
    }

    /**
     * {@code queue_work(wq, work)}: queues {@code item} to the calling CPU's thread (the only
     * thread of a single-thread queue) unless it is pending. Callable from any context.
     *
     * @return true when queued, false when it was pending already
     * @throws IllegalStateException once the queue is destroyed, or from a thread outside the
     *         kernel once {@code close()} began
     */
    public boolean queueWork(Runnable item) {
        Objects.requireNonNull(item, "item");
        CpuContext ctx = rt.context();
        return queue(ctx.cpu, item, ctx);
    }

    /** {@code queue_work_on(cpu, wq, work)}: as {@link #queueWork}, to {@code cpu}'s thread. */
    public boolean queueWorkOn(int cpu, Runnable item) {
        Objects.requireNonNull(item, "item");
        rt.checkCpu(cpu);
        return queue(cpu, item, rt.context());
    }

    private boolean queue(int cpu, Runnable item, CpuContext ctx) {
        boolean section = rt.enter(ctx);
        Cwq q;
        try {
            synchronized (lock) {
                checkAlive("queue_work");
                if (!pending.add(item)) {
                    return false;
                }
                q = cwqFor(cpu);
                q.insertLocked(item);
            }
        } finally {
            if (section) {
                rt.exit(ctx);
            }
        }
        q.thread.parker.wake();
        return true;
    }

    /**
     * {@code queue_delayed_work(wq, work, delay)}: marks {@code item} pending and arms a timer
     * {@code delay} jiffies ahead on the caller's CPU; when it fires the item is queued to the
     * thread of the CPU it fired on. A delay of 0 queues at once.
     *
     * @return true when armed (or queued), false when the item was pending already
     */
    public boolean queueDelayedWork(Runnable item, long delay) {
        return queueDelayed(-1, item, delay);
    }

    /** {@code queue_delayed_work_on(cpu, wq, work, delay)}: the timer fires, and the item runs, on {@code cpu}. */
    public boolean queueDelayedWorkOn(int cpu, Runnable item, long delay) {
        rt.checkCpu(cpu);
        return queueDelayed(cpu, item, delay);
    }

    private boolean queueDelayed(int cpu, Runnable item, long delay) {
        Objects.requireNonNull(item, "item");
        if (delay < 0) {
            throw new IllegalArgumentException("queue_delayed_work(" + name + "): negative delay " + delay);
        }
        CpuContext ctx = rt.context();
        if (delay == 0) {
            return queue(cpu < 0 ? ctx.cpu : cpu, item, ctx);
        }
        KernelTimer timer;
        synchronized (lock) {
            rt.checkAccepting(ctx);
            checkAlive("queue_delayed_work");
            if (!pending.add(item)) {
                return false;
            }
            final KernelTimer[] self = new KernelTimer[1];
            timer = KernelTimer.setup(engine.kernel, t -> delayedTimerFn(cpu, item, self[0]));
            self[0] = timer;
            delayed.put(item, timer);
        }
        long expires = rt.clock.jiffies() + delay;
        if (cpu < 0) {
            timer.add(expires);
        } else {
            timer.addOn(cpu, expires);
        }
        return true;
    }

    /** {@code delayed_work_timer_fn}: queue the item unless it was cancelled meanwhile. */
    private void delayedTimerFn(int cpu, Runnable item, KernelTimer timer) {
        Cwq q;
        synchronized (lock) {
            if (delayed.get(item) != timer) {
                return;   // cancelled (and maybe re-armed with another timer)
            }
            delayed.remove(item);
            q = cwqFor(cpu < 0 ? rt.context().cpu : cpu);
            q.insertLocked(item);
        }
        q.thread.parker.wake();
    }

    /**
     * {@code cancel_delayed_work(work)}: disarms a delayed item whose timer has not fired.
     *
     * @return true when the item was armed and is now not pending; false when it was not armed
     *         (never queued, or already on a thread's list or running)
     */
    public boolean cancelDelayedWork(Runnable item) {
        Objects.requireNonNull(item, "item");
        KernelTimer t;
        synchronized (lock) {
            t = delayed.remove(item);
            if (t == null) {
                return false;
            }
            pending.remove(item);
        }
        t.delete();   // a callback already running finds the item gone and does nothing
        return true;
    }

    /** True while {@code item} is queued or armed on this queue (its pending bit). */
    public boolean isPending(Runnable item) {
        synchronized (lock) {
            return pending.contains(item);
        }
    }

    /**
     * {@code flush_workqueue(wq)}: waits until every item queued before the call, on every CPU,
     * has finished. Armed delayed items are not waited for. Process context only.
     *
     * @throws IllegalStateException from one of this queue's threads (it would wait for itself),
     *         from atomic context, or on a destroyed queue
     */
    public void flush() {
        rt.checkOpen();
        CpuContext ctx = rt.context();
        for (Cwq q : cwqs) {
            if (Thread.currentThread() == q.thread) {
                throw new IllegalStateException("flush_workqueue(" + name + ") from its own thread "
                        + q.thread.getName() + ": it would wait for itself");
            }
        }
        if (!ctx.inTask() || ctx.inSoftirq()) {
            throw new IllegalStateException("flush_workqueue(" + name + ") sleeps: not allowed in atomic context"
                    + " (preempt_count " + ctx.countHex() + ")");
        }
        long[] targets = new long[cwqs.length];
        synchronized (lock) {
            checkAlive("flush_workqueue");
            for (int i = 0; i < cwqs.length; i++) {
                targets[i] = cwqs[i].insertSeq;
            }
        }
        for (int i = 0; i < cwqs.length; i++) {
            final Cwq q = cwqs[i];
            final long target = targets[i];
            rt.waitQueue().await(q, () -> q.removeSeqVolatile() >= target);
        }
    }

    /**
     * {@code destroy_workqueue(wq)}: flushes, then stops and joins the queue's threads. Later
     * calls on the queue throw. Process context only.
     *
     * @throws IllegalStateException with delayed items still armed ({@link #cancelDelayedWork}
     *         them first), from the queue's own thread, or when already destroyed
     */
    public void destroy() {
        synchronized (lock) {
            checkAlive("destroy_workqueue");
            if (!delayed.isEmpty()) {
                throw new IllegalStateException("destroy_workqueue(" + name + "): " + delayed.size()
                        + " delayed item(s) still armed; cancel_delayed_work them first");
            }
        }
        flush();
        synchronized (lock) {
            checkAlive("destroy_workqueue");
            destroyed = true;
        }
        // items queued between the flush and the flag run before the threads end
        boolean interrupted = stopThreads();
        engine.classic.remove(this);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void checkAlive(String op) {
        if (destroyed) {
            throw new IllegalStateException(op + "(" + name + "): the workqueue is destroyed");
        }
    }

    /** Nothing queued or running on any thread. */
    boolean idle() {
        synchronized (lock) {
            for (Cwq q : cwqs) {
                if (q.removeSeq != q.insertSeq) {
                    return false;
                }
            }
            return true;
        }
    }

    /** Stops and joins the threads (each runs its list to the end first); true if interrupted. */
    boolean stopThreads() {
        for (Cwq q : cwqs) {
            q.thread.requestStop();
        }
        boolean interrupted = false;
        for (Cwq q : cwqs) {
            interrupted |= KernelRuntime.join(q.thread);
        }
        return interrupted;
    }

    void checkInvariants(List<String> out) {
        synchronized (lock) {
            int listed = delayed.size();
            for (Cwq q : cwqs) {
                listed += q.list.size();
                if (q.insertSeq - q.removeSeq != q.list.size() + (q.running ? 1 : 0)) {
                    out.add(this + " " + q.thread.getName() + ": insert_sequence " + q.insertSeq
                            + " - remove_sequence " + q.removeSeq + " != queued " + q.list.size()
                            + " + running " + (q.running ? 1 : 0));
                }
            }
            if (listed != pending.size()) {
                out.add(this + ": " + pending.size() + " item(s) pending but " + listed
                        + " queued or armed");
            }
        }
    }

    @Override
    public String toString() {
        return "ClassicWorkqueue[" + name + (singleThread ? ", singlethread" : "") + "]";
    }

    /** {@code cpu_workqueue_struct}: one thread's list. */
    private final class Cwq {
        final ArrayDeque<Runnable> list = new ArrayDeque<>();   // L
        long insertSeq;                                          // L
        long removeSeq;                                          // L, published by the volatile below
        private volatile long removeSeqPublished;                // A: for flush waiters
        boolean running;                                         // L
        final CwqThread thread;                                  // F

        Cwq(int cpu, String threadName) {
            thread = new CwqThread(this, cpu, threadName);
        }

        void insertLocked(Runnable item) {
            list.addLast(item);
            insertSeq++;
        }

        long removeSeqVolatile() {
            return removeSeqPublished;
        }

        /** {@code run_workqueue}: takes items one by one until the list is empty. */
        void runList() {
            for (;;) {
                Runnable item;
                synchronized (lock) {
                    item = list.pollFirst();
                    if (item == null) {
                        return;
                    }
                    pending.remove(item);   // clear_bit(0, &work->pending) before f(data)
                    running = true;
                }
                try {
                    item.run();
                } catch (Throwable t) {
                    rt.reportError(ClassicWorkqueue.this + " item " + item, t);
                } finally {
                    synchronized (lock) {
                        running = false;
                        removeSeq++;
                        removeSeqPublished = removeSeq;
                        processed = processed + 1;
                    }
                    rt.waitQueue().wakeAll(this);
                    engine.wentIdle();
                }
            }
        }

        boolean hasItems() {
            synchronized (lock) {
                return !list.isEmpty();
            }
        }
    }

    /** {@code worker_thread}: {@code name/N}, on CPU N. */
    private final class CwqThread extends KThread implements Parker.Condition {
        private final Cwq cwq;   // F

        CwqThread(Cwq cwq, int cpu, String name) {
            super(ClassicWorkqueue.this.rt, cpu, name);
            this.cwq = cwq;
        }

        @Override
        public boolean hasWork() {
            return cwq.hasItems() || stopRequested();
        }

        @Override
        public void run() {
            for (;;) {
                cwq.runList();
                if (stopRequested() && !cwq.hasItems()) {
                    return;
                }
                parker.idle(this, 0);
            }
        }
    }
}

package io.kdefer.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.concurrent.locks.LockSupport;

/**
 * The lifecycle of one kernel: its state word, the entry protocol that calls from outside the
 * kernel's threads follow, and {@code close()} with its drain rounds.
 *
 * <p><b>States.</b> {@code RUNNING -> CLOSING -> (callers quiesced) -> (drained) -> CLOSED},
 * forward only, driven by the one thread whose CAS moved the state to CLOSING:
 * <pre>
 *   state     what happens                                          calls from foreign threads
 *   RUNNING   normal operation                                      served
 *   CLOSING   1. quiesce: wait until every entry section opened     refused (IllegalStateException),
 *                before CLOSING was seen has ended                  except a thread serving softirqs
 *             2. drain rounds until two rounds in a row see no       at its local_bh_enable()
 *                activity; kdefer threads (callbacks) keep adding
 *                work meanwhile and it is run too
 *             3. stop and join every thread
 *   CLOSED    set after the joins                                    refused, every one
 * </pre>
 * A second {@code close()} waits for the first to reach CLOSED; {@code close()} from a kdefer
 * thread (a callback) is refused, since it would join itself.
 *
 * <p><b>Entry protocol.</b> Every call from outside kdefer's threads that queues work (tasklet
 * schedules, softirq and interrupt raises, hardirq calls, ticks, timer arms) is either refused or
 * fully served: run, or run or reported by {@code close()}. Checking the state and then queueing is
 * not enough: a caller descheduled between the two would queue onto a kernel that already drained
 * and joined its threads. So a caller marks an <i>entry section</i> around its check and its
 * queueing, and the closer waits for the sections to end before it drains:
 * <pre>
 *   caller (foreign thread)                    closer
 *   ctx.inFlight++        (volatile write)     state = CLOSING           (CAS)
 *   if (state != RUNNING) refuse (volatile)    for each foreign context:
 *   queue the work                                 while (ctx.inFlight != 0) wait (volatile read)
 *   ctx.inFlight--        (release write)      drain rounds, which see every queue
 * </pre>
 * The two sides write one location each and then read the other's, all with sequentially
 * consistent accesses (Dekker), so at least one sees the other: either the caller sees CLOSING
 * and refuses, or the closer sees the open section and waits until the release write that follows
 * the queueing, which it then reads. A section is a few stores and at most a wake-up, never a
 * wait, so the closer's wait is short. kdefer's own threads need no section: the drain rounds
 * count their activity and repeat until it stops. Timer arms use the wheel lock as their section
 * (the state is re-checked under it and the closer takes and releases every wheel lock once before
 * it reads the sections; an arm that moves a timer between CPUs opens a section before it lets go
 * of the first lock). Verified by the {@code kdefer-jcstress} {@code close} tests.
 *
 * <p>Fast paths that return without queueing (a tasklet already scheduled, a timer re-armed at its
 * current expiry) read no state: the run they rely on was queued by a call that passed the
 * protocol, so {@code close()} runs or reports it; and once CLOSED nothing is left queued, so they
 * no longer apply and the call reaches its refusal.
 *
 * <p>Field access codes: {@code F} final; {@code A} VarHandle/volatile; {@code L} guarded by the
 * lock named.
 */
final class Lifecycle {
    static final int RUNNING = 0;
    static final int CLOSING = 1;
    static final int CLOSED = 2;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Lifecycle.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final KernelRuntime rt;   // F
    @SuppressWarnings("unused")
    private volatile int state;       // A: RUNNING, CLOSING, CLOSED
    /** L (itself): the contexts of foreign threads, so that close() can wait for their sections. */
    private final ArrayList<WeakReference<CpuContext>> foreignContexts = new ArrayList<>();
    private final ReferenceQueue<CpuContext> deadContexts = new ReferenceQueue<>();   // F

    Lifecycle(KernelRuntime rt) {
        this.rt = rt;
    }

    /**
     * Remembers a foreign thread's new context for {@link #quiesceCallers()}. Weakly: a context
     * lives as long as its thread's thread-local map, and a dead thread has no open section.
     */
    CpuContext register(CpuContext ctx) {
        synchronized (foreignContexts) {
            if (deadContexts.poll() != null) {
                while (deadContexts.poll() != null) {
                    // drain the queue; the cleared references themselves are removed below
                }
                foreignContexts.removeIf(r -> r.get() == null);
            }
            foreignContexts.add(new WeakReference<>(ctx, deadContexts));
        }
        return ctx;
    }

    // ---------------------------------------------------------------- state

    boolean isClosing() {
        return (int) STATE.getVolatile(this) != RUNNING;
    }

    boolean isClosed() {
        return (int) STATE.getVolatile(this) == CLOSED;
    }

    /** Refuses every call once the kernel is closed. */
    void checkOpen() {
        if ((int) STATE.getVolatile(this) == CLOSED) {
            throw new IllegalStateException("kernel is closed");
        }
    }

    /**
     * True when {@code ctx}'s thread may add work now: always while RUNNING; while CLOSING, only
     * kdefer threads, threads serving softirqs (callbacks, whose work the drain rounds see), and a
     * foreign thread inside an entry section it opened while RUNNING: a call nested in it (a
     * queueing that arms a timer after its item is listed) belongs to that section, close() waits
     * for the section before it drains, and refusing the nested call would throw after the outer
     * call's work was queued. {@code ctx} is the caller's own.
     */
    boolean accepts(CpuContext ctx) {
        int s = (int) STATE.getVolatile(this);
        return s == RUNNING
                || (s == CLOSING && (ctx.kdeferThread || ctx.inServingSoftirq() || ctx.inSectionOwner()));
    }

    /** The exception a refused call throws: names the state. */
    IllegalStateException refusal() {
        return (int) STATE.getVolatile(this) == CLOSED
                ? new IllegalStateException("kernel is closed")
                : new IllegalStateException("kernel is closing: no new work is accepted from outside its threads");
    }

    // ---------------------------------------------------------------- entry protocol, caller side

    static final int REFUSED = -1;
    static final int ACCEPTED = 0;
    static final int IN_SECTION = 1;

    /**
     * {@link #IN_SECTION} when a foreign thread may queue and is now in its entry section (it must
     * call {@link #exit}); {@link #ACCEPTED} when a kdefer thread, or a thread serving softirqs
     * while the kernel drains, may queue without a section; {@link #REFUSED} otherwise.
     */
    int admit(CpuContext ctx) {
        if (!ctx.kdeferThread) {
            ctx.enterSection();
            if ((int) STATE.getVolatile(this) == RUNNING) {
                return IN_SECTION;
            }
            ctx.exitSection();
        }
        return accepts(ctx) ? ACCEPTED : REFUSED;
    }

    /** As {@link #admit}, throwing {@link #refusal()} instead of returning REFUSED; true: in a section. */
    boolean enter(CpuContext ctx) {
        int a = admit(ctx);
        if (a == REFUSED) {
            throw refusal();
        }
        return a == IN_SECTION;
    }

    // ---------------------------------------------------------------- entry protocol, closer side

    /**
     * After CLOSING is set, waits until every entry section that may have seen RUNNING has ended.
     * First each subsystem passes through the locks its callers use as sections (timer wheels),
     * then each foreign context's section depth is read.
     */
    private void quiesceCallers() {
        for (Subsystem s : rt.subsystems()) {
            s.quiesceCallers();
        }
        ArrayList<CpuContext> live = new ArrayList<>();
        synchronized (foreignContexts) {
            for (WeakReference<CpuContext> r : foreignContexts) {
                CpuContext c = r.get();
                if (c != null) {
                    live.add(c);
                }
            }
        }
        for (CpuContext c : live) {
            for (int spins = 0; c.inSectionVolatile(); spins++) {
                // a section is a few stores and a wake-up; one still open means its thread was
                // descheduled inside it: give it the CPU
                if (spins < 64) {
                    Thread.onSpinWait();
                } else if (spins < 128) {
                    Thread.yield();
                } else {
                    LockSupport.parkNanos(this, 10_000);
                }
            }
        }
        Reference.reachabilityFence(live);
    }

    // ---------------------------------------------------------------- close

    /** See {@code KernelRuntime.close()}. */
    void close() {
        CpuContext ctx = rt.context();
        if (ctx.kdeferThread) {
            throw new IllegalStateException("Kernel.close() called from " + Thread.currentThread().getName()
                    + ": a kernel cannot be closed from its own threads (it joins them)");
        }
        if (ctx.inSoftirq() || ctx.inHardirq()) {
            throw new IllegalStateException("Kernel.close() in atomic context (preempt_count " + ctx.countHex()
                    + "): it waits for every CPU's softirqs, including the ones this thread holds off");
        }
        if (!STATE.compareAndSet(this, RUNNING, CLOSING)) {
            rt.waitQueue.await(this, this::isClosed);
            return;
        }
        Subsystem[] subsystems = rt.subsystems();
        try {
            quiesceCallers();
            for (Subsystem s : subsystems) {
                s.closing();
            }
            drain(subsystems);
        } finally {
            for (Subsystem s : subsystems) {
                s.stopThreads();
            }
            boolean interrupted = rt.stopCpus();
            STATE.setVolatile(this, CLOSED);
            rt.waitQueue.wakeAll(this);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Drain rounds until two rounds in a row saw no activity: no hardirq and no softirq invocation
     * on any CPU, no run of a subsystem's own threads. Each round sends every CPU a hardirq in which
     * each subsystem raises what must still run or be reported there (armed timers); its irq exit
     * runs whatever is pending. Then it waits until every subsystem is quiet on that CPU, and
     * until the subsystems' own threads are idle.
     */
    private void drain(Subsystem[] subsystems) {
        for (int quiet = 0; quiet < 2; ) {
            long before = activity(subsystems);
            for (int i = 0; i < rt.nrCpus; i++) {
                Cpu c = rt.cpu(i);
                CpuThread.await(rt, c.cpuThread.send(() -> {
                    for (Subsystem s : subsystems) {
                        s.drainHardirq(c);
                    }
                }, true));
                rt.waitQueue.await(c, () -> {
                    for (Subsystem s : subsystems) {
                        if (!s.quiet(c)) {
                            return false;
                        }
                    }
                    return true;
                });
            }
            for (Subsystem s : subsystems) {
                s.awaitIdle();
            }
            long after = activity(subsystems);
            quiet = (after - before == rt.nrCpus) ? quiet + 1 : 0;
        }
    }

    private long activity(Subsystem[] subsystems) {
        long sum = 0;
        for (int i = 0; i < rt.nrCpus; i++) {
            Cpu c = rt.cpu(i);
            sum += c.stat(Cpu.STAT_IPIS) + c.stat(Cpu.STAT_INVOCATIONS);
        }
        for (Subsystem s : subsystems) {
            sum += s.activity();
        }
        return sum;
    }
}

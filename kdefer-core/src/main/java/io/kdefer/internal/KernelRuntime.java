package io.kdefer.internal;

import io.kdefer.Clock;
import io.kdefer.ErrorHandler;
import io.kdefer.IdleStrategy;
import io.kdefer.softirq.SoftirqVector;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

/**
 * The engine behind {@code io.kdefer.Kernel}: the virtual CPUs, the per-thread contexts, the
 * softirq action table, inter-processor calls, the tick, and the lifecycle.
 *
 * <h2>Implementation overview</h2>
 *
 * <p><b>Contexts.</b> A kdefer thread carries its {@link CpuContext} in a field; any other thread
 * (a "task") gets one from a thread-local on first use, with a home CPU derived from its thread
 * id, which {@link #workOnCpu} may override for the duration of a call.
 *
 * <p><b>Lifecycle.</b> {@code RUNNING -> CLOSING -> (callers quiesced) -> (drained) -> CLOSED},
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
 * <p><b>Deviations from Linux.</b> {@code work_on_cpu} runs the function on the calling thread with
 * its current CPU switched, not on a kworker of that CPU. {@code smp_call_function_single} to the
 * caller's own CPU from its {@code cpu/N} thread runs nested, as a local call does in the kernel;
 * from any other thread it is queued to {@code cpu/N}.
 */
public final class KernelRuntime {
    public static final int NR_SOFTIRQS = 10;

    static final int RUNNING = 0;
    static final int CLOSING = 1;
    static final int CLOSED = 2;

    private static final VarHandle STATE;
    private static final SoftirqVector[] VECTORS = SoftirqVector.values();

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(KernelRuntime.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    public final int nrCpus;                 // F
    public final int hz;                     // F
    public final Clock clock;                // F
    public final boolean faithful;           // F
    public final long maxSoftirqTime;        // F: msecs_to_jiffies(2)
    final IdleStrategy idleStrategy;         // F
    private final ErrorHandler errorHandler; // F
    final WaitQueue waitQueue = new WaitQueue();  // F
    private final Cpu[] cpus;                // F
    private final AtomicReferenceArray<Runnable> actions = new AtomicReferenceArray<>(NR_SOFTIRQS); // A
    private final boolean[] owned = new boolean[NR_SOFTIRQS];  // L: guarded by this
    private final ThreadLocal<CpuContext> foreign;              // F
    /** L (guarded by itself): the contexts of foreign threads, so that close() can wait for their sections. */
    private final ArrayList<WeakReference<CpuContext>> foreignContexts = new ArrayList<>();
    private final ReferenceQueue<CpuContext> deadContexts = new ReferenceQueue<>();   // F
    private final AtomicLong errors = new AtomicLong();         // A
    private final Object[] extensions = new Object[8];          // L: guarded by this
    @SuppressWarnings("unused")
    private volatile int state;                                 // A: RUNNING, CLOSING, CLOSED
    private volatile TimerHooks timerHooks;                     // A: set once by the timer wheel

    private volatile IrqHooks irqHooks;                         // A: set once by the interrupt lines

    /** F: close() runs armed timers once (true) or reports them (false). */
    public final boolean runTimersOnClose;
    /** F: forced interrupt threading ({@code threadirqs}). */
    public final boolean threadIrqs;
    /** F: the tick's copy of jiffies for the softirq budget; null for a clock that does not move by itself. */
    public final JiffiesTick tick;

    public KernelRuntime(int nrCpus, int hz, Clock clock, boolean faithful, IdleStrategy idle,
                         ErrorHandler errorHandler, boolean runTimersOnClose, boolean threadIrqs) {
        this.runTimersOnClose = runTimersOnClose;
        this.threadIrqs = threadIrqs;
        this.nrCpus = nrCpus;
        this.hz = hz;
        this.clock = clock;
        this.faithful = faithful;
        this.idleStrategy = idle;
        this.errorHandler = errorHandler;
        this.maxSoftirqTime = msecsToJiffies(2);
        this.tick = clock.nanoTimeOf(clock.jiffies()) != 0 ? new JiffiesTick(clock) : null;
        this.foreign = ThreadLocal.withInitial(
                () -> register(new CpuContext((int) Math.floorMod(Thread.currentThread().getId(), (long) nrCpus), false)));
        this.cpus = new Cpu[nrCpus];
        for (int i = 0; i < nrCpus; i++) {
            cpus[i] = new Cpu(this, i);
        }
        // the vectors kdefer serves itself; their actions are installed by their mechanisms
        owned[SoftirqVector.HI.ordinal()] = true;
        owned[SoftirqVector.TIMER.ordinal()] = true;
        owned[SoftirqVector.TASKLET.ordinal()] = true;
    }

    /** Starts every CPU's threads. */
    public void start() {
        if (tick != null) {
            tick.start();
        }
        for (Cpu c : cpus) {
            c.cpuThread.start();
            c.ksoftirqd.start();
            if (c.ktimers != null) {
                c.ktimers.start();
            }
        }
    }

    // ---------------------------------------------------------------- contexts and CPUs

    /** The calling thread's context for this kernel. */
    public CpuContext context() {
        Thread t = Thread.currentThread();
        if (t instanceof KThread) {
            KThread k = (KThread) t;
            if (k.rt == this) {
                return k.ctx;
            }
        }
        return foreign.get();
    }

    /**
     * Remembers a foreign thread's new context for {@link #quiesceCallers()}. Weakly: a context
     * lives as long as its thread's thread-local map, and a dead thread has no open section.
     */
    private CpuContext register(CpuContext ctx) {
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

    public IdleStrategy idleStrategy() {
        return idleStrategy;
    }

    public Cpu cpu(int id) {
        return cpus[id];
    }

    public Cpu currentCpu(CpuContext ctx) {
        return cpus[ctx.cpu];
    }

    public void checkCpu(int cpu) {
        if (cpu < 0 || cpu >= nrCpus) {
            throw new IllegalArgumentException("cpu " + cpu + " does not exist (nr_cpus=" + nrCpus + ")");
        }
    }

    /** {@code msecs_to_jiffies}: rounds up. */
    public long msecsToJiffies(long ms) {
        return io.kdefer.Jiffies.msecsToJiffies(ms, hz);
    }

    /** {@code jiffies_to_msecs}: exact when HZ divides 1000, rounded up otherwise. */
    public long jiffiesToMsecs(long j) {
        if (1000 % hz == 0) {
            return j * (1000 / hz);
        }
        return (j * 1000 + hz - 1) / hz;
    }

    // ---------------------------------------------------------------- softirq table

    public Runnable action(int vector) {
        return actions.getAcquire(vector);
    }

    /** {@code open_softirq} for a user: refused for vectors kdefer owns or already opened. */
    public synchronized void open(SoftirqVector vector, Runnable action) {
        checkOpen();
        int v = vector.ordinal();
        if (owned[v]) {
            throw new IllegalStateException("open_softirq(" + vector + "): kdefer owns this vector");
        }
        if (actions.get(v) != null) {
            throw new IllegalStateException("open_softirq(" + vector
                    + "): the vector already has an action (open_softirq is done once, at boot)");
        }
        actions.setRelease(v, action);
    }

    /** Installs the action of a vector kdefer itself serves (HI, TIMER, TASKLET). */
    public synchronized void openOwned(SoftirqVector vector, Runnable action) {
        int v = vector.ordinal();
        if (actions.get(v) != null) {
            throw new IllegalStateException("open_softirq(" + vector + "): already opened");
        }
        owned[v] = true;
        actions.setRelease(v, action);
    }

    public String vectorName(int vector) {
        return VECTORS[vector].name();
    }

    /** {@code raise_softirq()} on the caller's CPU. */
    public void raise(SoftirqVector vector) {
        CpuContext ctx = context();
        boolean section = enter(ctx);
        try {
            cpus[ctx.cpu].raise(vector.ordinal(), ctx);
        } finally {
            if (section) {
                exit(ctx);
            }
        }
    }

    /** {@code __raise_softirq_irqoff()} on the caller's CPU: marks the vector pending, wakes nobody. */
    public void raiseIrqoff(SoftirqVector vector) {
        CpuContext ctx = context();
        boolean section = enter(ctx);
        try {
            cpus[ctx.cpu].raiseIrqoff(vector.ordinal());
        } finally {
            if (section) {
                exit(ctx);
            }
        }
    }

    /**
     * Per-kernel singleton of a mechanism (the tasklet engine, later the timer bases...), created
     * on first use.
     */
    @SuppressWarnings("unchecked")
    public synchronized <T> T extension(int slot, Function<KernelRuntime, T> factory) {
        Object e = extensions[slot];
        if (e == null) {
            e = factory.apply(this);
            extensions[slot] = e;
        }
        return (T) e;
    }

    // ---------------------------------------------------------------- bottom halves

    public void localBhDisable() {
        CpuContext ctx = context();
        checkOpen();
        if (ctx.inHardirq()) {
            throw new IllegalStateException("local_bh_disable() called from hardirq context (the kernel WARNs)");
        }
        cpus[ctx.cpu].localBhDisable(ctx, Thread.currentThread());
    }

    public void localBhEnable() {
        CpuContext ctx = context();
        if (ctx.inHardirq()) {
            throw new IllegalStateException("local_bh_enable() called from hardirq context (the kernel WARNs)");
        }
        if ((ctx.count & CpuContext.SOFTIRQ_MASK) < CpuContext.SOFTIRQ_DISABLE_OFFSET
                || ((ctx.count & CpuContext.SOFTIRQ_MASK) == CpuContext.SOFTIRQ_OFFSET)) {
            throw new IllegalStateException("local_bh_enable() without a matching local_bh_disable() on this thread"
                    + " (preempt_count " + ctx.countHex() + ")");
        }
        cpus[ctx.cpu].localBhEnable(ctx);
    }

    // ---------------------------------------------------------------- cross-CPU calls

    /** {@code smp_call_function_single(cpu, fn, wait)}: runs {@code fn} in hardirq context on cpu. */
    public void smpCallFunctionSingle(int cpu, Runnable fn, boolean wait) {
        checkCpu(cpu);
        CpuContext ctx = context();
        Cpu target = cpus[cpu];
        Thread me = Thread.currentThread();
        if (me == target.cpuThread) {
            checkAccepting(ctx);
            target.cpuThread.runNested(fn);
            return;
        }
        if (wait && ctx.inHardirq()) {
            checkOpen();
            throw new IllegalStateException("smp_call_function_single(" + cpu
                    + ", wait=true) from hardirq context would deadlock (the kernel WARNs)");
        }
        CpuThread.Ipi ipi;
        boolean section = enter(ctx);
        try {
            ipi = target.cpuThread.send(fn, wait);
        } finally {
            if (section) {
                exit(ctx);
            }
        }
        // waits outside the section: the call is queued ahead of the drain's own calls to that
        // CPU, whose thread lives until they have run
        if (wait) {
            CpuThread.await(this, ipi);
        }
    }

    /** {@code work_on_cpu(cpu, fn)}: runs {@code fn} in task context on {@code cpu}, on this thread. */
    public <T> T workOnCpu(int cpu, Callable<T> fn) {
        checkCpu(cpu);
        CpuContext ctx = context();
        checkAccepting(ctx);
        if (!ctx.inTask() || ctx.inSoftirq()) {
            throw new IllegalStateException("work_on_cpu(" + cpu + ") sleeps: not allowed in atomic context"
                    + " (preempt_count " + ctx.countHex() + ")");
        }
        int saved = ctx.cpu;
        ctx.cpu = cpu;
        boolean leaked = false;
        try {
            return fn.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new CompletionException(e);
        } finally {
            // bottom halves disabled on this CPU must be enabled on it: give them back here
            while ((ctx.count & CpuContext.SOFTIRQ_MASK) >= CpuContext.SOFTIRQ_DISABLE_OFFSET) {
                leaked = true;
                cpus[cpu].localBhEnable(ctx);
            }
            ctx.cpu = saved;
            if (leaked) {
                throw new IllegalStateException("work_on_cpu(" + cpu
                        + "): the function returned with bottom halves disabled (re-enabled on cpu " + cpu + ")");
            }
        }
    }

    /** One timer tick on every CPU: a hardirq that ends with irq_exit. Called by the clock. */
    public void tick() {
        CpuContext ctx = context();
        int admitted = admit(ctx);
        if (admitted == REFUSED) {
            return;   // a clock that ticks on after close() began: the kernel no longer counts ticks
        }
        Thread me = Thread.currentThread();
        CpuThread.Ipi[] sent = new CpuThread.Ipi[nrCpus];
        try {
            for (int i = 0; i < nrCpus; i++) {
                Cpu c = cpus[i];
                if (me == c.cpuThread) {
                    c.cpuThread.runNested(c.tick);
                } else {
                    sent[i] = c.cpuThread.send(c.tick, true);
                }
            }
        } finally {
            if (admitted == IN_SECTION) {
                exit(ctx);
            }
        }
        for (CpuThread.Ipi ipi : sent) {
            if (ipi != null) {
                CpuThread.await(this, ipi);
            }
        }
        if (threadIrqs && !(me instanceof KThread)) {
            // forced threading: the tick's timer softirqs run in ktimers/N, after the hardirq
            for (Cpu c : cpus) {
                waitQueue.await(c, c::timersQuiet);
            }
        }
    }

    /**
     * The tick's hardirq work on one CPU ({@code update_process_times}): raise TIMER_SOFTIRQ when
     * a timer base has expired timers; the irq_exit that follows runs it.
     */
    void tickHardirq(Cpu cpu) {
        boolean awake = cpu.awakeSinceLastTick();
        TimerHooks hooks = timerHooks;
        if (hooks != null && hooks.tick(cpu.id, clock.jiffies(), awake)) {
            cpu.raiseTimerSoftirq();
        }
    }

    /** At the exit of a hardirq other than the tick: the CPU is awake, so due deferrable timers run. */
    void otherHardirq(Cpu cpu) {
        TimerHooks hooks = timerHooks;
        if (hooks != null && hooks.deferrableDue(cpu.id, clock.jiffies())) {
            cpu.raiseTimerSoftirq();
        }
    }

    /** Installs the timer wheel's hooks (once). */
    public synchronized void setTimerHooks(TimerHooks hooks) {
        if (timerHooks != null) {
            throw new IllegalStateException("timer hooks already installed");
        }
        timerHooks = hooks;
    }

    TimerHooks timerHooks() {
        return timerHooks;
    }

    /** Installs the interrupt lines' hooks (once). */
    public synchronized void setIrqHooks(IrqHooks hooks) {
        if (irqHooks != null) {
            throw new IllegalStateException("irq hooks already installed");
        }
        irqHooks = hooks;
    }

    IrqHooks irqHooks() {
        return irqHooks;
    }

    /** Wakes {@code cpu/N} so that it re-reads its next timer expiry (leaving tickless idle). */
    public void kickCpu(int cpu) {
        cpus[cpu].cpuThread.parker.wake();
    }

    // ---------------------------------------------------------------- errors

    public void reportError(Object source, Throwable error) {
        errors.incrementAndGet();
        try {
            errorHandler.onError(source, error);
        } catch (Throwable ignored) {
            // an error handler that throws must not take a kdefer thread down
        }
    }

    public long errorCount() {
        return errors.get();
    }

    public WaitQueue waitQueue() {
        return waitQueue;
    }

    // ---------------------------------------------------------------- lifecycle

    public boolean isClosing() {
        return (int) STATE.getVolatile(this) != RUNNING;
    }

    public boolean isClosed() {
        return (int) STATE.getVolatile(this) == CLOSED;
    }

    /** Refuses every call once the kernel is closed. */
    public void checkOpen() {
        if ((int) STATE.getVolatile(this) == CLOSED) {
            throw new IllegalStateException("kernel is closed");
        }
    }

    /**
     * Refuses new work from foreign threads once close() began, and every call once closed. A
     * check only: a call that goes on to queue work uses {@link #enter} instead (see "Entry
     * protocol").
     */
    public void checkAccepting(CpuContext ctx) {
        if (!accepts(ctx)) {
            throw refusal();
        }
    }

    /**
     * True when {@code ctx}'s thread may add work now: always while RUNNING; while CLOSING, only
     * kdefer threads and threads serving softirqs (callbacks, whose work the drain rounds see).
     */
    public boolean accepts(CpuContext ctx) {
        int s = (int) STATE.getVolatile(this);
        return s == RUNNING
                || (s == CLOSING && (ctx.kdeferThread || ctx.inServingSoftirq()));
    }

    /** The exception a refused call throws: names the state. */
    public IllegalStateException refusal() {
        return (int) STATE.getVolatile(this) == CLOSED
                ? new IllegalStateException("kernel is closed")
                : new IllegalStateException("kernel is closing: no new work is accepted from outside its threads");
    }

    private static final int REFUSED = -1;
    private static final int ACCEPTED = 0;
    private static final int IN_SECTION = 1;

    /**
     * The caller side of the entry protocol: {@link #IN_SECTION} when a foreign thread may queue and
     * is now in its entry section (it must call {@link #exit}); {@link #ACCEPTED} when a kdefer
     * thread, or a thread serving softirqs while the kernel drains, may queue without a section;
     * {@link #REFUSED} otherwise.
     */
    private int admit(CpuContext ctx) {
        if (!ctx.kdeferThread) {
            ctx.enterSection();
            if ((int) STATE.getVolatile(this) == RUNNING) {
                return IN_SECTION;
            }
            ctx.exitSection();
        }
        return accepts(ctx) ? ACCEPTED : REFUSED;
    }

    /**
     * Admits a call that is about to queue work: true when the caller is now in an entry section
     * and must call {@link #exit} once the work is queued (in a {@code finally}); false when it
     * may queue without one. Between the two the caller must not wait for anything.
     *
     * @throws IllegalStateException when the kernel is closing (foreign threads) or closed
     */
    public boolean enter(CpuContext ctx) {
        int a = admit(ctx);
        if (a == REFUSED) {
            throw refusal();
        }
        return a == IN_SECTION;
    }

    /** Ends the entry section {@link #enter} opened. */
    public void exit(CpuContext ctx) {
        ctx.exitSection();
    }

    /**
     * Opens an entry section without a state check, for a caller already admitted under a lock that
     * {@link #quiesceCallers} passes through, which must let go of that lock before it is done
     * queueing (a timer moving to another CPU's wheel). Foreign threads only; end it with
     * {@link #exit}.
     */
    public void extendSection(CpuContext ctx) {
        ctx.enterSection();
    }

    /**
     * The closer side of the entry protocol: after CLOSING is set, waits until every entry section
     * that may have seen RUNNING has ended. First every timer wheel lock is taken and released once
     * (arms hold it as their section), then each foreign context's section depth is read.
     */
    private void quiesceCallers() {
        TimerHooks hooks = timerHooks;
        if (hooks != null) {
            hooks.quiesce();
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

    /**
     * Runs everything still queued, stops and joins every thread (see "Lifecycle" and "Entry
     * protocol" above). Idempotent. Concurrent and nested calls:
     * <ul>
     *   <li>from several threads: the first to move the state to CLOSING closes; every other one
     *       waits until the kernel is CLOSED and returns;</li>
     *   <li>from a kdefer thread (a callback) or in atomic context: refused with
     *       {@link IllegalStateException}, since it would wait for itself;</li>
     *   <li>while another thread waits in a synchronous call ({@code Tasklet.disable/kill},
     *       {@code KernelTimer.deleteSync}, {@code synchronizeIrq}, {@code smpCallFunctionSingle(…,
     *       true)}, a tick): the drain runs what it waits for, so that call returns as it would
     *       have; such calls made after CLOSED throw.</li>
     * </ul>
     */
    public void close() {
        CpuContext ctx = context();
        if (ctx.kdeferThread) {
            throw new IllegalStateException("Kernel.close() called from " + Thread.currentThread().getName()
                    + ": a kernel cannot be closed from its own threads (it joins them)");
        }
        if (ctx.inSoftirq() || ctx.inHardirq()) {
            throw new IllegalStateException("Kernel.close() in atomic context (preempt_count " + ctx.countHex()
                    + "): it waits for every CPU's softirqs, including the ones this thread holds off");
        }
        if (!STATE.compareAndSet(this, RUNNING, CLOSING)) {
            waitQueue.await(this, this::isClosed);
            return;
        }
        IrqHooks irqs = irqHooks;
        try {
            quiesceCallers();
            if (irqs != null) {
                irqs.closing();
            }
            drain();
        } finally {
            if (irqs != null) {
                irqs.stopThreads();
            }
            for (Cpu c : cpus) {
                c.cpuThread.requestStop();
                c.ksoftirqd.requestStop();
                if (c.ktimers != null) {
                    c.ktimers.requestStop();
                }
            }
            boolean interrupted = false;
            for (Cpu c : cpus) {
                interrupted |= join(c.cpuThread);
                interrupted |= join(c.ksoftirqd);
                if (c.ktimers != null) {
                    interrupted |= join(c.ktimers);
                }
            }
            if (tick != null) {
                tick.requestStop();
                interrupted |= join(tick.thread());
            }
            STATE.setVolatile(this, CLOSED);
            waitQueue.wakeAll(this);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Drain rounds until a whole round saw no softirq invocation and no foreign call. Each round
     * sends every CPU a hardirq that flushes its inbox and, if timers are still armed there, raises
     * TIMER_SOFTIRQ, whose action (seeing the kernel closing) runs or reports them and shuts them
     * down; its irq exit runs whatever is pending.
     */
    private void drain() {
        for (int quiet = 0; quiet < 2; ) {
            long before = activity();
            for (Cpu c : cpus) {
                CpuThread.await(this, c.cpuThread.send(() -> {
                    TimerHooks hooks = timerHooks;
                    if (hooks != null && hooks.anyArmed(c.id)) {
                        c.raiseTimerSoftirq();
                    }
                }, true));
                waitQueue.await(c, () -> c.pendingVolatile() == 0 && !c.bhOwned() && c.timersQuiet());
            }
            IrqHooks irqs = irqHooks;
            if (irqs != null) {
                irqs.awaitThreadsIdle();
            }
            long after = activity();
            quiet = (after - before == nrCpus) ? quiet + 1 : 0;
        }
    }

    private long activity() {
        long sum = 0;
        for (Cpu c : cpus) {
            sum += c.stat(Cpu.STAT_IPIS) + c.stat(Cpu.STAT_INVOCATIONS);
        }
        IrqHooks irqs = irqHooks;
        return irqs == null ? sum : sum + irqs.activity();
    }

    private static boolean join(Thread t) {
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

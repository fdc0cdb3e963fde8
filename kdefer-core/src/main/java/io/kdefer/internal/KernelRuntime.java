package io.kdefer.internal;

import io.kdefer.Clock;
import io.kdefer.ErrorHandler;
import io.kdefer.IdleStrategy;
import io.kdefer.softirq.SoftirqVector;

import java.util.ArrayList;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The engine behind {@code io.kdefer.Kernel}: the virtual CPUs, the per-thread contexts, the
 * subsystems, inter-processor calls, the tick, and the lifecycle.
 *
 * <h2>Implementation overview</h2>
 *
 * <p><b>Contexts.</b> A kdefer thread carries its {@link CpuContext} in a field; any other thread
 * (a "task") gets one from a thread-local on first use, with a home CPU derived from its thread
 * id, which {@link #workOnCpu} may override for the duration of a call.
 *
 * <p><b>Subsystems.</b> Every mechanism (the softirq table, tasklets, timers, interrupt lines)
 * is a {@link Subsystem}, built eagerly by {@link #install} in the order of
 * {@link Subsystems.Kind}; the tick, the idle loop, the drain and {@code close()} loop over them.
 *
 * <p><b>Lifecycle.</b> {@code RUNNING -> CLOSING -> CLOSED}; calls from outside the kernel's threads
 * that queue work follow an entry protocol so that each is refused or served. Both are described,
 * with their ordering argument, in {@link Lifecycle}.
 *
 * <p>Field access codes: {@code F} final; {@code A} atomic; {@code S} set once by {@link #install},
 * before {@link #start} starts the threads that read it (Thread.start orders it), and before the
 * kernel's constructor returns (which publishes it through the kernel's final field).
 *
 * <p><b>Deviations from Linux.</b> {@link #runOnCpu} (a kdefer addition; {@code work_on_cpu} itself
 * runs on a kworker, see {@code Kernel.workOnCpu}) switches the calling thread's current CPU.
 * {@code smp_call_function_single} to the
 * caller's own CPU from its {@code cpu/N} thread runs nested, as a local call does in the kernel;
 * from any other thread it is queued to {@code cpu/N}.
 */
public final class KernelRuntime {
    public static final int NR_SOFTIRQS = 10;

    public final int nrCpus;                 // F
    public final int hz;                     // F
    public final Clock clock;                // F
    public final boolean faithful;           // F
    public final long maxSoftirqTime;        // F: msecs_to_jiffies(2), or the builder's budget
    /** F: passes per invocation of the softirq loop ({@code MAX_SOFTIRQ_RESTART}, or the builder's). */
    public final int maxSoftirqRestart;
    final IdleStrategy idleStrategy;         // F
    private final ErrorHandler errorHandler; // F
    final WaitQueue waitQueue = new WaitQueue();  // F
    private final Cpu[] cpus;                // F
    private final ThreadLocal<CpuContext> foreign;              // F
    private final AtomicLong errors = new AtomicLong();         // A
    /** F: the state word, the entry protocol and close(). */
    final Lifecycle lifecycle = new Lifecycle(this);
    /** F: the softirq action table and the shared bottom-half vectors; the first subsystem. */
    public final SoftirqTable softirqs;
    /** S: every subsystem, in build order; set by {@link #install} before {@link #start}. */
    private Subsystem[] subsystems = new Subsystem[0];
    /** S: the subsystems whose {@link Subsystem#wakesCpus()} is true (the idle loop asks only these). */
    private Subsystem[] wakers = new Subsystem[0];
    /** S: the interrupt lines' flow handler, registered by their subsystem. */
    private IrqFlow irqFlow;

    /** F: close() runs armed timers once (true) or reports them (false). */
    public final boolean runTimersOnClose;
    /** F: forced interrupt threading ({@code threadirqs}). */
    public final boolean threadIrqs;
    /** F: the tick's copy of jiffies for the softirq budget; null for a clock that does not move by itself. */
    public final JiffiesTick tick;

    public KernelRuntime(int nrCpus, int hz, Clock clock, boolean faithful, IdleStrategy idle,
                         ErrorHandler errorHandler, boolean runTimersOnClose, boolean threadIrqs,
                       int maxSoftirqRestart, long maxSoftirqMillis) {
        this.runTimersOnClose = runTimersOnClose;
        this.threadIrqs = threadIrqs;
        this.nrCpus = nrCpus;
        this.hz = hz;
        this.clock = clock;
        this.faithful = faithful;
        this.idleStrategy = idle;
        this.errorHandler = errorHandler;
        this.maxSoftirqRestart = maxSoftirqRestart;
        // far enough for "no limit" without overflowing jiffies arithmetic
        this.maxSoftirqTime = maxSoftirqMillis == Long.MAX_VALUE ? Long.MAX_VALUE / 4 : msecsToJiffies(maxSoftirqMillis);
        this.tick = clock.nanoTimeOf(clock.jiffies()) != 0 ? new JiffiesTick(clock) : null;
        this.foreign = ThreadLocal.withInitial(() -> lifecycle.register(
                new CpuContext((int) Math.floorMod(Thread.currentThread().getId(), (long) nrCpus), false)));
        this.softirqs = new SoftirqTable(this);
        this.cpus = new Cpu[nrCpus];
        for (int i = 0; i < nrCpus; i++) {
            cpus[i] = new Cpu(this, i);
        }
    }

    /**
     * Builds every subsystem, in the order of {@link Subsystems.Kind}, after the softirq table.
     * Called once by {@code io.kdefer.Kernel}, before {@link #start}: the threads started there see
     * the result.
     *
     * @param kernel the {@code io.kdefer.Kernel} being built
     */
    public void install(Object kernel) {
        if (subsystems.length != 0) {
            throw new IllegalStateException("subsystems already installed");
        }
        Subsystems.Kind[] kinds = Subsystems.Kind.values();
        Subsystem[] all = new Subsystem[kinds.length + 1];
        all[0] = softirqs;
        for (int i = 0; i < kinds.length; i++) {
            all[i + 1] = Subsystems.factory(kinds[i]).create(kernel, this);
        }
        ArrayList<Subsystem> w = new ArrayList<>();
        for (Subsystem s : all) {
            if (s.wakesCpus()) {
                w.add(s);
            }
        }
        if (irqFlow == null) {
            throw new IllegalStateException("no interrupt flow handler was registered by " + Subsystems.Kind.IRQS);
        }
        subsystems = all;
        wakers = w.toArray(new Subsystem[0]);
    }

    /** Every subsystem, in build order. */
    Subsystem[] subsystems() {
        return subsystems;
    }

    /** The subsystem of type {@code type} (one per kind). */
    public <T extends Subsystem> T subsystem(Class<T> type) {
        for (Subsystem s : subsystems) {
            if (type.isInstance(s)) {
                return type.cast(s);
            }
        }
        throw new IllegalStateException("no " + type.getSimpleName() + " in this kernel");
    }

    /** Registers the interrupt lines' flow handler; once, while the subsystems are built. */
    public void setIrqFlow(IrqFlow flow) {
        if (irqFlow != null || subsystems.length != 0) {
            throw new IllegalStateException("the interrupt flow handler is set once, at build");
        }
        irqFlow = flow;
    }

    IrqFlow irqFlow() {
        return irqFlow;
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

    // ---------------------------------------------------------------- raising softirqs

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
     * Raises {@code vector} on {@code cpu} from any context: on the caller's own CPU as
     * {@link #raise} does; on another CPU through a hardirq sent there (the kernel's per-CPU
     * {@code irq_work}), whose irq exit runs the vector. The caller is admitted (entry protocol).
     */
    public void raiseOn(int cpu, SoftirqVector vector, CpuContext ctx) {
        Cpu c = cpus[cpu];
        int v = vector.ordinal();
        if (ctx.cpu == cpu) {
            c.raise(v, ctx);
        } else {
            c.cpuThread.send(() -> c.raiseIrqoff(v), false);
        }
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

    /** Runs {@code fn} in task context on {@code cpu}, on this thread ({@code Kernel.runOnCpu}). */
    public <T> T runOnCpu(int cpu, Callable<T> fn) {
        checkCpu(cpu);
        CpuContext ctx = context();
        checkAccepting(ctx);
        if (!ctx.inTask() || ctx.inSoftirq()) {
            throw new IllegalStateException("runOnCpu(" + cpu + ") may sleep: not allowed in atomic context"
                    + " (preempt_count " + ctx.countHex() + ")");
        }
        int saved = ctx.cpu;
        ctx.cpu = cpu;
        try {
            return fn.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new CompletionException(e);
        } finally {
            // bottom halves disabled on this CPU must be enabled on it: give them back here
            boolean leaked = giveBackBottomHalves(ctx);
            ctx.cpu = saved;
            if (leaked) {
                throw new IllegalStateException("runOnCpu(" + cpu
                        + "): the function returned with bottom halves disabled (re-enabled on cpu " + cpu + ")");
            }
        }
    }

    /**
     * Enables, on {@code ctx}'s current CPU, the bottom halves a function left disabled when it
     * returned ({@code work_on_cpu}, {@code runOnCpu}): its caller must not carry the CPU's
     * bottom-half ownership away. True when there were any.
     */
    public boolean giveBackBottomHalves(CpuContext ctx) {
        boolean leaked = false;
        while ((ctx.count & CpuContext.SOFTIRQ_MASK) >= CpuContext.SOFTIRQ_DISABLE_OFFSET) {
            leaked = true;
            cpus[ctx.cpu].localBhEnable(ctx);
        }
        return leaked;
    }

    /** One timer tick on every CPU: a hardirq that ends with irq_exit. Called by the clock. */
    public void tick() {
        CpuContext ctx = context();
        int admitted = lifecycle.admit(ctx);
        if (admitted == Lifecycle.REFUSED) {
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
            if (admitted == Lifecycle.IN_SECTION) {
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
        long now = clock.jiffies();
        boolean raise = false;
        for (Subsystem s : subsystems) {
            raise |= s.tick(cpu.id, now, awake);
        }
        if (raise) {
            cpu.raiseTimerSoftirq();
        }
    }

    /** At the exit of a hardirq other than the tick: the CPU is awake, so due deferrable timers run. */
    void otherHardirq(Cpu cpu) {
        boolean raise = false;
        for (Subsystem s : wakers) {
            raise |= s.hardirqExit(cpu.id, clock.jiffies());
        }
        if (raise) {
            cpu.raiseTimerSoftirq();
        }
    }

    /** The earliest exact wake-up any subsystem needs on {@code cpu}; {@link Subsystem#NONE}. */
    long nextWakeup(int cpu) {
        return nextWakeup(cpu, true);
    }

    /** As {@link #nextWakeup}, from the lock-free hints (possibly early). */
    long nextWakeupHint(int cpu) {
        return nextWakeup(cpu, false);
    }

    private long nextWakeup(int cpu, boolean exact) {
        long next = Subsystem.NONE;
        for (Subsystem s : wakers) {
            long n = exact ? s.nextWakeup(cpu) : s.nextWakeupHint(cpu);
            if (n != Subsystem.NONE && (next == Subsystem.NONE || n - next < 0)) {
                next = n;
            }
        }
        return next;
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

    // ---------------------------------------------------------------- lifecycle (see Lifecycle)

    public boolean isClosing() {
        return lifecycle.isClosing();
    }

    public boolean isClosed() {
        return lifecycle.isClosed();
    }

    /** Refuses every call once the kernel is closed. */
    public void checkOpen() {
        lifecycle.checkOpen();
    }

    /**
     * Refuses new work from foreign threads once close() began, and every call once closed. A
     * check only: a call that goes on to queue work uses {@link #enter} instead (the entry
     * protocol, see {@link Lifecycle}).
     */
    public void checkAccepting(CpuContext ctx) {
        if (!lifecycle.accepts(ctx)) {
            throw lifecycle.refusal();
        }
    }

    /** True when {@code ctx}'s thread (the caller) may add work now (see {@code Lifecycle.accepts}). */
    public boolean accepts(CpuContext ctx) {
        return lifecycle.accepts(ctx);
    }

    /** The exception a refused call throws: names the state. */
    public IllegalStateException refusal() {
        return lifecycle.refusal();
    }

    /**
     * Admits a call that is about to queue work: true when the caller is now in an entry section
     * and must call {@link #exit} once the work is queued (in a {@code finally}); false when it
     * may queue without one. Between the two the caller must not wait for anything.
     *
     * @throws IllegalStateException when the kernel is closing (foreign threads) or closed
     */
    public boolean enter(CpuContext ctx) {
        return lifecycle.enter(ctx);
    }

    /** Ends the entry section {@link #enter} opened. */
    public void exit(CpuContext ctx) {
        ctx.exitSection();
    }

    /**
     * Opens an entry section without a state check, for a caller already admitted under a lock that
     * close() passes through ({@link Subsystem#quiesceCallers}), which must let go of that lock
     * before it is done queueing (a timer moving to another CPU's wheel). Foreign threads only;
     * end it with {@link #exit}.
     */
    public void extendSection(CpuContext ctx) {
        ctx.enterSection();
    }

    /**
     * Runs everything still queued, stops and joins every thread (see {@link Lifecycle}).
     * Idempotent. Concurrent and nested calls:
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
        lifecycle.close();
    }

    /** Stops and joins the CPUs' threads and the tick; true if the caller was interrupted meanwhile. */
    boolean stopCpus() {
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
        return interrupted;
    }

    /** Joins {@code t}, uninterruptibly; true if the caller was interrupted meanwhile. */
    public static boolean join(Thread t) {
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

package io.kdefer;

import io.kdefer.internal.Cpu;
import io.kdefer.internal.CpuContext;
import io.kdefer.internal.JiffiesTick;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Secrets;
import io.kdefer.irq.Irqs;
import io.kdefer.legacy.BottomHalves;
import io.kdefer.legacy.ClassicWorkqueue;
import io.kdefer.legacy.Keventd;
import io.kdefer.legacy.Legacy;
import io.kdefer.legacy.TaskQueue;
import io.kdefer.softirq.Softirqs;
import io.kdefer.tasklet.Tasklet;
import io.kdefer.tasklet.TaskletBackend;
import io.kdefer.timer.KernelTimer;
import io.kdefer.workqueue.DelayedWork;
import io.kdefer.workqueue.Work;
import io.kdefer.workqueue.Workqueue;
import io.kdefer.workqueue.Workqueues;
import io.kdefer.workqueue.WqFlag;

import java.lang.invoke.MethodHandles;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * A kernel: N virtual CPUs, each with an interrupt-context thread {@code cpu/N} and a
 * {@code ksoftirqd/N} thread, and the deferred-work mechanisms that run on them.
 *
 * <pre>{@code
 * try (Kernel kernel = Kernel.builder().cpus(2).build()) {
 *     Tasklet t = Tasklet.setup(kernel, self -> System.out.println("ran on cpu " + kernel.smpProcessorId()));
 *     t.schedule();          // runs soon, in softirq context, on the caller's CPU
 * }                          // close(): runs what is still queued, joins every thread
 * }</pre>
 *
 * <h2>Which CPU is "current"</h2>
 * A kdefer thread knows its CPU. Any other thread (a task) has a stable home CPU derived from its
 * thread id; {@link #runOnCpu} runs code in task context on a chosen CPU (on the calling thread), {@link #workOnCpu} on a worker of that CPU, and
 * {@link #smpCallFunctionSingle} runs code in hardirq context on one.
 *
 * <h2>Context</h2>
 * The context predicates ({@link #inInterrupt()}, {@link #inHardirq()}, {@link #inSoftirq()},
 * {@link #inServingSoftirq()}, {@link #inTask()}) read the calling thread's preempt-count word,
 * with the kernel's fields and meanings ({@code include/linux/preempt.h}).
 *
 * <h2>Closing</h2>
 * {@link #close()} stops accepting work from outside, runs every queued tasklet and pending
 * softirq (work that callbacks add while it drains is run too), deals with armed timers as the
 * {@link TimerClosePolicy} says (report, or run once now), joins every thread it started and
 * returns; afterwards every call fails with {@link IllegalStateException} (queries of the
 * configuration and {@link #stats()} still answer). A tasklet that is disabled while scheduled can
 * never run: close reports it to the error handler and drops it.
 */
public final class Kernel implements AutoCloseable {
    static {
        Secrets.setRuntimeAccess(k -> ((Kernel) k).rt);
        // each mechanism's entry class provides its subsystem's factory when it is initialised
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            lookup.ensureInitialized(Tasklet.class);
            lookup.ensureInitialized(KernelTimer.class);
            lookup.ensureInitialized(Irqs.class);
            lookup.ensureInitialized(Workqueues.class);
            lookup.ensureInitialized(Legacy.class);
        } catch (IllegalAccessException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final KernelRuntime rt;
    private final Softirqs softirqs;
    private volatile Irqs irqs;
    private final Workqueues workqueues;
    private final Legacy legacy;
    private final TaskletBackend taskletBackend;
    private final int wqWatchdogThresh;
    private final boolean debugObjects;

    private Kernel(Builder b) {
        Clock clock = b.clock != null ? b.clock : Clock.system();
        // bind first, so the runtime sees the clock's jiffies from its first call
        KernelRuntime[] self = new KernelRuntime[1];
        clock.bind(b.hz, () -> self[0].tick());
        this.rt = new KernelRuntime(b.cpus, b.hz, clock, b.faithful, b.idle, b.errorHandler,
                b.timersOnClose == TimerClosePolicy.RUN, b.threadIrqs, b.softirqPasses, b.softirqMillis);
        self[0] = rt;
        this.taskletBackend = b.taskletBackend;
        this.wqWatchdogThresh = b.wqWatchdogThresh;
        this.debugObjects = b.debugObjects;
        rt.install(this);
        this.softirqs = rt.softirqs;
        this.workqueues = Workqueues.of(this);
        this.legacy = Legacy.of(this);
        rt.start();
    }

    /** A kernel with every default: one CPU per available processor, HZ 1000, the system clock. */
    public static Kernel start() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Configures a {@link Kernel}. */
    public static final class Builder {
        private int cpus = Runtime.getRuntime().availableProcessors();
        private int hz = 1000;
        private Clock clock;
        private boolean faithful;
        private IdleStrategy idle = IdleStrategy.park();
        private ErrorHandler errorHandler = ErrorHandler.logging();
        private TimerClosePolicy timersOnClose = TimerClosePolicy.REPORT;
        private boolean threadIrqs;
        private TaskletBackend taskletBackend = TaskletBackend.SOFTIRQ;
        private int wqWatchdogThresh = 30;
        private boolean debugObjects;
        private int softirqPasses = io.kdefer.internal.Cpu.MAX_SOFTIRQ_RESTART;
        private long softirqMillis = 2;

        private Builder() {
        }

        /** Number of virtual CPUs (1..4096). Default: available processors. */
        public Builder cpus(int cpus) {
            if (cpus < 1 || cpus > 4096) {
                throw new IllegalArgumentException("cpus must be in 1..4096: " + cpus);
            }
            this.cpus = cpus;
            return this;
        }

        /** Ticks per second: 100, 250, 300 or 1000 (the kernel's choices). Default 1000. */
        public Builder hz(int hz) {
            if (hz != 100 && hz != 250 && hz != 300 && hz != 1000) {
                throw new IllegalArgumentException("HZ must be 100, 250, 300 or 1000: " + hz);
            }
            this.hz = hz;
            return this;
        }

        /** Source of jiffies. Default: {@link Clock#system()}. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Faithful mode: where the kernel hangs, self-deadlocks or misbehaves silently (killing a
         * disabled and scheduled tasklet, {@code tasklet_disable} from its own callback, an
         * unbalanced {@code tasklet_enable}), reproduce it instead of throwing
         * {@link IllegalStateException}. Default false.
         */
        public Builder faithful(boolean faithful) {
            this.faithful = faithful;
            return this;
        }

        /** What idle kdefer threads do. Default {@link IdleStrategy#park()}. */
        public Builder idleStrategy(IdleStrategy idle) {
            this.idle = Objects.requireNonNull(idle, "idle");
            return this;
        }

        /** Receives exceptions thrown by callbacks. Default {@link ErrorHandler#logging()}. */
        public Builder errorHandler(ErrorHandler handler) {
            this.errorHandler = Objects.requireNonNull(handler, "handler");
            return this;
        }

        /** What {@link Kernel#close()} does with armed timers. Default {@link TimerClosePolicy#REPORT}. */
        public Builder timersOnClose(TimerClosePolicy policy) {
            this.timersOnClose = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Forced interrupt threading, the kernel's {@code threadirqs} boot option (always on with
         * PREEMPT_RT): primary handlers run in their {@code irq/N-name} threads with bottom halves
         * disabled, softirqs are never run on irq exit but left to {@code ksoftirqd/N}, and timer
         * softirqs run in a per-CPU {@code ktimers/N} thread. Default false.
         */
        public Builder threadIrqs(boolean threadIrqs) {
            this.threadIrqs = threadIrqs;
            return this;
        }

        /**
         * What carries tasklet runs: the softirq lists (default), BH work items (Linux 6.9+), or a
         * process-context workqueue (the 2007 proposal). See {@link TaskletBackend}.
         */
        public Builder taskletBackend(TaskletBackend backend) {
            this.taskletBackend = Objects.requireNonNull(backend, "backend");
            return this;
        }

        /**
         * The workqueue lockup watchdog's threshold in seconds ({@code workqueue.watchdog_thresh}):
         * a pool whose waiting items make no progress for this long is reported to the error
         * handler with the stuck worker's item and stack. 0 turns it off. Default 30.
         */
        public Builder workqueueWatchdogThresh(int seconds) {
            if (seconds < 0) {
                throw new IllegalArgumentException("watchdog threshold must be >= 0 seconds: " + seconds);
            }
            this.wqWatchdogThresh = seconds;
            return this;
        }

        /**
         * {@code CONFIG_DEBUG_OBJECTS}: the kernel keeps a (weak) registry of the objects it tracks,
         * so that its consistency check ({@link KernelCheck}) can also find a tasklet whose SCHED bit
         * is set while it is on no list. Costs a registration per tasklet created. The test kit turns
         * it on. Default false.
         */
        public Builder debugObjects(boolean debugObjects) {
            this.debugObjects = debugObjects;
            return this;
        }

        /**
         * The softirq loop's budget: one invocation makes at most {@code maxPasses} passes and
         * restarts only until {@code maxTime} (in jiffies, rounded up) has passed; what is still
         * pending then goes to {@code ksoftirqd/N}. Default: the kernel's 10 passes and 2 ms
         * ({@code MAX_SOFTIRQ_RESTART}, {@code MAX_SOFTIRQ_TIME}). BH workqueue items share the
         * time limit. For experiments; see {@link #noSoftirqBudget()}.
         */
        public Builder softirqBudget(int maxPasses, java.time.Duration maxTime) {
            if (maxPasses < 1) {
                throw new IllegalArgumentException("softirq budget: passes per invocation must be >= 1: " + maxPasses);
            }
            Objects.requireNonNull(maxTime, "maxTime");
            if (maxTime.isNegative()) {
                throw new IllegalArgumentException("softirq budget: time must not be negative: " + maxTime);
            }
            this.softirqPasses = maxPasses;
            long ms = maxTime.toMillis();
            this.softirqMillis = maxTime.minusMillis(ms).isZero() ? ms : ms + 1;
            return this;
        }

        /**
         * No softirq budget: the loop restarts as long as anything is pending, so a vector that keeps
         * re-raising itself holds its CPU's interrupt exit until it stops, and {@code ksoftirqd/N}
         * only runs what is raised from task context. Not a kernel configuration: the lab's
         * comparison for what the budget buys.
         */
        public Builder noSoftirqBudget() {
            this.softirqPasses = Integer.MAX_VALUE;
            this.softirqMillis = Long.MAX_VALUE;
            return this;
        }

        /** Builds and starts the kernel: its threads run from here on. */
        public Kernel build() {
            return new Kernel(this);
        }
    }

    // ---------------------------------------------------------------- configuration

    /** {@code nr_cpu_ids}. */
    public int nrCpus() {
        return rt.nrCpus;
    }

    /** {@code HZ}. */
    public int hz() {
        return rt.hz;
    }

    /** {@code jiffies}. */
    public long jiffies() {
        long j = rt.clock.jiffies();
        JiffiesTick tick = rt.tick;
        if (tick != null) {
            tick.observe(j);   // one jiffies for all: what a callback reads, the softirq budget counts
        }
        return j;
    }

    /** The clock this kernel reads. */
    public Clock clock() {
        return rt.clock;
    }

    /** Whether the kernel reproduces kernel hangs instead of throwing (see {@link Builder#faithful}). */
    public boolean faithful() {
        return rt.faithful;
    }

    /** {@code msecs_to_jiffies()}: rounds up, so a delay is never shorter than asked. */
    public long msecsToJiffies(long ms) {
        return rt.msecsToJiffies(ms);
    }

    /** {@code jiffies_to_msecs()}. */
    public long jiffiesToMsecs(long j) {
        return rt.jiffiesToMsecs(j);
    }

    /** {@code usecs_to_jiffies()}: rounds up. */
    public long usecsToJiffies(long us) {
        return Jiffies.usecsToJiffies(us, rt.hz);
    }

    /** {@code round_jiffies()} for the caller's CPU (see {@link Jiffies#roundJiffies}). */
    public long roundJiffies(long j) {
        return Jiffies.roundJiffies(j, smpProcessorId(), rt.hz, jiffies());
    }

    /** {@code round_jiffies_up()} for the caller's CPU. */
    public long roundJiffiesUp(long j) {
        return Jiffies.roundJiffiesUp(j, smpProcessorId(), rt.hz, jiffies());
    }

    /**
     * {@code schedule_timeout()} in {@code TASK_INTERRUPTIBLE} state: sleeps until {@code timeout}
     * jiffies have passed (a kernel timer wakes the caller) or the thread is interrupted (the
     * kernel's signal). Returns the jiffies left, 0 when the full timeout passed.
     * {@link Jiffies#MAX_SCHEDULE_TIMEOUT} sleeps until interrupted. Task context only.
     */
    public long scheduleTimeout(long timeout) {
        return Sleeps.scheduleTimeout(this, rt, timeout, true);
    }

    /**
     * {@code msleep()}: sleeps, uninterruptibly, at least {@code msecsToJiffies(ms) + 1} jiffies, so
     * never less than {@code ms}. Task context only.
     */
    public void msleep(long ms) {
        long left = rt.msecsToJiffies(ms) + 1;
        while (left > 0) {
            left = Sleeps.scheduleTimeout(this, rt, left, false);
        }
    }

    // ---------------------------------------------------------------- context

    /** {@code smp_processor_id()}: the calling thread's current virtual CPU. */
    public int smpProcessorId() {
        return rt.context().cpu;
    }

    /** {@code in_interrupt()}: hardirq, serving softirq, or bottom halves disabled. */
    public boolean inInterrupt() {
        return rt.context().inInterrupt();
    }

    /** {@code in_hardirq()}. */
    public boolean inHardirq() {
        return rt.context().inHardirq();
    }

    /** {@code in_softirq()}: serving softirqs or bottom halves disabled. */
    public boolean inSoftirq() {
        return rt.context().inSoftirq();
    }

    /** {@code in_serving_softirq()}: inside a softirq action (also in ksoftirqd). */
    public boolean inServingSoftirq() {
        return rt.context().inServingSoftirq();
    }

    /** {@code in_task()}: not in hardirq, not serving softirqs. */
    public boolean inTask() {
        return rt.context().inTask();
    }

    /** The calling thread's preempt-count word ({@code preempt_count()}). */
    public int preemptCount() {
        return rt.context().count;
    }

    /**
     * {@code local_bh_disable()}: no softirq runs on the current CPU until the matching
     * {@link #localBhEnable()}. Nestable. A task thread waits here while another thread runs this
     * CPU's softirqs. Rejected in hardirq context.
     */
    public void localBhDisable() {
        rt.localBhDisable();
    }

    /**
     * {@code local_bh_enable()}: the outermost enable runs the softirqs raised meanwhile, on this
     * thread, before it returns. Rejected in hardirq context and without a matching disable.
     */
    public void localBhEnable() {
        rt.localBhEnable();
    }

    /**
     * {@code work_on_cpu()}: runs {@code fn} on a kernel worker of {@code cpu} (the per-CPU system
     * workqueue's {@code kworker/N:M}, in task context) and waits for it, as the kernel does: the
     * caller sleeps meanwhile (a worker calling it hands its CPU to another worker). Checked
     * exceptions come back wrapped in {@link java.util.concurrent.CompletionException}; a function
     * that returns with bottom halves disabled has them re-enabled and the call throws
     * {@link IllegalStateException}. Not allowed in atomic context. To run code on a chosen CPU
     * on the calling thread instead, use {@link #runOnCpu}.
     */
    public <T> T workOnCpu(int cpu, Callable<T> fn) {
        Objects.requireNonNull(fn, "fn");
        rt.checkCpu(cpu);
        CpuContext ctx = rt.context();
        rt.checkAccepting(ctx);
        if (!ctx.inTask() || ctx.inSoftirq()) {
            throw new IllegalStateException("work_on_cpu(" + cpu + ") sleeps: not allowed in atomic context"
                    + " (preempt_count " + ctx.countHex() + ")");
        }
        final Object[] out = new Object[2];   // result, throwable: published by the flush
        Work w = new Work(self -> {
            CpuContext c = rt.context();
            try {
                out[0] = fn.call();
            } catch (Throwable t) {
                out[1] = t;
            } finally {
                if (rt.giveBackBottomHalves(c) && out[1] == null) {
                    out[1] = new IllegalStateException("work_on_cpu(" + cpu
                            + "): the function returned with bottom halves disabled (re-enabled on cpu " + cpu + ")");
                }
            }
        });
        workqueues.systemWq().queueOn(cpu, w);
        w.flush();
        Throwable t = (Throwable) out[1];
        if (t instanceof RuntimeException) {
            throw (RuntimeException) t;
        }
        if (t instanceof Error) {
            throw (Error) t;
        }
        if (t != null) {
            throw new java.util.concurrent.CompletionException(t);
        }
        @SuppressWarnings("unchecked")
        T result = (T) out[0];
        return result;
    }

    /**
     * Runs {@code fn} in task context with {@link #smpProcessorId()} equal to {@code cpu}, on the
     * calling thread, and returns its result: a kdefer addition for placing code on a CPU exactly
     * (tests, tools), where {@link #workOnCpu} would hand it to a worker thread. Checked exceptions
     * come back wrapped in {@link java.util.concurrent.CompletionException}; bottom halves the
     * function left disabled are re-enabled on that CPU and the call throws
     * {@link IllegalStateException}. Not allowed in atomic context.
     */
    public <T> T runOnCpu(int cpu, Callable<T> fn) {
        Objects.requireNonNull(fn, "fn");
        return rt.runOnCpu(cpu, fn);
    }

    /**
     * {@code smp_call_function_single()}: runs {@code fn} in hardirq context on {@code cpu}'s
     * {@code cpu/N} thread; the softirqs it raises run on that CPU's irq exit. With {@code wait},
     * returns after both, and rethrows what {@code fn} threw; without, failures go to the error
     * handler. From {@code cpu/N} itself the call runs nested, at once.
     *
     * <p>Memory ordering: the caller's writes before the call are visible to {@code fn}; with
     * {@code wait}, {@code fn}'s writes (and those of the softirqs of its irq exit) are visible to
     * the caller after the call returns.
     * <pre>
     *   T0: x = 1; smpCallFunctionSingle(cpu, fn, true); r1 = y     fn: r0 = x; y = 1
     *   Forbidden: r0 != 1, or r1 != 1
     * </pre>
     * Verified by {@code kdefer-jcstress: SmpCallFunctionSinglePublishesBothWaysTest}.
     *
     * @throws IllegalStateException from a thread outside the kernel once {@link #close()} began
     *         (the call is then not made); a call that returns normally runs, even if close() began
     *         right after it
     */
    public void smpCallFunctionSingle(int cpu, Runnable fn, boolean wait) {
        Objects.requireNonNull(fn, "fn");
        rt.smpCallFunctionSingle(cpu, fn, wait);
    }

    /**
     * {@code resched_curr()}: marks the task on {@code cpu} as needing a reschedule. A softirq loop
     * running there stops restarting and hands its remaining work to {@code ksoftirqd}; the mark is
     * cleared when {@code ksoftirqd} gets to run. The JVM has no scheduler ticks to set it, so
     * this is how a program (or a test) says "something more important wants this CPU".
     */
    public void setNeedResched(int cpu) {
        rt.checkCpu(cpu);
        rt.cpu(cpu).setNeedResched();
    }

    // ---------------------------------------------------------------- mechanisms

    /** The softirq table: open, raise, per-CPU counts ({@code /proc/softirqs}). */
    public Softirqs softirqs() {
        rt.checkOpen();
        return softirqs;
    }

    /**
     * The interrupt lines: request handlers, raise lines as a device would, {@code /proc/interrupts}.
     */
    public Irqs irqs() {
        rt.checkOpen();
        Irqs i = irqs;
        if (i == null) {
            synchronized (this) {
                i = irqs;
                if (i == null) {
                    i = Irqs.of(this);
                    irqs = i;
                }
            }
        }
        return i;
    }

    // ---------------------------------------------------------------- workqueues

    /** This kernel's workqueues (system queues, allocation, {@code current_work()}). */
    public Workqueues workqueues() {
        return workqueues;
    }

    /** {@code system_wq} / {@code system_percpu_wq}: "events", per-CPU. */
    public Workqueue systemWq() {
        return workqueues.systemWq();
    }

    /** {@code system_percpu_wq} (6.17+), the same queue as {@link #systemWq()}. */
    public Workqueue systemPercpuWq() {
        return workqueues.systemWq();
    }

    /** {@code system_highpri_wq}: "events_highpri". */
    public Workqueue systemHighpriWq() {
        return workqueues.systemHighpriWq();
    }

    /** {@code system_long_wq}: "events_long". */
    public Workqueue systemLongWq() {
        return workqueues.systemLongWq();
    }

    /** {@code system_unbound_wq}: "events_unbound". */
    public Workqueue systemUnboundWq() {
        return workqueues.systemUnboundWq();
    }

    /** {@code system_dfl_wq} (6.17+), the same queue as {@link #systemUnboundWq()}. */
    public Workqueue systemDflWq() {
        return workqueues.systemUnboundWq();
    }

    /** {@code system_bh_wq}: "events_bh", items in TASKLET_SOFTIRQ. */
    public Workqueue systemBhWq() {
        return workqueues.systemBhWq();
    }

    /** {@code system_bh_highpri_wq}: "events_bh_highpri", items in HI_SOFTIRQ. */
    public Workqueue systemBhHighpriWq() {
        return workqueues.systemBhHighpriWq();
    }

    /** {@code alloc_workqueue()}; see {@link Workqueues#alloc}. */
    public Workqueue allocWorkqueue(String name, int maxActive, WqFlag... flags) {
        return workqueues.alloc(name, maxActive, flags);
    }

    /** {@code alloc_ordered_workqueue()}; see {@link Workqueues#allocOrdered}. */
    public Workqueue allocOrderedWorkqueue(String name, WqFlag... flags) {
        return workqueues.allocOrdered(name, flags);
    }

    /** {@code schedule_work(w)}: {@code queue_work(system_wq, w)}. */
    public boolean scheduleWork(Work work) {
        return workqueues.systemWq().queue(work);
    }

    /** {@code schedule_delayed_work(dw, delay)}: {@code queue_delayed_work(system_wq, dw, delay)}. */
    public boolean scheduleDelayedWork(DelayedWork dwork, long delay) {
        return workqueues.systemWq().queueDelayed(dwork, delay);
    }

    /** {@code schedule_on_each_cpu(fn)}; see {@link Workqueues#scheduleOnEachCpu}. */
    public void scheduleOnEachCpu(java.util.function.Consumer<Work> fn) {
        workqueues.scheduleOnEachCpu(fn);
    }

    /** {@code execute_in_process_context()}: true when {@code fn} ran now, false when queued. */
    public boolean executeInProcessContext(Runnable fn) {
        return workqueues.executeInProcessContext(fn);
    }

    /** {@code current_work()}: the item the calling thread executes as a worker, or null. */
    public Work currentWork() {
        return workqueues.currentWork();
    }

    /** The workqueue lockup watchdog's threshold in seconds; 0: off (see {@link Builder#workqueueWatchdogThresh}). */
    public int workqueueWatchdogThresh() {
        return wqWatchdogThresh;
    }

    /** Whether the kernel keeps registries for its consistency check (see {@link Builder#debugObjects}). */
    public boolean debugObjects() {
        return debugObjects;
    }

    /** What carries tasklet runs (see {@link Builder#taskletBackend}). */
    public TaskletBackend taskletBackend() {
        return taskletBackend;
    }

    /** Whether forced interrupt threading is on (see {@link Builder#threadIrqs}). */
    public boolean threadIrqs() {
        return rt.threadIrqs;
    }

    // ---------------------------------------------------------------- historical mechanisms (io.kdefer.legacy)

    /** The 32 old-style bottom halves ({@code init_bh}, {@code mark_bh}, ...), as 2.4 ran them on HI tasklets. */
    public BottomHalves bottomHalves() {
        rt.checkOpen();
        return legacy.bottomHalves();
    }

    /** A predefined task queue: {@link TaskQueue#TIMER}, {@link TaskQueue#IMMEDIATE}, {@link TaskQueue#SCHEDULER}. */
    public TaskQueue taskQueue(TaskQueue.Predefined which) {
        rt.checkOpen();
        return legacy.taskQueue(which);
    }

    /** {@code keventd} and {@code schedule_task} (2.4). */
    public Keventd keventd() {
        rt.checkOpen();
        return legacy.keventd();
    }

    /**
     * {@code create_workqueue(name)} ({@code singleThread} false: threads {@code name/N}, one per
     * CPU) or {@code create_singlethread_workqueue(name)} (one thread {@code name}): the workqueue of
     * 2.6.0–2.6.35, without concurrency management.
     */
    public ClassicWorkqueue createClassicWorkqueue(String name, boolean singleThread) {
        return legacy.createClassicWorkqueue(name, singleThread);
    }

    /** The 2.6.0–2.6.35 {@code keventd_wq} ({@code events/N}) behind that era's {@code schedule_work}. */
    public ClassicWorkqueue classicEvents() {
        return legacy.classicEvents();
    }

    /** Counters per CPU: softirq invocations, passes, hand-offs, ksoftirqd activity, tasklet runs. */
    public KernelStats stats() {
        long[][] perCpu = new long[rt.nrCpus][];
        for (int c = 0; c < rt.nrCpus; c++) {
            Cpu cpu = rt.cpu(c);
            long[] row = new long[Cpu.NR_STATS];
            for (int s = 0; s < Cpu.NR_STATS; s++) {
                row[s] = cpu.stat(s);
            }
            perCpu[c] = row;
        }
        return new KernelStats(perCpu, rt.errorCount());
    }

    /**
     * Stops accepting work, runs what is queued, joins every thread. Idempotent.
     *
     * <p>A call that queues work from another thread while this runs ({@code schedule()}, a timer
     * arm, {@link #smpCallFunctionSingle}, a raise, a tick) is either refused with
     * {@link IllegalStateException} or served: its work runs, or is reported to the error handler
     * (armed timers under {@link TimerClosePolicy#REPORT}, tasklets that are disabled and
     * scheduled). Concurrent {@code close()} calls wait for the first one to finish; from a
     * callback (a kdefer thread) or with bottom halves disabled it is refused, since it would wait
     * for itself. Synchronous calls already waiting when it begins ({@code deleteSync},
     * {@code Tasklet.disable}, {@code smpCallFunctionSingle(…, true)}, …) return as they would have.
     */
    @Override
    public void close() {
        rt.close();
    }

    /** True once {@link #close()} has finished. */
    public boolean isClosed() {
        return rt.isClosed();
    }

    @Override
    public String toString() {
        CpuContext ctx = rt.context();
        return "Kernel[cpus=" + rt.nrCpus + ", hz=" + rt.hz + (rt.faithful ? ", faithful" : "")
                + (rt.isClosed() ? ", closed" : "") + ", caller cpu " + ctx.cpu + "]";
    }
}

package io.kdefer.internal;

/**
 * A thread the kernel started and owns ({@code cpu/N}, {@code ksoftirqd/N}). It carries its
 * {@link CpuContext} in a field, so the hot path finds it without a thread-local lookup.
 */
public abstract class KThread extends Thread {
    /** F: the runtime that started this thread. */
    final KernelRuntime rt;
    /** F: this thread's context; its CPU changes only for interrupt threads that follow their line. */
    final CpuContext ctx;
    /** F: how this thread idles and is woken (wake-ups elided while it is awake). */
    public final Parker parker;
    private volatile boolean stop;   // A: set once by requestStop()
    /** O: told when this thread sleeps in a kdefer blocking helper; set before start() or by the thread. */
    private SleepHooks sleepHooks;

    protected KThread(KernelRuntime rt, int cpu, String name) {
        super(name);
        this.rt = rt;
        this.ctx = new CpuContext(cpu, true);
        this.parker = new Parker(rt.idleStrategy);
        parker.bind(this);
        setDaemon(true);
    }

    /** Asks the thread to finish what it owes and end; the caller joins it. */
    public final void requestStop() {
        stop = true;
        java.util.concurrent.locks.LockSupport.unpark(this);
    }

    /** True once {@link #requestStop()} was called. */
    protected final boolean stopRequested() {
        return stop;
    }

    /**
     * Installs the hooks this thread's kdefer blocking helpers call ({@code wq_worker_sleeping} /
     * {@code wq_worker_running}); null removes them. Called by the thread's owner before
     * {@code start()} (which publishes the field), or later by the thread itself.
     */
    public final void setSleepHooks(SleepHooks hooks) {
        this.sleepHooks = hooks;
    }

    /** The hooks installed with {@link #setSleepHooks}, or null. Read by the thread itself. */
    public final SleepHooks sleepHooks() {
        return sleepHooks;
    }

    /** This thread's context. Only this thread may use it. */
    protected final CpuContext context() {
        return ctx;
    }
}

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

    protected KThread(KernelRuntime rt, int cpu, String name) {
        super(name);
        this.rt = rt;
        this.ctx = new CpuContext(cpu, true);
        setDaemon(true);
    }

    /** This thread's context. Only this thread may use it. */
    protected final CpuContext context() {
        return ctx;
    }
}

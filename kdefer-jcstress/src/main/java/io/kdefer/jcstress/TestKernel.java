package io.kdefer.jcstress;

import io.kdefer.Kernel;

import java.util.concurrent.Callable;

/**
 * The one kdefer kernel of a jcstress JVM, shared by every test state.
 *
 * <p>A kernel starts two threads per CPU, far too costly to build per state, so each forked JVM
 * builds this one when the first state is created and never closes it: its threads are daemons
 * and die with the JVM. Every state makes its own fresh {@code Tasklet}s on it.
 *
 * <p>Two CPUs, so that a test can place its actors on different CPUs ({@link #onCpu}) and make
 * the tasklet's runs happen on two threads, which is what the SMP contracts are about.
 */
final class TestKernel {
    static final int CPU0 = 0;
    static final int CPU1 = 1;

    static final Kernel KERNEL = Kernel.builder().cpus(2).build();

    private TestKernel() {
    }

    /** Runs {@code fn} on the calling thread in task context on {@code cpu} ({@code Kernel.runOnCpu}). */
    static <T> T onCpu(int cpu, Callable<T> fn) {
        return KERNEL.runOnCpu(cpu, fn);
    }

    /**
     * On {@code cpu}, with bottom halves disabled, calls {@code schedule}; the outermost
     * {@code local_bh_enable()} then runs the queued tasklet on the calling thread, before this
     * returns (unless the tasklet is running elsewhere, is disabled, or was queued by someone else
     * on another CPU). This is how an actor becomes the thread that runs the callback.
     */
    static boolean scheduleAndRunHere(int cpu, Callable<Boolean> schedule) {
        return KERNEL.runOnCpu(cpu, () -> {
            KERNEL.localBhDisable();
            try {
                return schedule.call();
            } finally {
                KERNEL.localBhEnable();
            }
        });
    }
}

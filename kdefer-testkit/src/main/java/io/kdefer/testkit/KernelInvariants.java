package io.kdefer.testkit;

import io.kdefer.Kernel;
import io.kdefer.KernelCheck;

import java.util.List;

/**
 * The kernel's own consistency check ({@link KernelCheck}) as test assertions: every tasklet on a
 * CPU's list has SCHED set and is on one list once, and (kernels built with {@code debugObjects},
 * as {@link TestKernels#manual} builds them) every tasklet with SCHED set is on a list; each timer
 * wheel's pending bitmap matches its buckets and its timers point back to it; each worker pool's
 * idle and running counts match its workers and every item on its worklist is PENDING; and a quiet
 * kernel has no softirq pending, no bottom-half owner, no waiter on its wait queue, and idle
 * threads.
 */
public final class KernelInvariants {
    private KernelInvariants() {
    }

    /**
     * The broken rules of {@code kernel} once it is quiet. A closed kernel is checked at once. An
     * open one is checked until every rule holds, bounded by the hang guard: a kernel still
     * finishing work queued before the caller's last call passes a moment later, a broken rule
     * stays and is returned. The caller must not use the kernel meanwhile.
     */
    public static List<String> whenQuiet(Kernel kernel) {
        if (kernel.isClosed()) {
            return KernelCheck.violations(kernel, true);
        }
        long deadline = Waits.deadline();
        for (int i = 0; ; i++) {
            List<String> v = KernelCheck.violations(kernel, true);
            if (v.isEmpty() || System.nanoTime() - deadline > 0) {
                return v;
            }
            if ((i & 63) == 0) {
                Thread.yield();
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /** Fails, listing every broken rule, unless {@link #whenQuiet} finds none. */
    public static void assertHold(Kernel kernel) {
        List<String> v = whenQuiet(kernel);
        if (!v.isEmpty()) {
            throw new AssertionError(message(kernel, v));
        }
    }

    static String message(Kernel kernel, List<String> violations) {
        return "kernel invariants broken in " + kernel + ":\n  " + String.join("\n  ", violations);
    }
}

package io.kdefer.testkit;

import io.kdefer.ErrorHandler;
import io.kdefer.Kernel;
import io.kdefer.ManualClock;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Kernels for tests: a builder on a {@link ManualClock} (time moves only when the test ticks it),
 * a start that returns once the kernel's threads are parked, and the record of the kernels built
 * here that {@link KdeferExtension} checks after each test.
 */
public final class TestKernels {
    /** Kernels built through {@link #start} or {@link #track} and not yet checked. */
    private static final ConcurrentLinkedQueue<Kernel> BUILT = new ConcurrentLinkedQueue<>();

    private TestKernels() {
    }

    /**
     * A builder with {@code cpus} CPUs, HZ 1000, a fresh {@link ManualClock}, {@code errors}, and
     * the object registries of the consistency check ({@code debugObjects}).
     */
    public static Kernel.Builder manual(int cpus, ErrorHandler errors) {
        return Kernel.builder().cpus(cpus).hz(1000).clock(new ManualClock()).errorHandler(errors).debugObjects(true);
    }

    /** The manual clock of a kernel built on one (by {@link #manual}, for instance). */
    public static ManualClock clock(Kernel kernel) {
        return (ManualClock) kernel.clock();
    }

    /**
     * Runs {@code body} on this thread in task context with its current CPU set to {@code cpu}
     * ({@code work_on_cpu}): bottom halves it disables there are that CPU's.
     */
    public static void onCpu(Kernel kernel, int cpu, Runnable body) {
        kernel.runOnCpu(cpu, () -> {
            body.run();
            return null;
        });
    }

    /**
     * Records {@code kernel} for the invariant check {@link KdeferExtension} runs after the test
     * (on kernels the test closed: in the state close() left; on the others: once they are
     * quiet), and returns it. For kernels a test builds itself: {@code track(builder.build())}.
     */
    public static Kernel track(Kernel kernel) {
        BUILT.add(kernel);
        return kernel;
    }

    /** Takes the kernels recorded so far. */
    static List<Kernel> takeTracked() {
        List<Kernel> out = new ArrayList<>();
        for (Kernel k; (k = BUILT.poll()) != null; ) {
            out.add(k);
        }
        return out;
    }

    /**
     * Builds the kernel, {@link #track tracks} it, and waits until each of its {@code cpu/N} and
     * {@code ksoftirqd/N} threads is parked. Until then a {@code ksoftirqd/N} that is still starting
     * may serve a vector that a hardirq raised before that hardirq's own {@code irq_exit} gets to
     * it; tests that check which thread ran a softirq need this settled start. The new threads are
     * found by comparing the live threads before and after the build, so kernels of other tests
     * cannot be mistaken for this one.
     */
    public static Kernel start(Kernel.Builder builder) {
        return start(builder, new HashMap<>());
    }

    /** As {@link #start(Kernel.Builder)}; also puts the kernel's threads into {@code threads} by name. */
    public static Kernel start(Kernel.Builder builder, Map<String, Thread> threads) {
        Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
        Kernel kernel = track(builder.build());
        Map<String, Thread> created = new HashMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (!before.contains(t)) {
                created.put(t.getName(), t);
            }
        }
        for (int c = 0; c < kernel.nrCpus(); c++) {
            for (String name : new String[] {"cpu/" + c, "ksoftirqd/" + c}) {
                Thread t = created.get(name);
                if (t == null) {
                    throw new AssertionError("thread " + name + " was not started by build()");
                }
                Waits.awaitParked(t);
                threads.put(name, t);
            }
        }
        return kernel;
    }
}

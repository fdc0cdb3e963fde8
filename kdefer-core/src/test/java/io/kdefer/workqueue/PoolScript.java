package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.internal.Parker;
import io.kdefer.testkit.Waits;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

/**
 * What the pool tests use to steer work items step by step: a {@link Timeline} of what the items
 * did (with the jiffy and the thread of each event), {@link Gate}s an item spins on while it
 * "burns CPU" (its thread stays RUNNABLE, so neither the sleep hooks nor the sampler take it for
 * asleep), and ways to find the kernel's worker threads.
 */
final class PoolScript {
    private PoolScript() {
    }

    /** Events of a test's items, in the order they happened, each with its jiffy and thread. */
    static final class Timeline {
        private final Kernel kernel;
        private final long origin;
        private final List<String> names = new ArrayList<>();
        private final List<Long> times = new ArrayList<>();
        private final Map<String, Thread> threads = new ConcurrentHashMap<>();
        private final Map<String, Integer> cpus = new ConcurrentHashMap<>();

        /** A timeline whose time 0 is the kernel's jiffies now. */
        Timeline(Kernel kernel) {
            this.kernel = kernel;
            this.origin = kernel.jiffies();
        }

        /** Records {@code event} (unique per test) with the jiffy, thread and CPU of the caller. */
        void record(String event) {
            long t = kernel.jiffies() - origin;
            threads.put(event, Thread.currentThread());
            cpus.put(event, kernel.smpProcessorId());
            synchronized (this) {
                names.add(event);
                times.add(t);
            }
        }

        synchronized boolean has(String event) {
            return names.contains(event);
        }

        /** Waits until {@code event} is recorded. */
        void await(String event) {
            Waits.spinUntil(() -> has(event), () -> "event '" + event + "'; recorded so far: " + timed());
        }

        /** The events, oldest first. */
        synchronized List<String> events() {
            return new ArrayList<>(names);
        }

        /** The events as {@code "<jiffies since the start> <event>"}, oldest first. */
        synchronized List<String> timed() {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < names.size(); i++) {
                out.add(times.get(i) + " " + names.get(i));
            }
            return out;
        }

        /** The thread that recorded {@code event}. */
        Thread thread(String event) {
            Thread t = threads.get(event);
            if (t == null) {
                throw new AssertionError("no event '" + event + "' in " + timed());
            }
            return t;
        }

        /** The name of the thread that recorded {@code event}. */
        String threadName(String event) {
            return thread(event).getName();
        }

        /** The CPU {@code smp_processor_id()} named when {@code event} was recorded. */
        int cpu(String event) {
            Integer c = cpus.get(event);
            if (c == null) {
                throw new AssertionError("no event '" + event + "' in " + timed());
            }
            return c;
        }
    }

    /**
     * A gate a work item spins at, RUNNABLE, until the test opens it: the item "burns CPU" for as
     * long as the test wants, without ever looking asleep.
     */
    static final class Gate {
        private final AtomicBoolean open = new AtomicBoolean();

        void open() {
            open.set(true);
        }

        /** Spins until the gate is open (a hang guard fails the item if it never opens). */
        void pass() {
            Waits.spinUntil(open::get, "gate opened by the test");
        }
    }

    /**
     * Waits until {@code worker} sleeps as an idle worker: parked in its idle loop (on its
     * {@link Parker}), not in a work item's wait nor on the pool's lock.
     */
    static void awaitIdle(Thread worker) {
        Waits.awaitParkedOn(worker, b -> b instanceof Parker);
        if (!worker.isAlive()) {
            throw new AssertionError(worker.getName() + " ended instead of going idle");
        }
    }

    /** Live threads whose name matches {@code regex}, by name. */
    static Map<String, Thread> liveThreads(String regex) {
        Pattern p = Pattern.compile(regex);
        Map<String, Thread> out = new TreeMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && p.matcher(t.getName()).matches()) {
                out.put(t.getName(), t);
            }
        }
        return out;
    }

    /**
     * Queues a probe item on {@code wq} (on {@code cpu}, or {@link Workqueue#WORK_CPU_UNBOUND}) and
     * waits until it has run, or until {@code instead} holds. The probe shows that a worker of the
     * pool was free and took what its worklist held: an item queued before the probe that was
     * active would have been taken first. True if the probe ran.
     */
    static boolean probe(Workqueue wq, int cpu, java.util.function.BooleanSupplier instead) {
        AtomicBoolean ran = new AtomicBoolean();
        if (!wq.queueOn(cpu, new Work(self -> ran.set(true)))) {
            throw new AssertionError("a fresh probe item was not queued on " + wq);
        }
        Waits.spinUntil(() -> ran.get() || instead.getAsBoolean(), "probe on " + wq + " ran");
        return ran.get();
    }

    /** {@code Workqueues.counters()[0]}: workers the sampler found blocked in plain JDK code. */
    static long sampledSleeps(Kernel kernel) {
        return kernel.workqueues().counters()[0];
    }

    /** {@code Workqueues.counters()[1]}: items reclassified CPU-intensive at a sampler tick. */
    static long cpuIntensiveViolations(Kernel kernel) {
        return kernel.workqueues().counters()[1];
    }

    /** {@code Workqueues.counters()[2]}: idle workers culled. */
    static long culled(Kernel kernel) {
        return kernel.workqueues().counters()[2];
    }
}

package io.kdefer.bench;

import io.kdefer.Kernel;
import io.kdefer.bench.peers.ParkHandOff;
import io.kdefer.bench.support.AckCounter;
import io.kdefer.bench.support.ThreadSupport;
import io.kdefer.workqueue.Work;
import io.kdefer.workqueue.Workqueue;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;

/**
 * Wake-up latency of a workqueue: a thread outside the kernel queues an item while the pool's
 * workers are parked; the time until the item's function has run, per operation (SampleTime: read
 * the p50 and the tail percentiles).
 *
 * <p>Shape of every method, as in {@code TaskletWakeupLatencyBenchmark}: the benchmark thread
 * hands one unit of work over (a {@code queue()}, an {@code execute()}, a request) and spins with
 * {@link Thread#onSpinWait()} until the consumer's acknowledgement ({@link AckCounter}) shows it
 * done. A sample is the hand-off, the wake-up of a parked thread, and one cache-line transfer back.
 * Before each operation, outside the timed region, the benchmark thread waits until every consumer
 * thread has been parked for a while ({@link ThreadSupport#awaitIdle}), so that every sample pays
 * a real {@code unpark}.
 * <ul>
 *   <li>{@code percpu}: {@code system_wq} on a one-CPU kernel ({@code kworker/0:N}). The queueing
 *       wakes the pool's most recently idle worker; the pool keeps a spare idle worker, so there
 *       are two.</li>
 *   <li>{@code unbound}: {@code system_unbound_wq} on the same kind of kernel
 *       ({@code kworker/uP:N}).</li>
 *   <li>{@code tpe}: a one-thread {@link ThreadPoolExecutor} ({@link LinkedBlockingQueue}).</li>
 *   <li>{@code baselineParkHandOff}: the bare {@code park}/{@code unpark} hand-off, the floor.</li>
 * </ul>
 * The item is one {@link Work} made at set-up and queued again for every sample (it has finished
 * and gone idle by then: the wait for parked workers sees to that). The kernels use the default
 * idle strategy (park).
 *
 * <p>To measure (build first: {@code mvn -B -ntp -q -o -pl kdefer-bench -am package -DskipTests}):
 * <pre>
 *   java -jar kdefer-bench/target/benchmarks.jar WorkqueueWakeupLatencyBenchmark -f 3 -wi 3 -w 1s -i 5 -r 1s \
 *       -prof gc -rf json -rff WorkqueueWakeupLatencyBenchmark.json
 * </pre>
 * and compare the p50 (and p99) of {@code percpu} and {@code unbound} with
 * {@code baselineParkHandOff} and {@code tpe}, on a quiet machine with at least 2 free cores.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class WorkqueueWakeupLatencyBenchmark {

    // ---------------------------------------------------------------- states

    /** A one-CPU kernel, a workqueue of it and an item whose function counts its runs. */
    public abstract static class KernelTarget {
        Kernel kernel;
        Workqueue wq;
        final AckCounter runs = new AckCounter();   // bumped only by the function (runs are serialised)
        final Work work = new Work(w -> runs.bump());
        private Pattern workerNames;
        private List<Thread> workers = new ArrayList<>();

        final void start(java.util.function.Function<Kernel, Workqueue> queue, String workerNamePattern) {
            kernel = Kernel.builder().cpus(1).build();
            wq = queue.apply(kernel);
            workerNames = Pattern.compile(workerNamePattern);
            long target = runs.get() + 1;
            queue(this);
            while (runs.get() < target) {
                Thread.onSpinWait();
            }
            findWorkers();
        }

        /** The pool's workers: the manager may have started a spare since the last look. */
        @Setup(Level.Iteration)
        public void findWorkers() {
            List<Thread> found = new ArrayList<>();
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (workerNames.matcher(t.getName()).matches()) {
                    found.add(t);
                }
            }
            if (found.isEmpty()) {
                throw new IllegalStateException("no worker thread matches " + workerNames);
            }
            workers = found;
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            for (Thread t : workers) {
                ThreadSupport.awaitIdle(t);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            kernel.close();
        }
    }

    /** Queues the item; it must have been idle. */
    static void queue(KernelTarget k) {
        if (!k.wq.queue(k.work)) {
            throw new IllegalStateException(k.work + " was still pending");
        }
    }

    @State(Scope.Benchmark)
    public static class Percpu extends KernelTarget {
        @Setup(Level.Trial)
        public void setUp() {
            start(Kernel::systemWq, "kworker/0:\\d+");
        }
    }

    @State(Scope.Benchmark)
    public static class Unbound extends KernelTarget {
        @Setup(Level.Trial)
        public void setUp() {
            start(Kernel::systemUnboundWq, "kworker/u\\d+:\\d+");
        }
    }

    /** A one-thread {@link ThreadPoolExecutor}; the task counts its runs. */
    @State(Scope.Benchmark)
    public static class Tpe {
        ThreadPoolExecutor executor;
        final AckCounter runs = new AckCounter();   // bumped only by the worker
        final Runnable task = runs::bump;
        private final AtomicReference<Thread> worker = new AtomicReference<>();

        @Setup(Level.Trial)
        public void setUp() {
            executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                    ThreadSupport.single("tpe-worker", worker));
            executor.prestartAllCoreThreads();
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            ThreadSupport.awaitIdle(worker.get());
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(executor);
        }
    }

    @State(Scope.Benchmark)
    public static class ParkBaseline {
        ParkHandOff handOff;

        @Setup(Level.Trial)
        public void setUp() {
            handOff = new ParkHandOff();
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            ThreadSupport.awaitIdle(handOff.partner());
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            handOff.close();
        }
    }

    // ---------------------------------------------------------------- methods

    @Benchmark
    public long percpu(Percpu k) {
        long target = k.runs.get() + 1;
        queue(k);
        while (k.runs.get() < target) {
            Thread.onSpinWait();
        }
        return target;
    }

    @Benchmark
    public long unbound(Unbound k) {
        long target = k.runs.get() + 1;
        queue(k);
        while (k.runs.get() < target) {
            Thread.onSpinWait();
        }
        return target;
    }

    @Benchmark
    public long tpe(Tpe s) {
        long target = s.runs.get() + 1;
        s.executor.execute(s.task);
        while (s.runs.get() < target) {
            Thread.onSpinWait();
        }
        return target;
    }

    @Benchmark
    public long baselineParkHandOff(ParkBaseline s) {
        long target = s.handOff.request();
        while (s.handOff.served() < target) {
            Thread.onSpinWait();
        }
        return target;
    }
}

package io.kdefer.bench;

import io.kdefer.Kernel;
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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A batch of {@value #BATCH} items of which one in ten blocks for 1 ms (items 0, 10, 20, ...) and
 * the others burn a little CPU; one producer hands the batch out and waits until every item has run.
 * The score is the time per batch. With enough concurrency it approaches the 1 ms of one sleep; a
 * pool that keeps a fixed number of threads busy while they sleep queues the sleeps behind each
 * other instead.
 *
 * <p>Subjects, each with {@code n} = {@code availableProcessors()} CPUs or threads:
 * <ul>
 *   <li>{@code kdeferMsleep}: a per-CPU workqueue on an {@code n}-CPU kernel, the blocking items
 *       dealt round-robin over the CPUs with {@code queueOn}, and the others too; the blocking items call {@code kernel.msleep(1)}, which
 *       tells the pool its worker sleeps, so the pool starts the next item on another worker at
 *       once (cmwq's {@code wq_worker_sleeping}). {@code msleep(1)} sleeps at least
 *       {@code msecs_to_jiffies(1) + 1} jiffies, as the kernel's does: 2 ms at HZ 1000, twice the
 *       others' sleep.</li>
 *   <li>{@code kdeferThreadSleep}: the same with {@code Thread.sleep(1)}, which the pool cannot
 *       see: its sampler finds the blocked worker (the jiffy sampler at the next tick, then the
 *       sub-jiffy one within about 100 µs while the pool keeps blocking) and only then lets
 *       another worker start.</li>
 *   <li>{@code tpe}: a fixed {@link ThreadPoolExecutor} of {@code n} threads, {@code Thread.sleep(1)}:
 *       a sleeping item holds one of the {@code n} threads.</li>
 *   <li>{@code fjpManagedBlocker}: a {@link ForkJoinPool} of parallelism {@code n}; the sleep goes
 *       through {@link ForkJoinPool#managedBlock}, so the pool adds a thread while it lasts.</li>
 *   <li>{@code virtualThreadPerTask}: {@code Executors.newVirtualThreadPerTaskExecutor()}, found by
 *       reflection (the build targets Java 17); a sleeping virtual thread releases its carrier.
 *       On a JDK without virtual threads its set-up stops with a one-line message saying so, and
 *       JMH goes on with the other methods (exclude it there with {@code -e virtualThreadPerTask}).</li>
 * </ul>
 *
 * <p>To measure (build first: {@code mvn -B -ntp -q -o -pl kdefer-bench -am package -DskipTests}):
 * <pre>
 *   java -jar kdefer-bench/target/benchmarks.jar WorkqueueBlockingMixBenchmark -f 3 -wi 5 -w 1s -i 10 -r 1s \
 *       -rf json -rff WorkqueueBlockingMixBenchmark.json
 *   (JDK 17: add -e virtualThreadPerTask; run it again with a JDK 21 or later java for the virtual threads)
 * </pre>
 * on a quiet machine with at least 4 cores.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class WorkqueueBlockingMixBenchmark {
    /** Items per batch. */
    public static final int BATCH = 100;
    /** One item in this many blocks. */
    public static final int BLOCKING_EVERY = 10;
    /** How long a blocking item sleeps. */
    public static final long SLEEP_MS = 1;

    // ---------------------------------------------------------------- shared parts

    /** Counts a batch down; the last item unparks the waiting producer. */
    static final class Countdown {
        private final AtomicInteger remaining = new AtomicInteger();
        private volatile Thread waiter;

        void arm(int n) {
            waiter = Thread.currentThread();
            remaining.set(n);
        }

        void done() {
            if (remaining.decrementAndGet() == 0) {
                LockSupport.unpark(waiter);
            }
        }

        void await() {
            while (remaining.get() != 0) {
                LockSupport.park(this);
            }
        }
    }

    /** How a blocking item sleeps. */
    interface Sleeper {
        void sleep() throws InterruptedException;
    }

    /** The subject's items and the batch countdown. */
    @State(Scope.Benchmark)
    public abstract static class Subject {
        /** Units of {@link Blackhole#consumeCPU} each non-blocking item burns. */
        @Param({"500"})
        public int tokens;

        final int cpus = Runtime.getRuntime().availableProcessors();
        final Countdown countdown = new Countdown();

        /** Item {@code i}'s body. */
        final void item(int i, Sleeper sleeper) {
            try {
                if (i % BLOCKING_EVERY == 0) {
                    sleeper.sleep();
                } else {
                    Blackhole.consumeCPU(tokens);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                countdown.done();
            }
        }

        final Runnable[] tasks(Sleeper sleeper) {
            Runnable[] tasks = new Runnable[BATCH];
            for (int i = 0; i < BATCH; i++) {
                final int index = i;
                tasks[i] = () -> item(index, sleeper);
            }
            return tasks;
        }
    }

    /** An {@code n}-CPU kernel, a per-CPU workqueue and {@value #BATCH} items made once. */
    public abstract static class KdeferSubject extends Subject {
        Kernel kernel;
        Workqueue wq;
        final Work[] works = new Work[BATCH];
        /**
         * Item {@code i}'s CPU: the blocking items are dealt round-robin over the CPUs, and so are
         * the others, so each CPU gets its share of both, as the peers' shared queues give each
         * thread. (With {@code i % n} and an even {@code n} every blocking item fell on CPU 0.)
         */
        final int[] cpuOf = new int[BATCH];

        final void start(boolean msleep) {
            int blocking = 0;
            int others = 0;
            for (int i = 0; i < BATCH; i++) {
                cpuOf[i] = i % BLOCKING_EVERY == 0 ? blocking++ % cpus : others++ % cpus;
            }
            kernel = Kernel.builder().cpus(cpus).build();
            wq = kernel.allocWorkqueue("bench-mix", 0);
            final Kernel k = kernel;
            Sleeper sleeper = msleep ? () -> k.msleep(SLEEP_MS) : () -> Thread.sleep(SLEEP_MS);
            for (int i = 0; i < BATCH; i++) {
                final int index = i;
                works[i] = new Work(w -> item(index, sleeper));
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            kernel.close();
        }
    }

    @State(Scope.Benchmark)
    public static class KdeferMsleep extends KdeferSubject {
        @Setup(Level.Trial)
        public void setUp() {
            start(true);
        }
    }

    @State(Scope.Benchmark)
    public static class KdeferThreadSleep extends KdeferSubject {
        @Setup(Level.Trial)
        public void setUp() {
            start(false);
        }
    }

    @State(Scope.Benchmark)
    public static class Tpe extends Subject {
        ThreadPoolExecutor executor;
        Runnable[] tasks;

        @Setup(Level.Trial)
        public void setUp() {
            tasks = tasks(() -> Thread.sleep(SLEEP_MS));
            executor = new ThreadPoolExecutor(cpus, cpus, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>());
            executor.prestartAllCoreThreads();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(executor);
        }
    }

    /** A {@link ForkJoinPool.ManagedBlocker} that sleeps once; one per blocking item, reused. */
    static final class SleepBlocker implements ForkJoinPool.ManagedBlocker {
        private volatile boolean slept;

        void reset() {
            slept = false;
        }

        @Override
        public boolean block() throws InterruptedException {
            Thread.sleep(SLEEP_MS);
            slept = true;
            return true;
        }

        @Override
        public boolean isReleasable() {
            return slept;
        }
    }

    @State(Scope.Benchmark)
    public static class FjpManaged extends Subject {
        ForkJoinPool pool;
        Runnable[] tasks;

        @Setup(Level.Trial)
        public void setUp() {
            tasks = new Runnable[BATCH];
            for (int i = 0; i < BATCH; i++) {
                final SleepBlocker b = new SleepBlocker();
                final int index = i;
                tasks[i] = () -> item(index, () -> {
                    b.reset();
                    ForkJoinPool.managedBlock(b);
                });
            }
            pool = new ForkJoinPool(cpus);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(pool);
        }
    }

    @State(Scope.Benchmark)
    public static class VirtualThreads extends Subject {
        ExecutorService executor;
        Runnable[] tasks;

        @Setup(Level.Trial)
        public void setUp() throws ReflectiveOperationException {
            tasks = tasks(() -> Thread.sleep(SLEEP_MS));
            executor = virtualThreadPerTaskExecutor();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(executor);
        }
    }

    /**
     * {@code Executors.newVirtualThreadPerTaskExecutor()} (JDK 21+), by reflection.
     *
     * @throws UnsupportedOperationException on an older JDK, saying so
     */
    static ExecutorService virtualThreadPerTaskExecutor() throws ReflectiveOperationException {
        try {
            return (ExecutorService) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        } catch (NoSuchMethodException e) {
            throw new Skipped("virtual threads need JDK 21 or later; this is " + System.getProperty("java.version")
                    + ": virtualThreadPerTask is skipped (exclude it with -e virtualThreadPerTask)");
        }
    }

    /** Ends a benchmark's set-up on a JDK that lacks what it measures: JMH prints one line, no stack. */
    static final class Skipped extends UnsupportedOperationException {
        private static final long serialVersionUID = 1L;

        Skipped(String message) {
            super(message);
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this;
        }
    }

    // ---------------------------------------------------------------- methods

    @Benchmark
    public void kdeferMsleep(KdeferMsleep s) {
        kdeferBatch(s);
    }

    @Benchmark
    public void kdeferThreadSleep(KdeferThreadSleep s) {
        kdeferBatch(s);
    }

    private static void kdeferBatch(KdeferSubject s) {
        final Work[] works = s.works;
        final Workqueue wq = s.wq;
        final int[] cpuOf = s.cpuOf;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            if (!wq.queueOn(cpuOf[i], works[i])) {
                throw new IllegalStateException(works[i] + " was still pending when queued again");
            }
        }
        s.countdown.await();
    }

    @Benchmark
    public void tpe(Tpe s) {
        final Runnable[] tasks = s.tasks;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            s.executor.execute(tasks[i]);
        }
        s.countdown.await();
    }

    @Benchmark
    public void fjpManagedBlocker(FjpManaged s) {
        final Runnable[] tasks = s.tasks;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            s.pool.execute(tasks[i]);
        }
        s.countdown.await();
    }

    @Benchmark
    public void virtualThreadPerTask(VirtualThreads s) {
        final Runnable[] tasks = s.tasks;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            s.executor.execute(tasks[i]);
        }
        s.countdown.await();
    }
}

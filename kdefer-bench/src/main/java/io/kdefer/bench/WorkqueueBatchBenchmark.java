package io.kdefer.bench;

import io.kdefer.Kernel;
import io.kdefer.bench.support.ThreadSupport;
import io.kdefer.workqueue.Work;
import io.kdefer.workqueue.Workqueue;
import io.kdefer.workqueue.WqFlag;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.lang.management.ManagementFactory;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Batch throughput: one producer thread hands a batch of {@value #BATCH} distinct short items to
 * a pool, then waits until all of them have run. The score is the time per item (the batch time
 * divided by {@value #BATCH}), from the first hand-off to the producer's wake-up after the last
 * item.
 *
 * <p>Every subject has as many threads as the host has CPUs ({@code n}, JMH's
 * {@code Runtime.availableProcessors()}):
 * <ul>
 *   <li>{@code percpuSpread}: a per-CPU workqueue ({@code allocWorkqueue("bench", 0)}) on an
 *       {@code n}-CPU kernel, item {@code i} queued with {@code queueOn(i % n)}: one concurrency-
 *       managed worker per CPU runs its share, one item after the other.</li>
 *   <li>{@code percpuLocal}: the same queue with {@code queue()}: every item goes to the
 *       producer's CPU, where the cmwq rule "one running worker per CPU while items do not sleep"
 *       runs them all on one worker (the kernel's behaviour, spec §5.5), whatever {@code n}.</li>
 *   <li>{@code unbound}: an unbound workqueue with {@code max_active = n}
 *       ({@code allocWorkqueue("bench-unbound", n, UNBOUND)}): up to {@code n} items at once, each
 *       on a worker of its own.</li>
 *   <li>{@code tpe}: a fixed {@link ThreadPoolExecutor} of {@code n} threads on a
 *       {@link LinkedBlockingQueue}, threads prestarted.</li>
 *   <li>{@code fjp}: a {@link ForkJoinPool} of parallelism {@code n}, {@code execute(Runnable)}.</li>
 *   <li>{@code netty}: a Netty {@link DefaultEventExecutorGroup} of {@code n} executors,
 *       {@code execute()} (round-robin over the executors).</li>
 *   <li>{@code lockFloor}: not a peer but the floor under {@code percpuLocal}: one worker behind
 *       one lock taken as the workqueue pool takes it, without any workqueue rule
 *       ({@link LockFloor}).</li>
 * </ul>
 * An item burns {@code tokens} units of {@link Blackhole#consumeCPU} (default 50, well under a
 * microsecond) and counts the batch down; the item that ends the batch unparks the producer, which
 * parks meanwhile (it does not take a core from the pool). The kdefer items are {@value #BATCH}
 * {@link Work} objects made once and queued again in every batch, and the peers' tasks are
 * {@value #BATCH} {@link Runnable}s made once: the producer allocates nothing per item but what the
 * pool itself allocates. Each iteration prints the producer thread's allocation per item; the
 * target for the kdefer queues is 0 B per {@code queue()}. {@code -prof gc} gives the whole JVM's.
 *
 * <p>To measure (build first: {@code mvn -B -ntp -q -o -pl kdefer-bench -am package -DskipTests}):
 * <pre>
 *   java -jar kdefer-bench/target/benchmarks.jar WorkqueueBatchBenchmark -f 3 -wi 5 -w 1s -i 10 -r 1s \
 *       -prof gc -rf json -rff WorkqueueBatchBenchmark.json
 *   java -jar kdefer-bench/target/benchmarks.jar WorkqueueBatchBenchmark -p tokens=0,50,500 -f 3 -wi 5 -i 10
 * </pre>
 * on a quiet machine with at least 4 cores; the ratios to {@code tpe} and {@code fjp} are the
 * result.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(WorkqueueBatchBenchmark.BATCH)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class WorkqueueBatchBenchmark {
    /** Items per batch. */
    public static final int BATCH = 1000;

    // ---------------------------------------------------------------- shared parts

    /**
     * Counts a batch down; the item that ends it unparks the waiting producer. Allocates nothing.
     * An unpark left over from the previous batch only makes one park return early.
     */
    static final class Countdown {
        private final AtomicInteger remaining = new AtomicInteger();
        private volatile Thread waiter;

        /** Before the batch is handed out, on the producer. */
        void arm(int n) {
            waiter = Thread.currentThread();
            remaining.set(n);
        }

        /** An item has run. */
        void done() {
            if (remaining.decrementAndGet() == 0) {
                LockSupport.unpark(waiter);
            }
        }

        /** Parks until the batch has run. */
        void await() {
            while (remaining.get() != 0) {
                LockSupport.park(this);
            }
        }
    }

    /** The pool under test, its items, and the producer's allocation per item for each iteration. */
    @State(Scope.Benchmark)
    public abstract static class Subject {
        /** Units of {@link Blackhole#consumeCPU} each item burns. */
        @Param({"50"})
        public int tokens;

        final int cpus = Runtime.getRuntime().availableProcessors();
        final Countdown countdown = new Countdown();
        private long batches;
        private long startBatches;
        private long startBytes;

        /** One item's body. */
        final void item() {
            Blackhole.consumeCPU(tokens);
            countdown.done();
        }

        /** Called by every benchmark method once per batch. */
        final void counted() {
            batches++;
        }

        @Setup(Level.Iteration)
        public void startMeter() {
            startBatches = batches;
            startBytes = allocatedBytes();
        }

        @TearDown(Level.Iteration)
        public void stopMeter() {
            long items = (batches - startBatches) * BATCH;
            if (items > 0) {
                System.out.printf(" [producer: %.3f B/item]", (double) (allocatedBytes() - startBytes) / items);
            }
        }

        private static long allocatedBytes() {
            java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            if (mx instanceof com.sun.management.ThreadMXBean) {
                return ((com.sun.management.ThreadMXBean) mx).getThreadAllocatedBytes(Thread.currentThread().getId());
            }
            return 0;
        }
    }

    /** A kernel with {@code n} CPUs and {@value #BATCH} work items, made once. */
    public abstract static class KdeferSubject extends Subject {
        Kernel kernel;
        Workqueue wq;
        final Work[] works = new Work[BATCH];

        abstract Workqueue allocate(Kernel kernel);

        @Setup(Level.Trial)
        public void setUp() {
            kernel = Kernel.builder().cpus(cpus).build();
            wq = allocate(kernel);
            for (int i = 0; i < BATCH; i++) {
                works[i] = new Work(w -> item());
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            kernel.close();
        }

        /** Every item must be idle when its batch comes round again: a false is a benchmark bug. */
        static void check(boolean queued, Work w) {
            if (!queued) {
                throw new IllegalStateException(w + " was still pending when queued again");
            }
        }
    }

    @State(Scope.Benchmark)
    public static class Percpu extends KdeferSubject {
        @Override
        Workqueue allocate(Kernel kernel) {
            return kernel.allocWorkqueue("bench", 0);
        }
    }

    @State(Scope.Benchmark)
    public static class Unbound extends KdeferSubject {
        @Override
        Workqueue allocate(Kernel kernel) {
            return kernel.allocWorkqueue("bench-unbound", cpus, WqFlag.UNBOUND);
        }
    }

    /** {@value #BATCH} tasks for the executors, made once. */
    public abstract static class ExecutorSubject extends Subject {
        final Runnable[] tasks = new Runnable[BATCH];

        final void makeTasks() {
            for (int i = 0; i < BATCH; i++) {
                tasks[i] = this::item;
            }
        }
    }

    @State(Scope.Benchmark)
    public static class Tpe extends ExecutorSubject {
        ThreadPoolExecutor executor;

        @Setup(Level.Trial)
        public void setUp() {
            makeTasks();
            executor = new ThreadPoolExecutor(cpus, cpus, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>());
            executor.prestartAllCoreThreads();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(executor);
        }
    }

    @State(Scope.Benchmark)
    public static class Fjp extends ExecutorSubject {
        ForkJoinPool pool;

        @Setup(Level.Trial)
        public void setUp() {
            makeTasks();
            pool = new ForkJoinPool(cpus);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(pool);
        }
    }

    @State(Scope.Benchmark)
    public static class Netty extends ExecutorSubject {
        DefaultEventExecutorGroup group;

        @Setup(Level.Trial)
        public void setUp() {
            makeTasks();
            group = new DefaultEventExecutorGroup(cpus);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            if (!group.shutdownGracefully(0, 10, TimeUnit.SECONDS).await(15, TimeUnit.SECONDS)) {
                throw new IllegalStateException("event executor group did not terminate");
            }
        }
    }

    /**
     * The floor of a locked pool: what {@code percpuLocal} costs with every workqueue rule taken
     * away. One worker thread; an intrusive FIFO of items made once; one lock, taken as the
     * workqueue pool takes it (the producer once per item to append and wake an idle worker, the
     * worker once per item to take it, releasing around the run and retiring under the same lock
     * as it takes the next). No PENDING word, no pwq, no colours, no busy map, no concurrency
     * management, no clock reads. kdefer's per-CPU queue cannot beat this; the distance between
     * the two is what the workqueue's own bookkeeping costs.
     */
    @State(Scope.Benchmark)
    public static class LockFloor extends Subject {
        static final class Node {
            Node next;
            Runnable fn;
        }

        final java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();
        final Node[] nodes = new Node[BATCH];
        Node head;               // guarded by lock
        Node tail;               // guarded by lock
        boolean idle;            // guarded by lock
        volatile boolean stop;
        Thread worker;

        @Setup(Level.Trial)
        public void setUp() {
            for (int i = 0; i < BATCH; i++) {
                nodes[i] = new Node();
                nodes[i].fn = this::item;
            }
            worker = new Thread(this::workerLoop, "lock-floor-worker");
            worker.setDaemon(true);
            worker.start();
        }

        /** Locks as the workqueue pool does: retry for a moment before queueing on the lock. */
        void lockPool() {
            if (lock.tryLock()) {
                return;
            }
            for (int i = 0; i < 64; i++) {
                Thread.onSpinWait();
                if (lock.tryLock()) {
                    return;
                }
            }
            lock.lock();
        }

        void queue(Node n) {
            boolean wake;
            lockPool();
            try {
                n.next = null;
                if (tail == null) {
                    head = n;
                } else {
                    tail.next = n;
                }
                tail = n;
                wake = idle;
                idle = false;
            } finally {
                lock.unlock();
            }
            if (wake) {
                LockSupport.unpark(worker);
            }
        }

        private void workerLoop() {
            lockPool();
            try {
                while (!stop) {
                    Node n = head;
                    if (n == null) {
                        idle = true;
                        lock.unlock();
                        try {
                            while (!stop && isIdle()) {
                                LockSupport.park(this);
                            }
                        } finally {
                            lockPool();
                        }
                        continue;
                    }
                    head = n.next;
                    if (head == null) {
                        tail = null;
                    }
                    lock.unlock();
                    try {
                        n.fn.run();
                    } finally {
                        lockPool();   // retire, then take the next under the same hold
                    }
                }
            } finally {
                lock.unlock();
            }
        }

        private boolean isIdle() {
            lockPool();
            try {
                return idle;
            } finally {
                lock.unlock();
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            stop = true;
            LockSupport.unpark(worker);
            worker.join(10_000);
            if (worker.isAlive()) {
                throw new IllegalStateException("lock-floor worker did not stop");
            }
        }
    }

    // ---------------------------------------------------------------- kdefer

    @Benchmark
    public void percpuSpread(Percpu s) {
        final Work[] works = s.works;
        final Workqueue wq = s.wq;
        final int n = s.cpus;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            KdeferSubject.check(wq.queueOn(i % n, works[i]), works[i]);
        }
        s.countdown.await();
        s.counted();
    }

    @Benchmark
    public void percpuLocal(Percpu s) {
        final Work[] works = s.works;
        final Workqueue wq = s.wq;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            KdeferSubject.check(wq.queue(works[i]), works[i]);
        }
        s.countdown.await();
        s.counted();
    }

    @Benchmark
    public void unbound(Unbound s) {
        final Work[] works = s.works;
        final Workqueue wq = s.wq;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            KdeferSubject.check(wq.queue(works[i]), works[i]);
        }
        s.countdown.await();
        s.counted();
    }

    /** The locked-pool floor under {@code percpuLocal} (see {@link LockFloor}). */
    @Benchmark
    public void lockFloor(LockFloor s) {
        final LockFloor.Node[] nodes = s.nodes;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            s.queue(nodes[i]);
        }
        s.countdown.await();
        s.counted();
    }

    // ---------------------------------------------------------------- peers

    @Benchmark
    public void tpe(Tpe s) {
        final Runnable[] tasks = s.tasks;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            s.executor.execute(tasks[i]);
        }
        s.countdown.await();
        s.counted();
    }

    @Benchmark
    public void fjp(Fjp s) {
        final Runnable[] tasks = s.tasks;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            s.pool.execute(tasks[i]);
        }
        s.countdown.await();
        s.counted();
    }

    @Benchmark
    public void netty(Netty s) {
        final Runnable[] tasks = s.tasks;
        s.countdown.arm(BATCH);
        for (int i = 0; i < BATCH; i++) {
            s.group.execute(tasks[i]);
        }
        s.countdown.await();
        s.counted();
    }
}

package io.kdefer.bench;

import io.kdefer.Kernel;
import io.kdefer.KernelStats;
import io.kdefer.bench.peers.Backlog;
import io.kdefer.bench.peers.DrainLoopExecutor;
import io.kdefer.bench.support.ThreadSupport;
import io.kdefer.tasklet.Tasklet;
import io.netty.channel.DefaultEventLoop;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The coalesced path of {@code Tasklet.schedule()}: scheduling a tasklet that is already queued.
 * Nothing is queued and nobody is woken; the call only has to notice that a run is already on
 * its way. Measured from one and from two threads (the two share the tasklet).
 *
 * <p>Peers, all in this class so that their ratios come from one run on one machine:
 * <ul>
 *   <li>{@code baselineVolatileRead}: one volatile read of a shared field, the floor for any
 *       "is it already pending?" test. Target: the coalesced schedule within 3x of it.</li>
 *   <li>{@code drainLoopSchedule}: the hand-written {@link DrainLoopExecutor} idiom
 *       ({@code if (!flag.get() && flag.compareAndSet(false, true)) executor.execute(drain)}) in
 *       its coalesced state: a drain is queued (behind a task that blocks the executor's only
 *       thread) and has not started.</li>
 *   <li>{@code tpeExecute} and {@code nettyExecute}: what a program does without coalescing,
 *       {@code execute()} of a trivial task on a one-thread {@link ThreadPoolExecutor}
 *       ({@link LinkedBlockingQueue}) and on a Netty {@link DefaultEventLoop}. The backlog of
 *       submitted-but-not-run tasks is bounded by a {@link Backlog} of {@value #BACKLOG}: the
 *       producer yields while it is full, so the score is the sustained rate the executor
 *       absorbs, with the consumer thread taking its share of the host's cores. Target: the
 *       coalesced schedule at least 10x the throughput of {@code tpeExecute}.</li>
 * </ul>
 *
 * <h2>How the tasklet is kept pending</h2>
 * A holder thread disables bottom halves on the kernel's only CPU, schedules the tasklet (it is
 * queued, {@code TASKLET_SOFTIRQ} is raised, nobody is woken because bottom halves are off) and
 * then blocks until tear-down, holding the CPU. Every {@code schedule()} measured here therefore
 * finds SCHED set and returns {@code false}; the iteration tear-down checks that the tasklet is
 * still queued and has not run. At trial tear-down the holder re-enables bottom halves, which
 * runs the tasklet exactly once.
 *
 * <p>A disabled tasklet scheduled once would also stay pending, but not quietly: as in Linux,
 * {@code tasklet_action} puts a disabled tasklet back on the list and raises the softirq again,
 * so {@code ksoftirqd} re-queues it in a loop, burning a host core and writing the tasklet's state
 * word all the time (see the README).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class TaskletScheduleCoalescedBenchmark {
    /** Bound on tasks submitted to an executor and not yet run. */
    public static final int BACKLOG = 1024;

    // ---------------------------------------------------------------- states

    /** A tasklet held in the scheduled state by a thread that keeps bottom halves disabled. */
    @State(Scope.Benchmark)
    public static class PendingTasklet {
        Kernel kernel;
        Tasklet tasklet;
        private volatile long runs;
        private volatile Throwable holderFailure;
        private final CountDownLatch held = new CountDownLatch(1);
        private final CountDownLatch release = new CountDownLatch(1);
        private Thread holder;

        @Setup(Level.Trial)
        public void setUp() throws InterruptedException {
            kernel = Kernel.builder().cpus(1).build();
            tasklet = Tasklet.setup(kernel, t -> runs++);
            holder = new Thread(this::holdBottomHalves, "bh-holder");
            holder.start();
            if (!held.await(10, TimeUnit.SECONDS) || holderFailure != null) {
                throw new IllegalStateException("could not make the tasklet pending", holderFailure);
            }
            if (!tasklet.isScheduled() || tasklet.schedule()) {
                throw new IllegalStateException("tasklet is not pending: " + tasklet);
            }
        }

        /** Runs on the holder thread: bottom halves off, schedule, hold until tear-down. */
        private void holdBottomHalves() {
            try {
                kernel.localBhDisable();
                try {
                    if (!tasklet.schedule()) {
                        throw new IllegalStateException("first schedule() did not queue " + tasklet);
                    }
                    held.countDown();
                    release.await();
                } finally {
                    kernel.localBhEnable();   // runs the pending TASKLET_SOFTIRQ, here
                }
            } catch (Throwable t) {
                holderFailure = t;
                held.countDown();
            }
        }

        @TearDown(Level.Iteration)
        public void checkStillPending() {
            if (!tasklet.isScheduled() || runs != 0) {
                throw new IllegalStateException("the tasklet left the pending state: " + tasklet + ", runs " + runs);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            release.countDown();
            holder.join();
            KernelStats stats = kernel.stats();
            kernel.close();
            if (holderFailure != null || runs != 1 || stats.total(KernelStats.Counter.TASKLET_RUNS) != 1) {
                throw new IllegalStateException("expected exactly one run after release, got " + runs
                        + "\n" + stats, holderFailure);
            }
        }
    }

    /** The baseline: a volatile field that is always true ("already pending"). */
    @State(Scope.Benchmark)
    public static class VolatileFlag {
        volatile boolean pending = true;
    }

    /** A {@link DrainLoopExecutor} whose drain is queued behind a task that blocks its executor. */
    @State(Scope.Benchmark)
    public static class PendingDrainLoop {
        DrainLoopExecutor drainLoop;
        private ThreadPoolExecutor executor;
        private final CountDownLatch release = new CountDownLatch(1);
        private volatile long runs;

        @Setup(Level.Trial)
        public void setUp() {
            executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                    ThreadSupport.single("drain-loop-worker", new AtomicReference<>()));
            executor.execute(() -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            drainLoop = new DrainLoopExecutor(executor, () -> runs++);
            if (!drainLoop.schedule() || drainLoop.schedule() || !drainLoop.isScheduled()) {
                throw new IllegalStateException("drain loop is not pending");
            }
        }

        @TearDown(Level.Iteration)
        public void checkStillPending() {
            if (!drainLoop.isScheduled() || runs != 0) {
                throw new IllegalStateException("the drain loop left the pending state, runs " + runs);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            release.countDown();
            ThreadSupport.shutdown(executor);
            if (runs != 1) {
                throw new IllegalStateException("expected exactly one drain after release, got " + runs);
            }
        }
    }

    /** A one-thread {@link ThreadPoolExecutor} with an unbounded {@link LinkedBlockingQueue}. */
    @State(Scope.Benchmark)
    public static class Tpe {
        ThreadPoolExecutor executor;
        final Backlog backlog = new Backlog(BACKLOG);

        @Setup(Level.Trial)
        public void setUp() {
            executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                    ThreadSupport.single("tpe-worker", new AtomicReference<>()));
            executor.prestartAllCoreThreads();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(executor);
            if (backlog.inFlight() != 0) {
                throw new IllegalStateException("tasks lost: " + backlog.inFlight());
            }
        }
    }

    /** A Netty {@link DefaultEventLoop} (one thread, blocking task queue). */
    @State(Scope.Benchmark)
    public static class NettyLoop {
        DefaultEventLoop loop;
        final Backlog backlog = new Backlog(BACKLOG);

        @Setup(Level.Trial)
        public void setUp() {
            loop = new DefaultEventLoop(ThreadSupport.single("netty-loop", new AtomicReference<>()));
            loop.submit(() -> { }).syncUninterruptibly();   // start its thread
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(loop);
            if (backlog.inFlight() != 0) {
                throw new IllegalStateException("tasks lost: " + backlog.inFlight());
            }
        }
    }

    // ---------------------------------------------------------------- one thread

    @Benchmark
    @Threads(1)
    public boolean taskletSchedule_1t(PendingTasklet s) {
        return s.tasklet.schedule();
    }

    @Benchmark
    @Threads(1)
    public boolean baselineVolatileRead_1t(VolatileFlag s) {
        return s.pending;
    }

    @Benchmark
    @Threads(1)
    public boolean drainLoopSchedule_1t(PendingDrainLoop s) {
        return s.drainLoop.schedule();
    }

    @Benchmark
    @Threads(1)
    public void tpeExecute_1t(Tpe s) {
        s.backlog.acquire();
        s.executor.execute(s.backlog.completion());
    }

    @Benchmark
    @Threads(1)
    public void nettyExecute_1t(NettyLoop s) {
        s.backlog.acquire();
        s.loop.execute(s.backlog.completion());
    }

    // ---------------------------------------------------------------- two threads

    @Benchmark
    @Threads(2)
    public boolean taskletSchedule_2t(PendingTasklet s) {
        return s.tasklet.schedule();
    }

    @Benchmark
    @Threads(2)
    public boolean baselineVolatileRead_2t(VolatileFlag s) {
        return s.pending;
    }

    @Benchmark
    @Threads(2)
    public boolean drainLoopSchedule_2t(PendingDrainLoop s) {
        return s.drainLoop.schedule();
    }

    @Benchmark
    @Threads(2)
    public void tpeExecute_2t(Tpe s) {
        s.backlog.acquire();
        s.executor.execute(s.backlog.completion());
    }

    @Benchmark
    @Threads(2)
    public void nettyExecute_2t(NettyLoop s) {
        s.backlog.acquire();
        s.loop.execute(s.backlog.completion());
    }
}

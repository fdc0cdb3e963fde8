package io.kdefer.bench;

import io.kdefer.Kernel;
import io.kdefer.KernelStats;
import io.kdefer.bench.peers.DrainLoopExecutor;
import io.kdefer.bench.support.AtomicWord;
import io.kdefer.bench.support.ThreadMeter;
import io.kdefer.bench.support.ThreadSupport;
import io.kdefer.tasklet.Tasklet;
import io.netty.channel.DefaultEventLoop;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A tasklet that re-schedules itself from its own callback: how many runs per second one
 * virtual CPU sustains. This is the shape of a polling bottom half that keeps finding work.
 *
 * <p>One invocation is a chain of {@value #RUNS} runs: the benchmark thread arms the chain,
 * submits the first run and parks; each run submits the next from inside itself, and the last
 * one unparks the benchmark thread. The score is runs per second
 * ({@code @OperationsPerInvocation}), and {@code -prof gc} divides allocation by runs. The fixed
 * cost of an invocation (one wake-up at each end, tens of microseconds) is well under 1% of a
 * chain. Every trial checks at tear-down that the runs counted equal invocations times
 * {@value #RUNS}.
 *
 * <p>Peers, each re-submitting from inside its own task, on one consumer thread:
 * <ul>
 *   <li>{@code tasklet}: a kernel with one CPU. The first schedule comes from the benchmark
 *       thread (task context, so it wakes {@code ksoftirqd/0}); every later one comes from the
 *       callback, in softirq context on {@code ksoftirqd/0}, which runs one run per pass and
 *       10 passes per batch.</li>
 *   <li>{@code tpe}: {@code execute(this)} on a one-thread {@link ThreadPoolExecutor} with a
 *       {@link LinkedBlockingQueue}. Target: the tasklet at least 3x this rate.</li>
 *   <li>{@code netty}: {@code execute(this)} on a Netty {@link DefaultEventLoop} from its own
 *       thread (no wake-up needed). Target: the tasklet at least this rate.</li>
 *   <li>{@code drainLoop}: {@link DrainLoopExecutor#schedule()} from inside its task, over a
 *       one-thread {@link ThreadPoolExecutor}: the flag CAS plus one {@code execute} per run.</li>
 * </ul>
 *
 * <p>Each iteration also prints the consumer thread's CPU time per run and its share of the
 * iteration's wall time ({@link ThreadMeter}). On a shared host the wall-clock score falls
 * whenever the consumer is descheduled; the CPU time per run does not.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
public class TaskletSelfRescheduleBenchmark {
    /** Runs per invocation. */
    public static final int RUNS = 100_000;

    /**
     * One chain of {@link #RUNS} runs. {@code remaining} and {@code runs} are plain fields: the
     * runs of a chain are serialised by the mechanism under test, which also orders them.
     */
    abstract static class Chain {
        private volatile boolean done;   // A: set by the last run
        private Thread waiter;           // written before the chain starts, read by its last run
        int remaining;                   // runs left in this chain
        long runs;                       // runs over the trial
        long invocations;                // benchmark thread only
        Thread consumer;                 // the thread the runs execute on, set by setUp
        private ThreadMeter meter;

        @Setup(Level.Iteration)
        public void startMeter() {
            if (meter == null) {
                meter = new ThreadMeter(consumer);
            }
            meter.start(invocations * RUNS);
        }

        @TearDown(Level.Iteration)
        public void stopMeter() {
            meter.stop(invocations * RUNS);
        }

        final void arm() {
            waiter = Thread.currentThread();
            remaining = RUNS;
            done = false;
        }

        /** Called by each run; true when the run must submit the next one. */
        final boolean step() {
            runs++;
            if (--remaining > 0) {
                return true;
            }
            done = true;
            LockSupport.unpark(waiter);
            return false;
        }

        final void await() {
            while (!done) {
                LockSupport.park(this);
            }
            invocations++;
        }

        final void checkRuns(long counted) {
            if (runs != invocations * RUNS || counted != runs) {
                throw new IllegalStateException(getClass().getSimpleName() + ": " + invocations
                        + " invocations, but " + runs + " runs counted by the chain and " + counted + " by the peer");
            }
        }
    }

    @State(Scope.Benchmark)
    public static class TaskletChain extends Chain {
        Kernel kernel;
        Tasklet tasklet;

        @Setup(Level.Trial)
        public void setUp() {
            kernel = Kernel.builder().cpus(1).build();
            tasklet = Tasklet.setup(kernel, t -> {
                if (step()) {
                    t.schedule();
                }
            });
            consumer = ThreadSupport.named("ksoftirqd/0");
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            kernel.close();
            checkRuns(kernel.stats().total(KernelStats.Counter.TASKLET_RUNS));
        }
    }

    @State(Scope.Benchmark)
    public static class TpeChain extends Chain implements Runnable {
        ThreadPoolExecutor executor;

        @Setup(Level.Trial)
        public void setUp() {
            AtomicReference<Thread> worker = new AtomicReference<>();
            executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                    ThreadSupport.single("tpe-worker", worker));
            executor.prestartAllCoreThreads();
            consumer = worker.get();
        }

        @Override
        public void run() {
            if (step()) {
                executor.execute(this);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(executor);
            checkRuns(executor.getCompletedTaskCount());
        }
    }

    @State(Scope.Benchmark)
    public static class NettyChain extends Chain implements Runnable {
        DefaultEventLoop loop;

        @Setup(Level.Trial)
        public void setUp() {
            AtomicReference<Thread> thread = new AtomicReference<>();
            loop = new DefaultEventLoop(ThreadSupport.single("netty-loop", thread));
            loop.submit(() -> { }).syncUninterruptibly();   // start its thread
            consumer = thread.get();
        }

        @Override
        public void run() {
            if (step()) {
                loop.execute(this);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(loop);
            checkRuns(runs);
        }
    }

    @State(Scope.Benchmark)
    public static class DrainLoopChain extends Chain implements Runnable {
        DrainLoopExecutor drainLoop;
        private ThreadPoolExecutor executor;

        @Setup(Level.Trial)
        public void setUp() {
            AtomicReference<Thread> worker = new AtomicReference<>();
            executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                    ThreadSupport.single("drain-loop-worker", worker));
            executor.prestartAllCoreThreads();
            consumer = worker.get();
            drainLoop = new DrainLoopExecutor(executor, this);
        }

        @Override
        public void run() {
            if (step()) {
                drainLoop.schedule();
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(executor);
            checkRuns(executor.getCompletedTaskCount());
        }
    }

    /**
     * The floor under a faithful run, no tasklet involved: the three read-modify-writes of the
     * state word that every run of a self-rescheduling tasklet makes (the callback's schedule sets
     * SCHED, the runner swaps SCHED for RUN, the unlock clears RUN), on one thread with nothing
     * else, {@value #RUNS} times per invocation.
     */
    @State(Scope.Thread)
    public static class StateWord extends AtomicWord {
    }

    @Benchmark
    @OperationsPerInvocation(RUNS)
    public int stateWordFloor(StateWord w) {
        int sum = 0;
        for (int i = 0; i < RUNS; i++) {
            sum += (int) AtomicWord.WORD.getAndBitwiseOr(w, 1);          // schedule: SCHED
            sum += AtomicWord.WORD.compareAndSet(w, 1, 2) ? 1 : 0;       // runner: SCHED -> RUN
            sum += (int) AtomicWord.WORD.getAndBitwiseAnd(w, ~2);        // unlock: RUN off
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(RUNS)
    public void tasklet(TaskletChain c) {
        c.arm();
        c.tasklet.schedule();
        c.await();
    }

    @Benchmark
    @OperationsPerInvocation(RUNS)
    public void tpe(TpeChain c) {
        c.arm();
        c.executor.execute(c);
        c.await();
    }

    @Benchmark
    @OperationsPerInvocation(RUNS)
    public void netty(NettyChain c) {
        c.arm();
        c.loop.execute(c);
        c.await();
    }

    @Benchmark
    @OperationsPerInvocation(RUNS)
    public void drainLoop(DrainLoopChain c) {
        c.arm();
        c.drainLoop.schedule();
        c.await();
    }
}

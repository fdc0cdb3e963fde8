package io.kdefer.bench;

import io.kdefer.IdleStrategy;
import io.kdefer.Kernel;
import io.kdefer.bench.peers.ParkHandOff;
import io.kdefer.bench.peers.SpinHandOff;
import io.kdefer.bench.support.AckCounter;
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

/**
 * Wake-up latency: a thread outside the kernel schedules a tasklet; the time until its callback
 * has run, per operation (SampleTime, so the score comes with percentiles).
 *
 * <p>Shape of every method: the benchmark thread hands one unit of work to a consumer thread (a
 * schedule, an {@code execute}, a request) and spins with {@link Thread#onSpinWait()} until the
 * consumer's acknowledgement (a counter it bumps) becomes visible. Each sample is therefore the
 * one-way hand-off plus one cache-line transfer back to a spinning reader (tens of nanoseconds),
 * the same for every method.
 *
 * <p>Two families, each measured from the consumer state it is built for:
 * <ul>
 *   <li><b>Parked consumers</b> ({@code taskletPark}, {@code tpe}, {@code netty},
 *       {@code baselineParkHandOff}): before each operation, outside the timed region, the
 *       benchmark thread waits until the consumer thread is parked, so every sample includes a
 *       real {@code unpark} wake-up instead of sometimes catching the consumer on its way to
 *       sleep. {@code baselineParkHandOff} is the bare {@code park}/{@code unpark} hand-off, the
 *       floor for this family.</li>
 *   <li><b>Spinning consumers</b> ({@code taskletSpin}, {@code baselineSpinHandOff}): operations
 *       follow each other at once, so the consumer is still in its spin phase (the kernel's
 *       {@link IdleStrategy#spin()} spins 50 µs before it parks); for the tasklet, outside the
 *       timed region, the benchmark thread first waits until the previous run has dropped RUN,
 *       so that a sample never starts while the consumer is still finishing the last one. {@code baselineSpinHandOff} is
 *       two threads pinging a volatile counter, the floor for this family. Both need two free
 *       cores: on a loaded host, a descheduled spinner turns samples into scheduler delays.</li>
 * </ul>
 * The kernels have one CPU. The benchmark thread is a task on CPU 0, so a schedule raises
 * {@code TASKLET_SOFTIRQ} from task context and wakes {@code ksoftirqd/0}, which runs the
 * callback.
 *
 * <p>Each iteration also prints the consumer's CPU time and the allocation of the consumer and of
 * the benchmark thread per operation ({@link ThreadMeter}): at these rates the JVM-wide
 * {@code -prof gc} figure is dominated by background allocation, so compare it with the
 * baselines', or read the per-thread figure.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class TaskletWakeupLatencyBenchmark {

    // ---------------------------------------------------------------- states

    /** Something with a consumer thread and a counter of the operations it served. */
    public abstract static class Target {
        private ThreadMeter meter;

        abstract Thread consumer();

        abstract long served();

        @Setup(Level.Iteration)
        public void startMeter() {
            if (meter == null) {
                meter = new ThreadMeter(consumer());
            }
            meter.start(served());
        }

        @TearDown(Level.Iteration)
        public void stopMeter() {
            meter.stop(served());
        }
    }

    /** A one-CPU kernel and a tasklet whose callback counts its runs. */
    public abstract static class KernelTarget extends Target {
        Kernel kernel;
        Tasklet tasklet;
        final AckCounter runs = new AckCounter();   // bumped only by the callback (runs are serialised)
        Thread ksoftirqd;

        final void start(IdleStrategy idle) {
            kernel = Kernel.builder().cpus(1).idleStrategy(idle).build();
            tasklet = Tasklet.setup(kernel, t -> runs.bump());
            ksoftirqd = ThreadSupport.named("ksoftirqd/0");
            tasklet.schedule();
            while (runs.get() == 0) {
                Thread.onSpinWait();
            }
        }

        @Override
        Thread consumer() {
            return ksoftirqd;
        }

        @Override
        long served() {
            return runs.get();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            kernel.close();
        }
    }

    @State(Scope.Benchmark)
    public static class ParkKernel extends KernelTarget {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.park());
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            ThreadSupport.awaitIdle(ksoftirqd);
        }
    }

    @State(Scope.Benchmark)
    public static class SpinKernel extends KernelTarget {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.spin());
        }

        /**
         * The callback bumps {@code runs} before its runner drops RUN and leaves the pass; a
         * schedule issued in that window would race the runner's unlock for the state word and
         * land in a restart pass instead of reaching an idle consumer. Wait, outside the timed
         * region, until the run has finished.
         */
        @Setup(Level.Invocation)
        public void awaitRunEnd() {
            while (tasklet.isRunning()) {
                Thread.onSpinWait();
            }
        }
    }

    /** A one-thread {@link ThreadPoolExecutor} ({@link LinkedBlockingQueue}); the task counts its runs. */
    @State(Scope.Benchmark)
    public static class Tpe extends Target {
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

        @Override
        Thread consumer() {
            return worker.get();
        }

        @Override
        long served() {
            return runs.get();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(executor);
        }
    }

    /** A Netty {@link DefaultEventLoop}; the task counts its runs. */
    @State(Scope.Benchmark)
    public static class NettyLoop extends Target {
        DefaultEventLoop loop;
        final AckCounter runs = new AckCounter();   // bumped only by the loop thread
        final Runnable task = runs::bump;
        private final AtomicReference<Thread> thread = new AtomicReference<>();

        @Setup(Level.Trial)
        public void setUp() {
            loop = new DefaultEventLoop(ThreadSupport.single("netty-loop", thread));
            loop.submit(() -> { }).syncUninterruptibly();   // start its thread
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            ThreadSupport.awaitIdle(thread.get());
        }

        @Override
        Thread consumer() {
            return thread.get();
        }

        @Override
        long served() {
            return runs.get();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(loop);
        }
    }

    @State(Scope.Benchmark)
    public static class SpinBaseline extends Target {
        SpinHandOff handOff;

        @Setup(Level.Trial)
        public void setUp() {
            handOff = new SpinHandOff();
        }

        @Override
        Thread consumer() {
            return handOff.partner();
        }

        @Override
        long served() {
            return handOff.served();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            handOff.close();
        }
    }

    @State(Scope.Benchmark)
    public static class ParkBaseline extends Target {
        ParkHandOff handOff;

        @Setup(Level.Trial)
        public void setUp() {
            handOff = new ParkHandOff();
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            ThreadSupport.awaitIdle(handOff.partner());
        }

        @Override
        Thread consumer() {
            return handOff.partner();
        }

        @Override
        long served() {
            return handOff.served();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            handOff.close();
        }
    }

    // ---------------------------------------------------------------- parked consumers

    @Benchmark
    public long taskletPark(ParkKernel k) {
        long target = k.runs.get() + 1;
        k.tasklet.schedule();
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
    public long netty(NettyLoop s) {
        long target = s.runs.get() + 1;
        s.loop.execute(s.task);
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

    // ---------------------------------------------------------------- spinning consumers

    @Benchmark
    public long taskletSpin(SpinKernel k) {
        long target = k.runs.get() + 1;
        k.tasklet.schedule();
        while (k.runs.get() < target) {
            Thread.onSpinWait();
        }
        return target;
    }

    @Benchmark
    public long baselineSpinHandOff(SpinBaseline s) {
        long target = s.handOff.request();
        while (s.handOff.served() < target) {
            Thread.onSpinWait();
        }
        return target;
    }
}

package io.kdefer.bench.timer;

import io.kdefer.testkit.TestKernels;
import io.kdefer.IdleStrategy;
import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.timer.KernelTimer;
import org.agrona.DeadlineTimerWheel;
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

import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Arm a batch of {@value #BATCH} timers and let every one of them expire; the score is the time
 * per expired timer (arm, expiry and callback, plus the subject's share of the clock work).
 *
 * <ul>
 *   <li>{@code kdeferArmExpire}: the benchmark thread arms the batch on CPU 0 at
 *       {@code jiffies + (i % ticks)}, then calls {@link ManualClock#tick()} {@code ticks} times.
 *       Each tick is a hardirq on {@code cpu/0} (a hand-off to that thread and back) whose
 *       irq_exit runs TIMER_SOFTIRQ, which calls the callbacks there. With {@code ticks = 1}
 *       the whole batch shares one bucket and one tick; with 16 it is spread over 16 buckets
 *       and 16 ticks. {@code idle} is the kernel's idle strategy for {@code cpu/0} between
 *       ticks: {@code park} (the default) pays a thread wake-up per tick, {@code spin} spins
 *       50 µs first.</li>
 *   <li>{@code agronaArmExpire}: the same batch and spread on a {@link DeadlineTimerWheel} (1 ms
 *       tick, 512 spokes) with a virtual clock; the benchmark thread advances the clock one tick
 *       at a time and calls {@code poll}. Everything stays on one thread: this is the data
 *       structure alone, with no hand-off.</li>
 *   <li>{@code stpeArmExpire}: {@link ScheduledThreadPoolExecutor} with one pool thread; the
 *       batch is scheduled with delay 0 and the benchmark thread spins until the pool thread has
 *       run all of it. A real-clock executor cannot be given a virtual clock, and a delay of
 *       a millisecond or more would measure waiting rather than work, so the executor gets the
 *       kindest case: nothing waits, the heap never holds more than the batch, and the pool
 *       thread expires tasks while the batch is still being scheduled.</li>
 * </ul>
 * Netty's {@code HashedWheelTimer} is left out: its worker only looks at the wheel once per tick
 * of at least 1 ms of real time, so a batch would measure that sleep.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED", "-Xms2g", "-Xmx2g"})
@OperationsPerInvocation(TimerArmExpireBenchmark.BATCH)
public class TimerArmExpireBenchmark {
    static final int BATCH = 1024;

    /** A kernel on a manual clock, and {@value #BATCH} timers that count their expiries. */
    @State(Scope.Thread)
    public static class KdeferState {
        @Param({"1", "16"})
        int ticks;

        @Param({"park", "spin"})
        String idle;

        ManualClock clock;
        Kernel kernel;
        KernelTimer[] timers;
        final AtomicLong fired = new AtomicLong();   // written by cpu/0 only
        long expected;

        @Setup(Level.Trial)
        public void setUp() {
            kernel = TimerWorkload.manualKernel("spin".equals(idle) ? IdleStrategy.spin() : IdleStrategy.park());
            clock = TestKernels.clock(kernel);
            timers = new KernelTimer[BATCH];
            AtomicLong counter = fired;
            for (int i = 0; i < BATCH; i++) {
                timers[i] = KernelTimer.setup(kernel, t -> counter.lazySet(counter.get() + 1));
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            TimerWorkload.closeKdefer(kernel, timers);
        }
    }

    /** An Agrona wheel on a virtual clock that only the benchmark thread moves. */
    @State(Scope.Thread)
    public static class AgronaState implements DeadlineTimerWheel.TimerHandler {
        @Param({"1", "16"})
        int ticks;

        DeadlineTimerWheel wheel;
        long now;
        long fired;

        @Setup(Level.Trial)
        public void setUp() {
            wheel = new DeadlineTimerWheel(TimeUnit.MILLISECONDS, 0, 1, 512, 16);
        }

        @Override
        public boolean onTimerExpiry(TimeUnit timeUnit, long now, long timerId) {
            fired++;
            return true;
        }
    }

    /** A one-thread scheduled executor whose tasks count their runs. */
    @State(Scope.Thread)
    public static class StpeState {
        ScheduledThreadPoolExecutor executor;
        final AtomicLong fired = new AtomicLong();   // written by the pool thread only
        Runnable task;
        long expected;

        @Setup(Level.Trial)
        public void setUp() {
            executor = new ScheduledThreadPoolExecutor(1, TimerArmCancelBenchmark.daemon("stpe-timer"));
            AtomicLong counter = fired;
            task = () -> counter.lazySet(counter.get() + 1);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            executor.shutdownNow();
            if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the executor did not terminate");
            }
        }
    }

    @Benchmark
    public long kdeferArmExpire(KdeferState s) {
        final KernelTimer[] timers = s.timers;
        final int ticks = s.ticks;
        final long now = s.kernel.jiffies();
        for (int i = 0; i < BATCH; i++) {
            timers[i].mod(now + (i % ticks));
        }
        s.clock.tick(ticks);
        long expected = s.expected + BATCH;
        s.expected = expected;
        // tick() returns after cpu/0's irq_exit ran the timers, unless that work was handed to
        // ksoftirqd/0; wait for the count either way
        while (s.fired.get() != expected) {
            Thread.onSpinWait();
        }
        return expected;
    }

    @Benchmark
    public long agronaArmExpire(AgronaState s) {
        final DeadlineTimerWheel w = s.wheel;
        final int ticks = s.ticks;
        long now = s.now;
        for (int i = 0; i < BATCH; i++) {
            w.scheduleTimer(now + 1 + (i % ticks));
        }
        // poll() looks at one spoke and moves at most one tick per call
        final long start = now;
        long expected = s.fired + BATCH;
        while (s.fired != expected) {
            if (++now - start > 4L * ticks + 8) {
                throw new IllegalStateException("the wheel did not expire the batch: " + s.fired + " of " + expected);
            }
            w.poll(now, s, Integer.MAX_VALUE);
        }
        s.now = now;
        return expected;
    }

    @Benchmark
    public long stpeArmExpire(StpeState s) {
        final ScheduledThreadPoolExecutor e = s.executor;
        final Runnable task = s.task;
        for (int i = 0; i < BATCH; i++) {
            e.schedule(task, 0, TimeUnit.NANOSECONDS);
        }
        long expected = s.expected + BATCH;
        s.expected = expected;
        while (s.fired.get() != expected) {
            Thread.onSpinWait();
        }
        return expected;
    }
}

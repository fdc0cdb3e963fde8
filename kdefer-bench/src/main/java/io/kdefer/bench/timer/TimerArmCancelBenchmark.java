package io.kdefer.bench.timer;

import io.kdefer.IdleStrategy;
import io.kdefer.testkit.TestKernels;
import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.bench.support.AtomicWord;
import io.kdefer.timer.KernelTimer;
import io.netty.util.HashedWheelTimer;
import io.netty.util.Timeout;
import io.netty.util.TimerTask;
import org.agrona.DeadlineTimerWheel;
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
import org.openjdk.jmh.infra.BenchmarkParams;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * Arm one timer and cancel it again while {@code pending} other timers are outstanding: the cost
 * of the pair on the caller's thread. {@code at} places the measured timer in the middle of the
 * population ({@code median}) or before all of it ({@code earliest}: it becomes the next timer to
 * fire, which a heap must sift to its root and which wakes the executor's waiting thread).
 *
 * <ul>
 *   <li>{@code kdeferArmCancel}: {@link KernelTimer#mod} of an inactive timer, then
 *       {@link KernelTimer#delete}, on a one-CPU kernel whose {@link ManualClock} is never ticked
 *       (nothing expires; the other timers sit on levels 0 to 6 of the wheel).</li>
 *   <li>{@code kdeferModify}: {@link KernelTimer#mod} of a pending timer to another expiry in
 *       another bucket (it alternates between two), the kernel's re-time of a pending timer.</li>
 *   <li>{@code stpeArmCancel}: {@link ScheduledThreadPoolExecutor#schedule} and
 *       {@code cancel(false)} with {@code removeOnCancelPolicy} on, so that the heap really shrinks
 *       (one pool thread, which waits for the earliest deadline, 15 minutes away). Cancelling
 *       the task just scheduled is the heap's cheapest removal: it is still at or near the end
 *       of the heap.</li>
 *   <li>{@code nettyArmCancel}: {@link HashedWheelTimer#newTimeout} and {@link Timeout#cancel()}
 *       (1 ms tick, 512 buckets). Only the caller's side is measured: both calls just queue the
 *       timeout for the wheel's worker thread, which does the bucket work concurrently.</li>
 *   <li>{@code agronaArmCancel}: {@link DeadlineTimerWheel#scheduleTimer} and
 *       {@link DeadlineTimerWheel#cancelTimer} (1 ms tick, 65,536 spokes, sized for the load: a
 *       million timers spread over 70 minutes leave about 15 per spoke, at most 34, and 17 in the
 *       measured timer's spoke; the wheel is never polled). Its schedule scans the spoke for a free
 *       slot, so it costs more as the spoke fills.</li>
 * </ul>
 * {@code lockFloor} is the two lock round trips alone, the least a wheel that any thread may arm
 * must pay per pair. The population and the measured delay are described in {@link TimerWorkload}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED", "-Xms2g", "-Xmx2g"})
public class TimerArmCancelBenchmark {

    /** A kdefer kernel with {@code pending} armed timers, and the timer the benchmark arms. */
    @State(Scope.Thread)
    public static class KdeferState {
        @Param({"1", "10000", "1000000"})
        int pending;

        @Param({"median", "earliest"})
        String at;

        ManualClock clock;
        Kernel kernel;
        KernelTimer[] others;
        KernelTimer timer;
        long expires;
        long expiresOther;
        boolean flip;

        @Setup(Level.Trial)
        public void setUp(BenchmarkParams params) {
            kernel = TimerWorkload.manualKernel(IdleStrategy.park());
            clock = TestKernels.clock(kernel);
            others = TimerWorkload.armKdefer(kernel, TimerWorkload.otherDelays(pending));
            timer = KernelTimer.setup(kernel, TimerWorkload.NEVER_FIRES);
            long now = kernel.jiffies();
            expires = now + TimerWorkload.measuredDelay(at);
            // another bucket: two level-6 granules (2 x 262,144 jiffies) later for the median
            // delay; the next level-0 bucket (still before every other timer) for the earliest
            expiresOther = expires + (TimerWorkload.measuredDelay(at) == 0 ? 1 : 1L << 19);
            if (params.getBenchmark().endsWith("kdeferModify")) {
                timer.mod(expires);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (timer != null) {
                timer.delete();
            }
            TimerWorkload.closeKdefer(kernel, others);
        }
    }

    /** A one-thread scheduled executor holding {@code pending} scheduled tasks. */
    @State(Scope.Thread)
    public static class StpeState {
        @Param({"1", "10000", "1000000"})
        int pending;

        @Param({"median", "earliest"})
        String at;

        ScheduledThreadPoolExecutor executor;
        final Runnable task = () -> { };
        long delayMs;

        @Setup(Level.Trial)
        public void setUp() {
            executor = new ScheduledThreadPoolExecutor(1, daemon("stpe-timer"));
            executor.setRemoveOnCancelPolicy(true);
            for (long d : TimerWorkload.otherDelays(pending)) {
                executor.schedule(task, TimerWorkload.REAL_CLOCK_OFFSET_MS + d, TimeUnit.MILLISECONDS);
            }
            delayMs = TimerWorkload.REAL_CLOCK_OFFSET_MS + TimerWorkload.measuredDelay(at);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            executor.shutdownNow();
            if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the executor did not terminate");
            }
        }
    }

    /** A Netty hashed wheel holding {@code pending} timeouts. */
    @State(Scope.Thread)
    public static class NettyState {
        @Param({"1", "10000", "1000000"})
        int pending;

        @Param({"median", "earliest"})
        String at;

        HashedWheelTimer timer;
        final TimerTask task = timeout -> { };
        long delayMs;

        @Setup(Level.Trial)
        public void setUp() throws InterruptedException {
            timer = new HashedWheelTimer(daemon("netty-wheel"), 1, TimeUnit.MILLISECONDS, 512, false, -1);
            timer.start();
            for (long d : TimerWorkload.otherDelays(pending)) {
                timer.newTimeout(task, TimerWorkload.REAL_CLOCK_OFFSET_MS + d, TimeUnit.MILLISECONDS);
            }
            // the worker moves at most 100,000 new timeouts per tick into the buckets: let it
            // finish, so that the measurement starts with the population in place
            Thread.sleep(50 + pending / 100_000 * 5L);
            delayMs = TimerWorkload.REAL_CLOCK_OFFSET_MS + TimerWorkload.measuredDelay(at);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            timer.stop();
        }
    }

    /** An Agrona deadline wheel (never polled) holding {@code pending} timers. */
    @State(Scope.Thread)
    public static class AgronaState {
        @Param({"1", "10000", "1000000"})
        int pending;

        @Param({"median", "earliest"})
        String at;

        DeadlineTimerWheel wheel;
        long deadline;

        @Setup(Level.Trial)
        public void setUp() {
            wheel = new DeadlineTimerWheel(TimeUnit.MILLISECONDS, 0, 1, 1 << 16, 16);
            for (long d : TimerWorkload.otherDelays(pending)) {
                wheel.scheduleTimer(d);
            }
            deadline = TimerWorkload.measuredDelay(at);
        }
    }

    /**
     * The floor under any wheel that every thread may arm: one uncontended lock round trip for the
     * arm and one for the cancel (a CAS to take the lock, a release store to drop it, as the
     * wheel's base lock does), with no wheel work at all.
     */
    @State(Scope.Thread)
    public static class LockWord extends AtomicWord {
    }

    @Benchmark
    public boolean lockFloor(LockWord w) {
        boolean armed = AtomicWord.WORD.compareAndSet(w, 0, 1);
        AtomicWord.WORD.setRelease(w, 0);
        boolean cancelled = AtomicWord.WORD.compareAndSet(w, 0, 1);
        AtomicWord.WORD.setRelease(w, 0);
        return armed & cancelled;
    }

    @Benchmark
    public boolean kdeferArmCancel(KdeferState s) {
        KernelTimer t = s.timer;
        t.mod(s.expires);
        return t.delete();
    }

    @Benchmark
    public boolean kdeferModify(KdeferState s) {
        boolean flip = !s.flip;
        s.flip = flip;
        return s.timer.mod(flip ? s.expiresOther : s.expires);
    }

    @Benchmark
    public boolean stpeArmCancel(StpeState s) {
        ScheduledFuture<?> f = s.executor.schedule(s.task, s.delayMs, TimeUnit.MILLISECONDS);
        return f.cancel(false);
    }

    @Benchmark
    public boolean nettyArmCancel(NettyState s) {
        Timeout t = s.timer.newTimeout(s.task, s.delayMs, TimeUnit.MILLISECONDS);
        return t.cancel();
    }

    @Benchmark
    public boolean agronaArmCancel(AgronaState s) {
        DeadlineTimerWheel w = s.wheel;
        long id = w.scheduleTimer(s.deadline);
        return w.cancelTimer(id);
    }

    static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }
}

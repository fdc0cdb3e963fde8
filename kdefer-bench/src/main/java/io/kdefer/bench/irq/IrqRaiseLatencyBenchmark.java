package io.kdefer.bench.irq;

import com.lmax.disruptor.BlockingWaitStrategy;
import com.lmax.disruptor.BusySpinWaitStrategy;
import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.WaitStrategy;
import com.lmax.disruptor.dsl.Disruptor;
import com.lmax.disruptor.dsl.ProducerType;
import io.kdefer.IdleStrategy;
import io.kdefer.Kernel;
import io.kdefer.bench.peers.ParkHandOff;
import io.kdefer.bench.peers.SpinHandOff;
import io.kdefer.bench.support.AckCounter;
import io.kdefer.bench.support.ThreadSupport;
import io.kdefer.irq.IrqFlag;
import io.kdefer.irq.IrqHandler;
import io.kdefer.irq.IrqReturn;
import io.kdefer.irq.Irqs;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
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
 * Interrupt latency: a thread outside the kernel raises an interrupt line; the time until the
 * line's handler has run, per raise (SampleTime, so the score comes with percentiles).
 *
 * <p>Shape of every method, as in {@code TaskletWakeupLatencyBenchmark}: the benchmark thread
 * hands one unit of work to a consumer (a raise, a ring-buffer publish, a queue offer, an
 * {@code execute}) and spins with {@link Thread#onSpinWait()} until the consumer's acknowledgement
 * counter ({@link AckCounter}, alone on its cache line) shows it done. A sample is the one-way
 * hand-off plus one cache-line transfer back to a spinning reader, the same for every method.
 *
 * <p>kdefer subjects, each on a one-CPU kernel with line {@value #IRQ} (delivered to {@code cpu/0}):
 * <ul>
 *   <li>{@code primary*}: {@code requestIrq}; the handler bumps the counter in hardirq context on
 *       {@code cpu/0}.</li>
 *   <li>{@code thread*}: {@code requestThreadedIrq} with a primary handler that returns
 *       {@link IrqReturn#WAKE_THREAD}; the thread function bumps the counter in
 *       {@code irq/10-bench}. Two hand-offs: the benchmark thread to {@code cpu/0}, then
 *       {@code cpu/0} to the irq thread.</li>
 *   <li>{@code oneshot*}: {@code requestThreadedIrq} with a {@code null} primary (the default one,
 *       which only wakes the thread) and {@link IrqFlag#ONESHOT}. The line stays masked until the
 *       thread function has returned and the thread has unmasked it; before each raise, outside
 *       the timed region, the benchmark thread waits for the unmask, so a sample never includes
 *       a raise latched on a masked line and replayed later.</li>
 * </ul>
 *
 * <p>Two families, each measured from the consumer state it is built for:
 * <ul>
 *   <li><b>Spinning consumers</b>: {@code primarySpin}, {@code threadSpin}, {@code oneshotSpin}
 *       ({@link IdleStrategy#spin()}: 50 µs of spinning before a park), LMAX Disruptor with
 *       {@link BusySpinWaitStrategy} ({@code disruptorBusySpin}), an Agrona
 *       {@link OneToOneConcurrentArrayQueue} drained by an {@link AgentRunner} with
 *       {@link BusySpinIdleStrategy} ({@code agronaBusySpin}), and {@code baselineSpinHandOff}
 *       (two threads pinging a volatile counter, the floor). Raises follow each other at once, so
 *       the consumers are still spinning.</li>
 *   <li><b>Parked consumers</b>: {@code primaryPark}, {@code threadPark}, {@code oneshotPark}
 *       ({@link IdleStrategy#park()}), Disruptor with {@link BlockingWaitStrategy}
 *       ({@code disruptorBlocking}), a one-thread {@link ThreadPoolExecutor} ({@code tpe}) and
 *       {@code baselineParkHandOff} (bare {@code park}/{@code unpark}, the floor). Before each
 *       operation, outside the timed region, the benchmark thread waits until every consumer
 *       thread is parked, so every sample pays the real wake-ups (two of them for the threaded
 *       lines).</li>
 * </ul>
 * The threaded spin methods have three spinning threads (the benchmark thread, {@code cpu/0} and
 * the irq thread) on a 2-core host; kdefer's spin phase yields every 128 spins, which lets them
 * share the cores.
 *
 * <p>Each iteration prints the CPU time and the allocation per operation of every consumer
 * thread and the allocation of the benchmark thread ({@link ThreadsMeter}). At tear-down the
 * kdefer fixtures check that the line counted exactly one interrupt per acknowledgement (no raise
 * was lost or merged) and that the line is still enabled.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class IrqRaiseLatencyBenchmark {
    /** The line the kdefer subjects raise; with one CPU it is delivered to {@code cpu/0}. */
    static final int IRQ = 10;
    static final String NAME = "bench";

    // ---------------------------------------------------------------- states

    /** Something with consumer threads and a counter of the operations they acknowledged. */
    public abstract static class Target {
        private ThreadsMeter meter;

        abstract Thread[] consumers();

        abstract long served();

        @Setup(Level.Iteration)
        public void startMeter() {
            if (meter == null) {
                meter = new ThreadsMeter(consumers());
            }
            meter.start(served());
        }

        @TearDown(Level.Iteration)
        public void stopMeter() {
            meter.stop(served());
        }

        /** Waits until every consumer thread is parked (the parked family's invocation fixture). */
        final void awaitConsumersIdle() {
            for (Thread t : consumers()) {
                ThreadSupport.awaitIdle(t);
            }
        }
    }

    /** How the kdefer line is requested. */
    enum Shape { PRIMARY, THREAD, ONESHOT }

    /** A one-CPU kernel with line {@link #IRQ} requested; the handler that runs last bumps {@link #acks}. */
    public abstract static class Line extends Target {
        Kernel kernel;
        Irqs irqs;
        final AckCounter acks = new AckCounter();   // bumped only by the acknowledging handler (runs are serialised)
        private Thread[] consumers;
        private final Object dev = new Object();
        private final IrqHandler ack = (irq, dev) -> {
            acks.bump();
            return IrqReturn.HANDLED;
        };
        private final IrqHandler wake = (irq, dev) -> IrqReturn.WAKE_THREAD;

        final void start(IdleStrategy idle, Shape shape) {
            kernel = Kernel.builder().cpus(1).idleStrategy(idle).build();
            irqs = kernel.irqs();
            switch (shape) {
                case PRIMARY:
                    irqs.requestIrq(IRQ, ack, NAME, dev);
                    break;
                case THREAD:
                    irqs.requestThreadedIrq(IRQ, wake, ack, NAME, dev);
                    break;
                case ONESHOT:
                    irqs.requestThreadedIrq(IRQ, null, ack, NAME, dev, IrqFlag.ONESHOT);
                    break;
                default:
                    throw new AssertionError(shape);
            }
            irqs.raise(IRQ);
            while (acks.get() == 0) {
                Thread.onSpinWait();
            }
            Thread cpu = ThreadSupport.named("cpu/0");
            consumers = shape == Shape.PRIMARY
                    ? new Thread[] {cpu}
                    : new Thread[] {cpu, ThreadSupport.named("irq/" + IRQ + "-" + NAME)};
        }

        /** ONESHOT lines: waits until the thread unmasked the line after the previous run. */
        final void awaitUnmasked() {
            while (irqs.isMasked(IRQ)) {
                Thread.onSpinWait();
            }
        }

        @Override
        Thread[] consumers() {
            return consumers;
        }

        @Override
        long served() {
            return acks.get();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            try {
                irqs.synchronizeIrq(IRQ);
                long counted = irqs.count(IRQ, 0);
                if (counted != acks.get()) {
                    throw new IllegalStateException("line " + IRQ + " counted " + counted + " interrupts, handler ran "
                            + acks.get() + " times");
                }
                if (irqs.isDisabled(IRQ)) {
                    throw new IllegalStateException("line " + IRQ + " was disabled:\n" + irqs.spurious(IRQ));
                }
                irqs.freeIrq(IRQ, dev);
            } finally {
                kernel.close();
            }
        }
    }

    @State(Scope.Benchmark)
    public static class PrimarySpin extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.spin(), Shape.PRIMARY);
        }
    }

    @State(Scope.Benchmark)
    public static class PrimaryPark extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.park(), Shape.PRIMARY);
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            awaitConsumersIdle();
        }
    }

    @State(Scope.Benchmark)
    public static class ThreadSpin extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.spin(), Shape.THREAD);
        }
    }

    @State(Scope.Benchmark)
    public static class ThreadPark extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.park(), Shape.THREAD);
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            awaitConsumersIdle();
        }
    }

    @State(Scope.Benchmark)
    public static class OneshotSpin extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.spin(), Shape.ONESHOT);
        }

        @Setup(Level.Invocation)
        public void awaitLine() {
            awaitUnmasked();
        }
    }

    @State(Scope.Benchmark)
    public static class OneshotPark extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.park(), Shape.ONESHOT);
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            awaitConsumersIdle();   // the irq thread parks only after it unmasked the line
        }
    }

    /** One slot of the ring buffer; the producer writes the sequence into it. */
    static final class Slot {
        long value;
    }

    /** LMAX Disruptor, one producer, one consumer handler that bumps the counter. */
    public abstract static class DisruptorTarget extends Target {
        Disruptor<Slot> disruptor;
        RingBuffer<Slot> ring;
        final AckCounter acks = new AckCounter();   // bumped only by the handler thread
        private final AtomicReference<Thread> thread = new AtomicReference<>();

        final void start(WaitStrategy wait) {
            disruptor = new Disruptor<>(Slot::new, 1024, ThreadSupport.single("disruptor-handler", thread),
                    ProducerType.SINGLE, wait);
            disruptor.handleEventsWith((slot, sequence, endOfBatch) -> acks.bump());
            ring = disruptor.start();
        }

        @Override
        Thread[] consumers() {
            return new Thread[] {thread.get()};
        }

        @Override
        long served() {
            return acks.get();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            disruptor.halt();
            thread.get().join();
        }
    }

    @State(Scope.Benchmark)
    public static class DisruptorBusySpin extends DisruptorTarget {
        @Setup(Level.Trial)
        public void setUp() {
            start(new BusySpinWaitStrategy());
        }
    }

    @State(Scope.Benchmark)
    public static class DisruptorBlocking extends DisruptorTarget {
        @Setup(Level.Trial)
        public void setUp() {
            start(new BlockingWaitStrategy());
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            awaitConsumersIdle();
        }
    }

    /** Agrona: a one-to-one array queue drained by an agent on a busy-spinning {@link AgentRunner}. */
    @State(Scope.Benchmark)
    public static class AgronaBusySpin extends Target implements Agent {
        static final Object TOKEN = new Object();
        final OneToOneConcurrentArrayQueue<Object> queue = new OneToOneConcurrentArrayQueue<>(1024);
        final AckCounter acks = new AckCounter();   // bumped only by the agent thread
        private AgentRunner runner;
        private final AtomicReference<Thread> thread = new AtomicReference<>();

        @Setup(Level.Trial)
        public void setUp() {
            runner = new AgentRunner(new BusySpinIdleStrategy(), Throwable::printStackTrace, null, this);
            AgentRunner.startOnThread(runner, ThreadSupport.single("agrona-agent", thread));
        }

        @Override
        public int doWork() {
            if (queue.poll() == null) {
                return 0;
            }
            acks.bump();
            return 1;
        }

        @Override
        public String roleName() {
            return "agrona-agent";
        }

        @Override
        Thread[] consumers() {
            return new Thread[] {thread.get()};
        }

        @Override
        long served() {
            return acks.get();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            runner.close();
        }
    }

    /** A one-thread {@link ThreadPoolExecutor} ({@link LinkedBlockingQueue}); the task bumps the counter. */
    @State(Scope.Benchmark)
    public static class Tpe extends Target {
        ThreadPoolExecutor executor;
        final AckCounter acks = new AckCounter();   // bumped only by the worker
        final Runnable task = acks::bump;
        private final AtomicReference<Thread> worker = new AtomicReference<>();

        @Setup(Level.Trial)
        public void setUp() {
            executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                    ThreadSupport.single("tpe-worker", worker));
            executor.prestartAllCoreThreads();
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            awaitConsumersIdle();
        }

        @Override
        Thread[] consumers() {
            return new Thread[] {worker.get()};
        }

        @Override
        long served() {
            return acks.get();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            ThreadSupport.shutdown(executor);
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
        Thread[] consumers() {
            return new Thread[] {handOff.partner()};
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
            awaitConsumersIdle();
        }

        @Override
        Thread[] consumers() {
            return new Thread[] {handOff.partner()};
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

    // ---------------------------------------------------------------- spinning consumers

    @Benchmark
    public long primarySpin(PrimarySpin s) {
        return raiseAndAwait(s);
    }

    @Benchmark
    public long threadSpin(ThreadSpin s) {
        return raiseAndAwait(s);
    }

    @Benchmark
    public long oneshotSpin(OneshotSpin s) {
        return raiseAndAwait(s);
    }

    @Benchmark
    public long disruptorBusySpin(DisruptorBusySpin s) {
        return publishAndAwait(s);
    }

    @Benchmark
    public long agronaBusySpin(AgronaBusySpin s) {
        long target = s.acks.get() + 1;
        s.queue.offer(AgronaBusySpin.TOKEN);
        return awaitAck(s.acks, target);
    }

    @Benchmark
    public long baselineSpinHandOff(SpinBaseline s) {
        long target = s.handOff.request();
        while (s.handOff.served() < target) {
            Thread.onSpinWait();
        }
        return target;
    }

    // ---------------------------------------------------------------- parked consumers

    @Benchmark
    public long primaryPark(PrimaryPark s) {
        return raiseAndAwait(s);
    }

    @Benchmark
    public long threadPark(ThreadPark s) {
        return raiseAndAwait(s);
    }

    @Benchmark
    public long oneshotPark(OneshotPark s) {
        return raiseAndAwait(s);
    }

    @Benchmark
    public long disruptorBlocking(DisruptorBlocking s) {
        return publishAndAwait(s);
    }

    @Benchmark
    public long tpe(Tpe s) {
        long target = s.acks.get() + 1;
        s.executor.execute(s.task);
        return awaitAck(s.acks, target);
    }

    @Benchmark
    public long baselineParkHandOff(ParkBaseline s) {
        long target = s.handOff.request();
        while (s.handOff.served() < target) {
            Thread.onSpinWait();
        }
        return target;
    }

    // ---------------------------------------------------------------- the shared hand-off shapes

    /** Raises the line and spins until its last handler acknowledged. */
    private static long raiseAndAwait(Line s) {
        long target = s.acks.get() + 1;
        s.irqs.raise(IRQ);
        return awaitAck(s.acks, target);
    }

    /** Publishes one event to the Disruptor and spins until its handler acknowledged. */
    private static long publishAndAwait(DisruptorTarget s) {
        long target = s.acks.get() + 1;
        RingBuffer<Slot> ring = s.ring;
        long sequence = ring.next();
        ring.get(sequence).value = sequence;
        ring.publish(sequence);
        return awaitAck(s.acks, target);
    }

    private static long awaitAck(AckCounter acks, long target) {
        while (acks.get() < target) {
            Thread.onSpinWait();
        }
        return target;
    }
}

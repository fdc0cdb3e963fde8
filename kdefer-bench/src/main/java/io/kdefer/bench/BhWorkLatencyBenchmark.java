package io.kdefer.bench;

import io.kdefer.IdleStrategy;
import io.kdefer.Kernel;
import io.kdefer.bench.support.AckCounter;
import io.kdefer.bench.support.ThreadMeter;
import io.kdefer.bench.support.ThreadSupport;
import io.kdefer.irq.IrqHandler;
import io.kdefer.irq.IrqReturn;
import io.kdefer.irq.Irqs;
import io.kdefer.tasklet.Tasklet;
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

import java.util.concurrent.TimeUnit;

/**
 * The BH workqueue against the tasklet it replaces (Linux 6.9+): an interrupt line is raised from
 * a thread outside the kernel; its hardirq handler either queues a work item on
 * {@code system_bh_wq} or schedules a tasklet, and the time until that item's function (or the
 * tasklet's callback) has run is measured per raise (SampleTime: read the p50).
 *
 * <p>Both run in {@code TASKLET_SOFTIRQ} on the way out of the interrupt ({@code irq_exit}) on
 * {@code cpu/0} of a one-CPU kernel, the BH items first: the difference is the cost of the BH
 * pool (its lock, the busy table, clearing PENDING with an atomic RMW) against the tasklet's list
 * and state word. {@code primary*} acknowledges in the hardirq handler itself, the floor both are
 * measured against.
 *
 * <p>Shape of every method, as in {@code IrqRaiseLatencyBenchmark}: the benchmark thread raises
 * the line and spins until the acknowledgement counter ({@link AckCounter}) shows the deferred
 * function done. Two families:
 * <ul>
 *   <li><b>Parked</b> ({@link IdleStrategy#park()}): {@code bhWorkPark}, {@code taskletPark},
 *       {@code primaryPark}. Before each raise, outside the timed region, the benchmark thread
 *       waits until {@code cpu/0} is parked, so every sample includes its wake-up.</li>
 *   <li><b>Spinning</b> ({@link IdleStrategy#spin()}): {@code bhWorkSpin}, {@code taskletSpin},
 *       {@code primarySpin}: raises follow each other, {@code cpu/0} is still spinning. Needs two
 *       free cores.</li>
 * </ul>
 * Each iteration prints {@code cpu/0}'s CPU time and allocation per raise ({@link ThreadMeter});
 * the target for the BH item, as for the tasklet, is 0 B per raise.
 *
 * <p>To measure (build first: {@code mvn -B -ntp -q -o -pl kdefer-bench -am package -DskipTests}):
 * <pre>
 *   java -jar kdefer-bench/target/benchmarks.jar BhWorkLatencyBenchmark -f 3 -wi 3 -w 1s -i 5 -r 1s \
 *       -prof gc -rf json -rff BhWorkLatencyBenchmark.json
 * </pre>
 * and compare the p50 of {@code bhWork*} with {@code tasklet*} and {@code primary*} of the same
 * family, on a quiet machine with at least 2 free cores.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class BhWorkLatencyBenchmark {
    /** The line raised; with one CPU it is delivered to {@code cpu/0}. */
    static final int IRQ = 11;
    static final String NAME = "bench-bh";

    /** What the hardirq handler does. */
    enum Shape { BH_WORK, TASKLET, PRIMARY }

    /** A one-CPU kernel with line {@link #IRQ} requested; the deferred function bumps {@link #acks}. */
    public abstract static class Line {
        Kernel kernel;
        Irqs irqs;
        final AckCounter acks = new AckCounter();   // bumped by one function at a time
        private final Object dev = new Object();
        private Thread cpu0;
        private ThreadMeter meter;
        private Work work;
        private Tasklet tasklet;
        private Workqueue bh;
        private long refused;   // queue()/schedule() calls that found the item still pending

        final void start(IdleStrategy idle, Shape shape) {
            kernel = Kernel.builder().cpus(1).idleStrategy(idle).build();
            irqs = kernel.irqs();
            bh = kernel.systemBhWq();
            work = new Work(w -> acks.bump());
            tasklet = Tasklet.setup(kernel, t -> acks.bump());
            IrqHandler handler;
            switch (shape) {
                case BH_WORK:
                    handler = (irq, d) -> {
                        if (!bh.queue(work)) {
                            refused++;
                        }
                        return IrqReturn.HANDLED;
                    };
                    break;
                case TASKLET:
                    handler = (irq, d) -> {
                        if (!tasklet.schedule()) {
                            refused++;
                        }
                        return IrqReturn.HANDLED;
                    };
                    break;
                case PRIMARY:
                    handler = (irq, d) -> {
                        acks.bump();
                        return IrqReturn.HANDLED;
                    };
                    break;
                default:
                    throw new AssertionError(shape);
            }
            irqs.requestIrq(IRQ, handler, NAME, dev);
            irqs.raise(IRQ);
            while (acks.get() == 0) {
                Thread.onSpinWait();
            }
            cpu0 = ThreadSupport.named("cpu/0");
        }

        @Setup(Level.Iteration)
        public void startMeter() {
            if (meter == null) {
                meter = new ThreadMeter(cpu0);
            }
            meter.start(acks.get());
        }

        @TearDown(Level.Iteration)
        public void stopMeter() {
            meter.stop(acks.get());
        }

        /** Parked family: waits, outside the timed region, until {@code cpu/0} sleeps. */
        final void awaitCpuIdle() {
            ThreadSupport.awaitIdle(cpu0);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            try {
                irqs.synchronizeIrq(IRQ);
                long counted = irqs.count(IRQ, 0);
                if (counted != acks.get() || refused != 0) {
                    throw new IllegalStateException("line " + IRQ + " counted " + counted + " interrupts, the deferred"
                            + " function ran " + acks.get() + " times, " + refused + " hand-offs found it pending");
                }
                irqs.freeIrq(IRQ, dev);
            } finally {
                kernel.close();
            }
        }
    }

    @State(Scope.Benchmark)
    public static class BhWorkPark extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.park(), Shape.BH_WORK);
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            awaitCpuIdle();
        }
    }

    @State(Scope.Benchmark)
    public static class TaskletPark extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.park(), Shape.TASKLET);
        }

        @Setup(Level.Invocation)
        public void awaitIdle() {
            awaitCpuIdle();
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
            awaitCpuIdle();
        }
    }

    @State(Scope.Benchmark)
    public static class BhWorkSpin extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.spin(), Shape.BH_WORK);
        }
    }

    @State(Scope.Benchmark)
    public static class TaskletSpin extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.spin(), Shape.TASKLET);
        }
    }

    @State(Scope.Benchmark)
    public static class PrimarySpin extends Line {
        @Setup(Level.Trial)
        public void setUp() {
            start(IdleStrategy.spin(), Shape.PRIMARY);
        }
    }

    /** Raises the line and spins until the deferred function acknowledged it. */
    private static long raiseAndWait(Line l) {
        long target = l.acks.get() + 1;
        l.irqs.raise(IRQ);
        while (l.acks.get() < target) {
            Thread.onSpinWait();
        }
        return target;
    }

    @Benchmark
    public long bhWorkPark(BhWorkPark l) {
        return raiseAndWait(l);
    }

    @Benchmark
    public long taskletPark(TaskletPark l) {
        return raiseAndWait(l);
    }

    @Benchmark
    public long primaryPark(PrimaryPark l) {
        return raiseAndWait(l);
    }

    @Benchmark
    public long bhWorkSpin(BhWorkSpin l) {
        return raiseAndWait(l);
    }

    @Benchmark
    public long taskletSpin(TaskletSpin l) {
        return raiseAndWait(l);
    }

    @Benchmark
    public long primarySpin(PrimarySpin l) {
        return raiseAndWait(l);
    }
}

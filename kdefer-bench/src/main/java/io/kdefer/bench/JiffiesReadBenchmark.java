package io.kdefer.bench;

import io.kdefer.Kernel;
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
 * What {@code kernel.jiffies()} costs on the system clock, the read behind the
 * {@code timer.mod(kernel.jiffies() + delay)} idiom, beside its two floors in the same run:
 * <ul>
 *   <li>{@code volatileRead}: one volatile read of a field, what a tick-kept {@code jiffies}
 *       variable (the kernel's design, and the softirq budget's {@code JiffiesTick} copy) costs a
 *       reader;</li>
 *   <li>{@code nanoTime}: {@link System#nanoTime()}, which the system clock reads and then divides
 *       by the nanoseconds per jiffy.</li>
 * </ul>
 * The design choice this measures: {@code kernel.jiffies()} computes from the monotonic clock on
 * every call (exact, no thread needs to run), while a field kept by a ticking thread would cost a
 * volatile read but need that thread to tick whenever anyone reads (see docs/benchmarks.md).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class JiffiesReadBenchmark {
    private Kernel kernel;
    private volatile long field = 4_294_667_296L;

    @Setup(Level.Trial)
    public void start() {
        kernel = Kernel.builder().cpus(1).build();
    }

    @TearDown(Level.Trial)
    public void stop() {
        kernel.close();
    }

    @Benchmark
    public long kernelJiffies() {
        return kernel.jiffies();
    }

    @Benchmark
    public long volatileRead() {
        return field;
    }

    @Benchmark
    public long nanoTime() {
        return System.nanoTime();
    }
}

package io.kdefer.cli;

import io.kdefer.Clock;
import io.kdefer.Kernel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.concurrent.Callable;

/**
 * {@code /proc/currentime}: every read prints the four clocks LDD3 compares. On the first line,
 * {@code jiffies} as the 32-bit counter of a 32-bit machine ({@code 0x%08lx}), {@code get_jiffies_64()}
 * ({@code 0x%016Lx}) and {@code do_gettimeofday()} as {@code sec.usec}; on the second line, right
 * aligned under it, {@code current_kernel_time()} as {@code sec.nsec}.
 *
 * <p>{@code current_kernel_time()} is the coarse wall clock: the time of the last tick, so it lags
 * the precise one by less than a jiffy. Here it is the wall-clock reading minus the time elapsed
 * since {@code jiffies} last advanced. The two jiffies values both start at {@code INITIAL_JIFFIES},
 * so the 32-bit one wraps five minutes after the kernel started, as on the book's machines.
 */
@Command(name = "currentime", mixinStandardHelpOptions = true,
        description = "/proc/currentime: jiffies, get_jiffies_64, gettimeofday and current_kernel_time.")
final class JitCurrentimeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--cpus", defaultValue = "1", description = "Virtual CPUs (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--hz", defaultValue = "1000", description = "HZ: 100, 250, 300 or 1000 (default: ${DEFAULT-VALUE}).")
    int hz;

    @Option(names = "--reads", defaultValue = "1", description = "How many times to read the file (default: ${DEFAULT-VALUE}).")
    int reads;

    @Override
    public Integer call() {
        CpuOptions.check(spec, cpus, null);
        if (reads < 1) {
            throw new ParameterException(spec.commandLine(), "--reads must be at least 1: " + reads);
        }
        try (Kernel kernel = Kernel.builder().cpus(cpus).hz(hz).build()) {
            PrintWriter out = spec.commandLine().getOut();
            for (int i = 0; i < reads; i++) {
                out.print(read(kernel));
            }
            out.flush();
        }
        return 0;
    }

    /** One read of the /proc file: two lines. */
    String read(Kernel kernel) {
        long j1 = kernel.jiffies();
        long j2 = kernel.jiffies();             // get_jiffies_64(): a second read, as in the module
        long nanos = System.nanoTime();
        Instant now = Instant.now();            // do_gettimeofday()
        long coarse = coarseEpochNanos(kernel.clock(), nanos, now);   // current_kernel_time()
        return String.format("0x%08x 0x%016x %10d.%06d%n%40d.%09d%n",
                j1 & 0xFFFF_FFFFL, j2,
                now.getEpochSecond(), now.getNano() / 1000,
                Math.floorDiv(coarse, 1_000_000_000L), Math.floorMod(coarse, 1_000_000_000L));
    }

    /**
     * The wall-clock time of the last tick at or before {@code nanos}, in nanoseconds since the epoch:
     * {@code now} minus the time since the jiffy containing {@code nanos} began. A clock that does
     * not move by itself (a manual clock) has no tick times; then the precise time is returned.
     */
    static long coarseEpochNanos(Clock clock, long nanos, Instant now) {
        long wall = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        long j = clock.jiffies();
        if (clock.nanoTimeOf(j) == 0) {
            return wall;
        }
        // j was read after nanos: step back to the jiffy that contains nanos
        while (clock.nanoTimeOf(j) - nanos > 0) {
            j--;
        }
        while (clock.nanoTimeOf(j + 1) - nanos <= 0) {
            j++;
        }
        return wall - (nanos - clock.nanoTimeOf(j));
    }
}

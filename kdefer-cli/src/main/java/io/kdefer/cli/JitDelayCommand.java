package io.kdefer.cli;

import io.kdefer.Jiffies;
import io.kdefer.Kernel;
import io.kdefer.wait.WaitQueueHead;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/**
 * {@code /proc/jitbusy}, {@code jitsched}, {@code jitqueue} and {@code jitschedto}: each read waits
 * {@code delay} jiffies and prints {@code jiffies} before and after ({@code %9li %9li}), so that
 * the four ways of waiting can be compared. The reads run in task context on {@code --cpu} and use
 * the real clock.
 *
 * <ul>
 *   <li>{@code busy}: spins while {@code time_before(jiffies, j0 + delay)}, relaxing the CPU
 *       ({@link Thread#onSpinWait()} for {@code cpu_relax()}); the thread keeps its processor.</li>
 *   <li>{@code sched}: the same loop calling {@code schedule()} ({@link Thread#yield()}): other
 *       threads may run, but the reader stays runnable and is picked again at once when alone.</li>
 *   <li>{@code queue}: {@code wait_event_interruptible_timeout(wait, 0, delay)}: sleeps on a wait
 *       queue for a condition that never comes true, so only the timeout's timer ends the sleep.</li>
 *   <li>{@code schedto}: {@code schedule_timeout(delay)} in {@code TASK_INTERRUPTIBLE}
 *       ({@link Kernel#scheduleTimeout}): sleeps until a kernel timer wakes it.</li>
 * </ul>
 * The sleeping pair ends no earlier than {@code j0 + delay}, and usually later: their timer fires
 * at the first multiple of its wheel level's granularity after the expiry. A one-second delay at
 * HZ 1000 sits on level 2 (64-jiffy buckets), so {@code queue} and {@code schedto} print deltas
 * between 1001 and 1064 where {@code busy} and {@code sched} print 1000, as a modern kernel does.
 * The after column is read when the reader runs again, so on a busy machine every variant may end
 * a little later still.
 */
abstract class JitDelayCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--cpus", defaultValue = "2", description = "Virtual CPUs (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--cpu", defaultValue = "0", description = "CPU the reader runs on (default: ${DEFAULT-VALUE}).")
    int cpu;

    @Option(names = "--hz", defaultValue = "1000", description = "HZ: 100, 250, 300 or 1000 (default: ${DEFAULT-VALUE}).")
    int hz;

    @Option(names = "--delay", description = "Jiffies to wait per read (default: HZ, one second).")
    Long delay;

    @Option(names = "--reads", defaultValue = "1", description = "How many times to read the file (default: ${DEFAULT-VALUE}).")
    int reads;

    /** Waits until {@code j1} in this file's way; {@code j0 + delay == j1}. */
    abstract void await(Kernel kernel, long delay, long j1);

    @Override
    public Integer call() {
        CpuOptions.check(spec, cpus, cpu);
        if (delay != null && delay < 0) {
            throw new ParameterException(spec.commandLine(), "--delay must not be negative: " + delay);
        }
        if (reads < 1) {
            throw new ParameterException(spec.commandLine(), "--reads must be at least 1: " + reads);
        }
        try (Kernel kernel = Kernel.builder().cpus(cpus).hz(hz).build()) {
            PrintWriter out = spec.commandLine().getOut();
            for (int i = 0; i < reads; i++) {
                out.print(read(kernel));
                out.flush();
            }
        }
        return 0;
    }

    /** One read of the /proc file: one line. */
    String read(Kernel kernel) {
        final long d = delay != null ? delay : kernel.hz();
        return kernel.runOnCpu(cpu, () -> {
            long j0 = kernel.jiffies();
            await(kernel, d, j0 + d);
            long j1 = kernel.jiffies();   // the actual value after the delay
            return String.format("%9d %9d%n", j0, j1);
        });
    }

    @Command(name = "busy", mixinStandardHelpOptions = true,
            description = "/proc/jitbusy: busy-waits delay jiffies (cpu_relax loop).")
    static final class Busy extends JitDelayCommand {
        @Override
        void await(Kernel kernel, long delay, long j1) {
            while (Jiffies.timeBefore(kernel.jiffies(), j1)) {
                Thread.onSpinWait();
            }
        }
    }

    @Command(name = "sched", mixinStandardHelpOptions = true,
            description = "/proc/jitsched: loops calling schedule() until delay jiffies passed.")
    static final class Sched extends JitDelayCommand {
        @Override
        void await(Kernel kernel, long delay, long j1) {
            while (Jiffies.timeBefore(kernel.jiffies(), j1)) {
                Thread.yield();
            }
        }
    }

    @Command(name = "queue", mixinStandardHelpOptions = true,
            description = "/proc/jitqueue: wait_event_interruptible_timeout(wait, 0, delay).")
    static final class Queue extends JitDelayCommand {
        @Override
        void await(Kernel kernel, long delay, long j1) {
            WaitQueueHead wait = new WaitQueueHead(kernel);   // the module's static jit_wait
            try {
                wait.waitEventInterruptibleTimeout(() -> false, delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();   // -ERESTARTSYS: the read ends early, as on a signal
            }
        }
    }

    @Command(name = "schedto", mixinStandardHelpOptions = true,
            description = "/proc/jitschedto: schedule_timeout(delay) in TASK_INTERRUPTIBLE.")
    static final class Schedto extends JitDelayCommand {
        @Override
        void await(Kernel kernel, long delay, long j1) {
            kernel.scheduleTimeout(delay);
        }
    }
}

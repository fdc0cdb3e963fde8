package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.irq.IrqReturn;
import io.kdefer.irq.Irqs;
import io.kdefer.tasklet.Tasklet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code kdefer irq}: one interrupt line with the three halves a driver usually has, traced. A
 * device thread raises the line; the primary handler (hardirq context on the line's CPU) wakes the
 * thread function ({@code irq/N-demo}, task context); the thread function schedules a tasklet
 * (softirq context). Each stage prints a row: where it ran, in which context, and how long after
 * the raise. {@code /proc/interrupts} follows. The thread function runs in task context, so the
 * tasklet it schedules is run by {@code ksoftirqd/N}, as a raise from task context is in the kernel.
 *
 * <p>With {@code --threadirqs} the kernel force-threads the line: the primary moves into
 * {@code irq/N-demo} with bottom halves disabled, the thread function into {@code irq/N-s-demo},
 * and the tasklet runs at the primary's {@code local_bh_enable} in the irq thread.
 */
@Command(name = "irq", mixinStandardHelpOptions = true,
        description = "Raise an interrupt line and trace its hardirq handler, irq thread and tasklet.")
final class IrqCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--cpus", defaultValue = "2", description = "Virtual CPUs (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--irq", defaultValue = "10", description = "Line number (default: ${DEFAULT-VALUE}).")
    int irq;

    @Option(names = "--cpu", description = "CPU the line is delivered to (default: irq mod cpus).")
    Integer cpu;

    @Option(names = "--raises", defaultValue = "3", description = "Interrupts to raise, one after another (default: ${DEFAULT-VALUE}).")
    int raises;

    @Option(names = "--threadirqs", description = "Forced interrupt threading (the threadirqs boot option).")
    boolean threadIrqs;

    @Option(names = "--cold", description = "Trace from the first interrupt of a fresh JVM (class loading"
            + " and compilation show up) instead of raising one unprinted interrupt first.")
    boolean cold;

    @Option(names = "--spin", description = "Spin idle instead of parking (lower latency, burns CPU).")
    boolean spin;

    /** One traced stage, recorded raw in the callback and formatted afterwards. */
    private static final class Rows {
        final String[] stage;
        final long[] nanos;
        final String[] context;
        final long[] pid;
        final int[] cpu;
        final String[] command;
        int n;

        Rows(int capacity) {
            capacity += 4;
            stage = new String[capacity];
            nanos = new long[capacity];
            context = new String[capacity];
            pid = new long[capacity];
            cpu = new int[capacity];
            command = new String[capacity];
        }

        synchronized void add(Kernel k, String what, long since) {
            Thread t = Thread.currentThread();
            stage[n] = what;
            nanos[n] = System.nanoTime() - since;
            context[n] = k.inHardirq() ? "hardirq" : k.inServingSoftirq() ? "softirq"
                    : k.inSoftirq() ? "task,bh-off" : "task";
            pid[n] = t.getId();
            cpu[n] = k.smpProcessorId();
            command[n] = t.getName();
            n++;
        }

        synchronized String format() {
            StringBuilder sb = new StringBuilder(String.format("%-9s %9s  %-11s %6s %4s  %s%n",
                    "stage", "usec", "context", "pid", "cpu", "command"));
            for (int i = 0; i < n; i++) {
                sb.append(String.format("%-9s %9.1f  %-11s %6d %4d  %s%n", stage[i], nanos[i] / 1000.0,
                        context[i], pid[i], cpu[i], command[i]));
            }
            return sb.toString();
        }
    }

    @Override
    public Integer call() throws Exception {
        if (irq < 0 || irq >= Irqs.NR_IRQS) {
            throw new ParameterException(spec.commandLine(), "--irq must be in 0.." + (Irqs.NR_IRQS - 1));
        }
        CpuOptions.check(spec, cpus, cpu);
        if (raises < 1 || raises > 1000) {
            throw new ParameterException(spec.commandLine(), "--raises must be in 1..1000");
        }
        Kernel.Builder b = Kernel.builder().cpus(cpus).threadIrqs(threadIrqs);
        if (spin) {
            b.idleStrategy(io.kdefer.IdleStrategy.spin());
        }
        PrintWriter out = spec.commandLine().getOut();
        try (Kernel kernel = b.build()) {
            Irqs irqs = kernel.irqs();
            Rows rows = new Rows(4 * raises);
            long[] raisedAt = new long[1];
            CountDownLatch[] done = new CountDownLatch[1];
            Tasklet tasklet = Tasklet.setup(kernel, t -> {
                rows.add(kernel, "tasklet", raisedAt[0]);
                done[0].countDown();
            });
            irqs.requestThreadedIrq(irq, (line, dev) -> {
                rows.add(kernel, "primary", raisedAt[0]);
                return IrqReturn.WAKE_THREAD;
            }, (line, dev) -> {
                rows.add(kernel, "thread", raisedAt[0]);
                tasklet.schedule();
                return IrqReturn.HANDLED;
            }, "demo", this);
            if (cpu != null) {
                irqs.setAffinity(irq, cpu);
            }
            for (int i = cold ? 0 : -1; i < raises; i++) {
                if (i == 0) {
                    rows.n = 0;   // the warm-up interrupt paid for class loading and compilation
                }
                done[0] = new CountDownLatch(1);
                raisedAt[0] = System.nanoTime();
                rows.add(kernel, "raise", raisedAt[0]);
                irqs.raise(irq);
                if (!done[0].await(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("interrupt " + (i + 1) + " did not reach its tasklet in 30 s");
                }
                irqs.synchronizeIrq(irq);
            }
            out.print(rows.format());
            out.println();
            out.print(irqs.procInterrupts());
            irqs.freeIrq(irq, this);
            tasklet.kill();
            out.flush();
        }
        return 0;
    }
}

package io.kdefer.cli;

import io.kdefer.Kernel;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/**
 * What the jiq subcommands share: the options, and a run that builds a kernel, reads the file and
 * prints the page. The command reads twice and prints the second read, so that class loading and
 * compilation during the first do not show up as deltas ({@code --cold} prints the first), as the
 * jit commands do.
 */
abstract class JiqFileCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--cpus", defaultValue = "2", description = "Virtual CPUs (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--cpu", defaultValue = "0", description = "CPU the reader runs on (default: ${DEFAULT-VALUE}).")
    int cpu;

    @Option(names = "--hz", defaultValue = "1000", description = "HZ: 100, 250, 300 or 1000 (default: ${DEFAULT-VALUE}).")
    int hz;

    @Option(names = "--cold", description = "Print the first read of a fresh JVM (class loading and"
            + " compilation may show up as larger deltas) instead of reading once to warm up.")
    boolean cold;

    /** Checks the options of the subcommand; throws a {@code ParameterException} for a bad one. */
    void checkOptions() {
    }

    /** One read of the /proc file, in task context on {@link #cpu}: the whole page. */
    abstract String read(Kernel kernel);

    @Override
    public Integer call() {
        CpuOptions.check(spec, cpus, cpu);
        checkOptions();
        try (Kernel kernel = Kernel.builder().cpus(cpus).hz(hz).build()) {
            if (!cold) {
                read(kernel);   // like cat-ing the file twice: the first read pays for class loading and JIT
            }
            String page = read(kernel);
            PrintWriter out = spec.commandLine().getOut();
            out.print(page);
            out.flush();
        }
        return 0;
    }
}

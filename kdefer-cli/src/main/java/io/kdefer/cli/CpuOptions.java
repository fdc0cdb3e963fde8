package io.kdefer.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** The checks of {@code --cpus} and {@code --cpu} that every command taking them shares. */
final class CpuOptions {
    /** The most CPUs a kernel may have ({@code Kernel.Builder.cpus}). */
    static final int MAX_CPUS = 4096;

    private CpuOptions() {
    }

    /**
     * Rejects a CPU count outside 1..{@value #MAX_CPUS}, then (when {@code cpu} is not null) a CPU
     * that is not one of them, as usage errors.
     */
    static void check(CommandSpec spec, int cpus, Integer cpu) {
        if (cpus < 1) {
            throw new ParameterException(spec.commandLine(), "--cpus must be at least 1: " + cpus);
        }
        if (cpus > MAX_CPUS) {
            throw new ParameterException(spec.commandLine(), "--cpus must be at most " + MAX_CPUS + ": " + cpus);
        }
        if (cpu != null && (cpu < 0 || cpu >= cpus)) {
            throw new ParameterException(spec.commandLine(), "--cpu " + cpu + " is not one of the " + cpus + " CPUs");
        }
    }
}

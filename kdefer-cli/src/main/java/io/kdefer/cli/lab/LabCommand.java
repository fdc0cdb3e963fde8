package io.kdefer.cli.lab;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code kdefer lab}: one sub-command per experiment. Each prints a table to stdout, takes
 * {@code --duration}, {@code --quick}, {@code --seed}, {@code --cpus}, writes {@code --csv FILE}
 * and, with {@code --report DIR}, an HTML page with SVG plots. See docs/lab.md.
 */
@Command(name = "lab", mixinStandardHelpOptions = true,
        description = "Experiments that measure the kernel's claims about its deferral mechanisms.",
        subcommands = {ShootoutCommand.class, JitLabCommand.class, SoftirqFloodCommand.class, KeventdCommand.class, BottomHalvesCommand.class})
public final class LabCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}

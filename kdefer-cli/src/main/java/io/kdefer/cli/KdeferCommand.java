package io.kdefer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code kdefer} command. */
@Command(name = "kdefer", mixinStandardHelpOptions = true, version = "kdefer 0.1.0",
        description = "The Linux kernel's deferred-work mechanisms on the JVM: demos and labs.",
        subcommands = {JitCommand.class, JiqCommand.class, IrqCommand.class, io.kdefer.cli.lab.LabCommand.class, CommandLine.HelpCommand.class})
public final class KdeferCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Runs the command line; returns the exit code. */
    static int execute(String... args) {
        return new CommandLine(new KdeferCommand()).execute(args);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }
}

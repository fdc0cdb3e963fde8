package io.kdefer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code kdefer jiq}: LDD3's jiq module ({@code misc-modules/jiq.c}, chapter 7, "Workqueues"), one
 * subcommand per /proc file. Each read hands a page to a deferred function that prints one row per
 * run and submits itself again until the page is full, then wakes the reader.
 */
@Command(name = "jiq", mixinStandardHelpOptions = true,
        description = {"LDD3's jiq module: a deferred function prints a row per run, re-submitting itself"
                + " until the page is full; each subcommand prints what reading its /proc file prints.",
                "Columns: jiffies, jiffies since the previous row, preempt_count(), thread id, CPU, thread name."},
        subcommands = {JiqWqCommand.Wq.class, JiqWqCommand.Wqdelay.class,
                JiqTimerCommand.class, JiqTaskletCommand.class})
final class JiqCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}

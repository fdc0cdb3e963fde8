package io.kdefer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kdefer jit}: LDD3's jit module ({@code misc-modules/jit.c}), one subcommand per /proc file. */
@Command(name = "jit", mixinStandardHelpOptions = true,
        description = "LDD3's jit module: each subcommand prints what reading its /proc file prints.",
        subcommands = {JitCurrentimeCommand.class,
                JitDelayCommand.Busy.class, JitDelayCommand.Sched.class,
                JitDelayCommand.Queue.class, JitDelayCommand.Schedto.class,
                JitTimerCommand.class,
                JitTaskletCommand.Normal.class, JitTaskletCommand.Hi.class})
final class JitCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}

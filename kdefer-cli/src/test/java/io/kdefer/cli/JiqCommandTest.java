package io.kdefer.cli;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

class JiqCommandTest {

    private static String errorOf(String... args) {
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setErr(new PrintWriter(err));
        cl.setOut(new PrintWriter(new StringWriter()));
        assertThat(cl.execute(args)).as(String.join(" ", args)).isNotZero();
        return err.toString();
    }

    /** {@code kdefer jiq} alone lists the module's four files. No §10 item: the command line. */
    @Test
    void jiqAloneListsItsFiles() {
        String usage = JiqTable.run("jiq");
        assertThat(usage).contains("/proc/jiqwq:", "/proc/jiqwqdelay:", "/proc/jiqtimer:", "/proc/jiqtasklet:");
    }

    /**
     * A CPU count the kernel cannot have is a usage error naming {@code --cpus}, as for the jit
     * commands. No §10 item: the command line.
     */
    @ParameterizedTest
    @ValueSource(strings = {"wq", "wqdelay", "timer", "tasklet"})
    void badCpuCountsAreRejectedByName(String file) {
        assertThat(errorOf("jiq", file, "--cpus", "0")).contains("--cpus must be at least 1: 0")
                .doesNotContain("is not one of");
        assertThat(errorOf("jiq", file, "--cpus", "4097")).contains("--cpus must be at most 4096: 4097");
        assertThat(errorOf("jiq", file, "--cpus", "2", "--cpu", "2")).contains("--cpu 2 is not one of the 2 CPUs");
    }
}

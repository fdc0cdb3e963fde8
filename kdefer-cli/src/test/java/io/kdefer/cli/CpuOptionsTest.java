package io.kdefer.cli;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

/** Every command that takes {@code --cpus} rejects a count the kernel cannot have, naming the option. */
class CpuOptionsTest {
    private static String[] args(String command, String... more) {
        String[] words = command.split(" ");
        String[] all = new String[words.length + more.length];
        System.arraycopy(words, 0, all, 0, words.length);
        System.arraycopy(more, 0, all, words.length, more.length);
        return all;
    }

    private static String errorOf(String command, String... more) {
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setErr(new PrintWriter(err));
        cl.setOut(new PrintWriter(new StringWriter()));
        assertThat(cl.execute(args(command, more))).as(command).isNotZero();
        return err.toString();
    }

    /**
     * {@code --cpus 0} is a usage error saying that --cpus must be at least 1, not that the default
     * {@code --cpu 0} "is not one of the 0 CPUs".
     */
    @ParameterizedTest
    @ValueSource(strings = {"jit currentime", "jit busy", "jit sched", "jit queue", "jit schedto",
            "jit timer", "jit tasklet", "jit tasklethi", "irq"})
    void zeroCpusIsRejectedByName(String command) {
        String err = errorOf(command, "--cpus", "0");
        assertThat(err).contains("--cpus must be at least 1: 0").doesNotContain("is not one of");
        assertThat(errorOf(command, "--cpus", "-2")).contains("--cpus must be at least 1: -2");
    }

    /** More CPUs than a kernel may have is a usage error too, not a stack trace from the builder. */
    @ParameterizedTest
    @ValueSource(strings = {"jit currentime", "jit queue", "jit timer", "jit tasklet", "irq"})
    void tooManyCpusIsRejectedByName(String command) {
        assertThat(errorOf(command, "--cpus", "4097")).contains("--cpus must be at most 4096: 4097");
    }
}

package io.kdefer.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

class IrqCommandTest {

    private static List<String> run(String... args) {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setOut(new PrintWriter(out));
        int code = cl.execute(args);
        assertThat(code).as("exit code of kdefer %s", String.join(" ", args)).isZero();
        return out.toString().lines().collect(Collectors.toList());
    }

    private static String[] cols(String line) {
        return line.trim().split("\\s+");
    }

    /** Each raise is followed by its primary in hardirq on the line's CPU, the irq thread, then the tasklet. */
    @Test
    void tracesHardirqThreadAndTaskletPerRaise() {
        List<String> lines = run("irq", "--cpus", "2", "--irq", "5", "--raises", "2");
        assertThat(lines.get(0)).startsWith("stage");
        for (int r = 0; r < 2; r++) {
            String[] raise = cols(lines.get(1 + 4 * r));
            String[] primary = cols(lines.get(2 + 4 * r));
            String[] thread = cols(lines.get(3 + 4 * r));
            String[] tasklet = cols(lines.get(4 + 4 * r));
            assertThat(raise[0]).isEqualTo("raise");
            assertThat(primary).contains("primary", "hardirq", "cpu/1");
            assertThat(thread).contains("thread", "task", "irq/5-demo");
            assertThat(thread[4]).as("the thread runs on the line's CPU").isEqualTo("1");
            assertThat(tasklet[0]).isEqualTo("tasklet");
            assertThat(tasklet[2]).isEqualTo("softirq");
        }
        assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("  5:").contains("demo"));
    }

    /** With forced threading the primary runs in irq/N-demo with BH off, the thread function in irq/N-s-demo. */
    @Test
    void threadIrqsMovesThePrimaryIntoTheThread() {
        List<String> lines = run("irq", "--cpus", "1", "--irq", "3", "--raises", "1", "--threadirqs");
        assertThat(cols(lines.get(2))).contains("primary", "task,bh-off", "irq/3-demo");
        assertThat(cols(lines.get(3))).contains("thread", "task", "irq/3-s-demo");
        assertThat(cols(lines.get(4))[0]).isEqualTo("tasklet");
    }
}

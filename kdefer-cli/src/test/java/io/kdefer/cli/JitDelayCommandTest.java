package io.kdefer.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

class JitDelayCommandTest {

    /**
     * jitbusy, jitsched, jitqueue and jitschedto print one {@code %9li %9li} line per read, jiffies
     * before and after, and none of them ends before {@code delay} jiffies passed: busy and sched
     * loop on time_before, queue and schedto sleep on a timer that never fires early. Spec §9.1
     * (no §10 item for these files), §10 item 116.
     */
    @ParameterizedTest
    @ValueSource(strings = {"busy", "sched", "queue", "schedto"})
    void eachReadWaitsAtLeastDelayJiffies(String file) {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setOut(new PrintWriter(out));
        int code = cl.execute("jit", file, "--delay", "5", "--reads", "3", "--cpus", "2", "--cpu", "1");
        assertThat(code).isZero();
        List<String> lines = out.toString().lines().collect(Collectors.toList());
        assertThat(lines).hasSize(3);
        long previousAfter = Long.MIN_VALUE;
        for (String line : lines) {
            assertThat(line).matches("[ \\d]{8,}\\d [ \\d]{8,}\\d");
            String[] cols = line.trim().split("\\s+");
            long before = Long.parseLong(cols[0]);
            long after = Long.parseLong(cols[1]);
            assertThat(after - before).as(line).isGreaterThanOrEqualTo(5);
            assertThat(before).isGreaterThanOrEqualTo(previousAfter);
            previousAfter = after;
        }
    }

    /** Without --delay a read waits HZ jiffies, one second, as the module's default. Spec §11.7. */
    @Test
    void defaultDelayIsHz() {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setOut(new PrintWriter(out));
        assertThat(cl.execute("jit", "schedto", "--hz", "100")).isZero();
        String[] cols = out.toString().trim().split("\\s+");
        assertThat(Long.parseLong(cols[1]) - Long.parseLong(cols[0])).isGreaterThanOrEqualTo(100);
    }

    /** Bad option values are usage errors. */
    @Test
    void rejectsBadOptions() {
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setErr(new PrintWriter(new StringWriter()));
        assertThat(cl.execute("jit", "busy", "--delay", "-1")).isNotZero();
        assertThat(cl.execute("jit", "queue", "--reads", "0")).isNotZero();
        assertThat(cl.execute("jit", "sched", "--cpus", "1", "--cpu", "2")).isNotZero();
    }
}

package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A jiq page as the tests read it: the header, then rows of six columns. {@link #parse} checks what
 * every page must satisfy: the exact header, six columns per row with numbers in the first five,
 * jiffies that never go back, and each delta (but the first, which counts from the read) equal to
 * the difference of the row's jiffies and the previous row's.
 */
final class JiqTable {
    /** One row. */
    static final class Row {
        final long time;
        final long delta;
        final int preempt;
        final long pid;
        final int cpu;
        final String command;
        final String line;

        Row(String line) {
            this.line = line;
            String[] f = line.trim().split("\\s+");
            assertThat(f).as("columns of \"%s\"", line).hasSize(6);
            time = Long.parseLong(f[0]);
            delta = Long.parseLong(f[1]);
            preempt = Integer.parseInt(f[2]);
            pid = Long.parseLong(f[3]);
            cpu = Integer.parseInt(f[4]);
            command = f[5];
        }

        @Override
        public String toString() {
            return line;
        }
    }

    private JiqTable() {
    }

    /** Runs {@code kdefer args...} in this JVM and returns its output; the exit code must be 0. */
    static String run(String... args) {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setOut(new PrintWriter(out));
        int code = cl.execute(args);
        assertThat(code).as("exit code of kdefer %s", String.join(" ", args)).isZero();
        return out.toString();
    }

    /** The exit code of {@code kdefer args...}, with its error output swallowed. */
    static int exitCode(String... args) {
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setErr(new PrintWriter(new StringWriter()));
        cl.setOut(new PrintWriter(new StringWriter()));
        return cl.execute(args);
    }

    /** The rows of a page, after the checks every page must pass. */
    static List<Row> parse(String page) {
        List<String> lines = page.lines().collect(java.util.stream.Collectors.toList());
        assertThat(lines).isNotEmpty();
        assertThat(lines.get(0)).isEqualTo("    time  delta preempt   pid cpu command");
        List<Row> rows = new ArrayList<>();
        for (String l : lines.subList(1, lines.size())) {
            rows.add(new Row(l));
        }
        assertThat(rows).as("rows").isNotEmpty();
        assertThat(rows.get(0).delta).as("delta of the first row, %s", rows.get(0)).isNotNegative();
        for (int i = 1; i < rows.size(); i++) {
            Row prev = rows.get(i - 1);
            Row r = rows.get(i);
            assertThat(r.time).as("time of row %d, %s", i, r).isGreaterThanOrEqualTo(prev.time);
            assertThat(r.delta).as("delta of row %d, %s", i, r).isEqualTo(r.time - prev.time);
        }
        return rows;
    }

    /**
     * Checks that the page was filled as the module fills its page: the deferred function printed
     * until the text grew past {@code LIMIT} (PAGE_SIZE - 128) bytes, so the page without its last
     * row is at most LIMIT bytes and the whole page is more.
     */
    static void assertFull(String page) {
        int bytes = page.getBytes(StandardCharsets.US_ASCII).length;
        String last = page.substring(page.lastIndexOf('\n', page.length() - 2) + 1);
        assertThat(bytes).as("bytes of the page").isGreaterThan(JiqPage.LIMIT);
        assertThat(bytes - last.length()).as("bytes before the last row").isLessThanOrEqualTo(JiqPage.LIMIT);
    }

    /**
     * Runs {@code read} on a reader thread of its own and ticks {@code clock} each time
     * {@code waitingOnTimer} says that the read waits for a timer, until the reader is done
     * ({@link TickingReader}).
     */
    static String readTicking(Kernel kernel, ManualClock clock, BooleanSupplier waitingOnTimer,
                              Function<Kernel, String> read) {
        return TickingReader.read("jiq-reader", clock, waitingOnTimer, () -> { }, () -> read.apply(kernel));
    }
}

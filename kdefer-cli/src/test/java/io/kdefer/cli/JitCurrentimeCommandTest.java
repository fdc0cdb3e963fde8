package io.kdefer.cli;

import io.kdefer.Clock;
import io.kdefer.Jiffies;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

class JitCurrentimeCommandTest {

    /** {@code 0x%08lx 0x%016Lx %10i.%06i}. */
    private static final Pattern FIRST = Pattern.compile("0x([0-9a-f]{8}) 0x([0-9a-f]{16}) ([ \\d]{9}\\d)\\.(\\d{6})");
    /** {@code %40i.%09i}. */
    private static final Pattern SECOND = Pattern.compile("([ \\d]{39}\\d)\\.(\\d{9})");

    /**
     * Each read prints LDD3's two lines: 32-bit jiffies, 64-bit jiffies, gettimeofday as sec.usec,
     * and, right-aligned under it, the coarse current_kernel_time as sec.nsec. The 64-bit counter
     * starts at INITIAL_JIFFIES and its low 32 bits are the 32-bit counter read just before it (equal
     * or a little after, compared wrap-safely); the coarse time is the time of the last tick, so it is
     * not after the precise one and lags it by less than one jiffy (the precise time is cut to
     * microseconds, hence the 1 µs slack). Both relations hold by construction, whatever the load.
     * Spec §9.1 (currentime; no §10 item), §10 item 129 (the counter starts at -300·HZ).
     */
    @ParameterizedTest
    @ValueSource(ints = {1000, 250, 300, 100})
    void printsTwoLinesPerReadInLddFormat(int hz) {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setOut(new PrintWriter(out));
        int code = cl.execute("jit", "currentime", "--hz", String.valueOf(hz), "--reads", "3");
        assertThat(code).isZero();
        List<String> lines = out.toString().lines().collect(Collectors.toList());
        assertThat(lines).hasSize(6);
        for (int i = 0; i < 6; i += 2) {
            Matcher m1 = FIRST.matcher(lines.get(i));
            Matcher m2 = SECOND.matcher(lines.get(i + 1));
            assertThat(m1.matches()).as("first line %s", lines.get(i)).isTrue();
            assertThat(m2.matches()).as("second line %s", lines.get(i + 1)).isTrue();
            long j32 = Long.parseLong(m1.group(1), 16);
            long j64 = Long.parseLong(m1.group(2), 16);
            assertThat(j64).isGreaterThanOrEqualTo(Clock.initialJiffies(hz));
            assertThat(Jiffies.timeAfter32(j32, j64)).as("32-bit %x after 64-bit %x", j32, j64).isFalse();
            long fineNanos = Long.parseLong(m1.group(3).trim()) * 1_000_000_000L + Long.parseLong(m1.group(4)) * 1000;
            long coarseNanos = Long.parseLong(m2.group(1).trim()) * 1_000_000_000L + Long.parseLong(m2.group(2));
            assertThat(coarseNanos).isLessThan(fineNanos + 1000);
            assertThat(fineNanos - coarseNanos).isLessThan((1_000_000_000L + hz - 1) / hz);
        }
    }
}

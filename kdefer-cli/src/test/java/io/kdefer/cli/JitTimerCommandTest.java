package io.kdefer.cli;

import io.kdefer.Clock;
import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

class JitTimerCommandTest {

    private static final String HEADER = "   time   delta  inirq    pid   cpu command";

    private static List<String[]> rowsOf(String table) {
        List<String> lines = table.lines().collect(Collectors.toList());
        assertThat(lines).hasSize(7);
        assertThat(lines.get(0)).isEqualTo(HEADER);
        return lines.stream().skip(1).map(l -> l.trim().split("\\s+")).collect(Collectors.toList());
    }

    private static List<String[]> run(String... args) {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setOut(new PrintWriter(out));
        int code = cl.execute(args);
        assertThat(code).as("exit code of kdefer %s", String.join(" ", args)).isZero();
        return rowsOf(out.toString());
    }

    /**
     * With the real clock, the jitimer table has a header, one row from the reader (task context,
     * inirq 0, delta 0) and five rows from the timer callback in softirq context (inirq 1) on the
     * CPU that armed it. Row k (k = 1..5 after the reader's) is never earlier than
     * {@code j0 + k*tdelay + 1}: each expiry is {@code j0 + k*tdelay} whatever the lateness of the
     * callbacks, and a level-0 timer fires at the tick after its expiry; so the deltas add up to at
     * least {@code 5*tdelay + 1}. The exact deltas need punctual ticks and are checked with a manual
     * clock below. Spec §10 items 157 and 116.
     */
    @Test
    void tablePrintsReaderRowAndFiveTimerRowsNeverEarly() {
        int tdelay = 10;
        List<String[]> rows = run("jit", "timer", "--cpus", "2", "--cpu", "1", "--tdelay", String.valueOf(tdelay));
        String[] reader = rows.get(0);
        assertThat(reader[1]).isEqualTo("0");          // delta
        assertThat(reader[2]).isEqualTo("0");          // inirq
        assertThat(reader[4]).isEqualTo("1");          // cpu
        long j0 = Long.parseLong(reader[0]);
        long sum = 0;
        for (int k = 1; k <= 5; k++) {
            String[] r = rows.get(k);
            assertThat(r[2]).as("inirq of %s", Arrays.toString(r)).isEqualTo("1");
            assertThat(r[4]).as("cpu of %s", Arrays.toString(r)).isEqualTo("1");
            assertThat(r[5]).as("command of %s", Arrays.toString(r)).isIn("cpu/1", "ksoftirqd/1");
            assertThat(Long.parseLong(r[0])).as("time of row %d, %s", k, Arrays.toString(r))
                    .isGreaterThanOrEqualTo(j0 + (long) k * tdelay + 1);
            assertThat(Long.parseLong(r[1])).as("delta of %s", Arrays.toString(r))
                    .isEqualTo(Long.parseLong(r[0]) - Long.parseLong(rows.get(k - 1)[0]));
            sum += Long.parseLong(r[1]);
        }
        assertThat(sum).isGreaterThanOrEqualTo(5L * tdelay + 1);
    }

    /**
     * On a manual clock the deltas are exact: the first expiry {@code j0 + tdelay} fires one tick
     * after it (tdelay + 1), and each re-arm with {@code expires += tdelay} from the callback fires
     * exactly tdelay later, because it is relative to the previous expiry and not to the time the
     * callback ran. tdelay 0 and 1 re-arm into the past or the current jiffy, which fires at the next
     * tick. tdelay 70 reaches level 1 of the wheel (delta from the wheel clock at least 63), where
     * a timer fires at the first multiple of 8 jiffies strictly after its expiry, until the last
     * re-arm (61 jiffies from the clock) is on level 0 again. Spec §10 items 157, 116, 117, 118, 121.
     */
    @ParameterizedTest(name = "tdelay {0}: deltas {1}")
    @CsvSource({
            "10, 11 10 10 10 10",
            "62, 63 62 62 62 62",
            "1,  2 1 1 1 1",
            "0,  1 1 1 1 1",
            "70, 72 72 72 72 63",
    })
    void manualClockGivesTdelayPlusOneThenTdelay(int tdelay, String expected) throws Exception {
        ManualClock clock = new ManualClock();
        JitTimerCommand cmd = new JitTimerCommand();
        cmd.cpu = 1;
        cmd.tdelay = tdelay;
        String table;
        try (Kernel kernel = Kernel.builder().cpus(2).hz(1000).clock(clock).build()) {
            table = readTicking(kernel, clock, cmd, () -> { });
        }
        List<String[]> rows = rowsOf(table);
        long j0 = Clock.initialJiffies(1000);
        assertThat(rows.get(0)[0]).isEqualTo(String.valueOf(j0));
        String deltas = rows.subList(1, 6).stream().map(r -> r[1]).collect(Collectors.joining(" "));
        assertThat(deltas).isEqualTo(expected);
        for (String[] r : rows.subList(1, 6)) {
            assertThat(r[2]).as("inirq of %s", Arrays.toString(r)).isEqualTo("1");
            assertThat(r[4]).as("cpu of %s", Arrays.toString(r)).isEqualTo("1");
            assertThat(r[5]).as("command of %s", Arrays.toString(r)).isIn("cpu/1", "ksoftirqd/1");
        }
    }

    /**
     * A timer softirq that runs late catches up at once, and the rows then return to the grid of
     * expiries {@code j0 + k*tdelay + 1}: the re-arms are relative to the previous expiry, so lateness
     * does not accumulate. Here the reader's CPU has its bottom halves disabled by another task for
     * 25 ticks; at the enable, the timer (expiry j0+10) runs in that task's context (delta 25), its
     * re-arm to the past expiry j0+20 goes to the current bucket and runs in the same softirq run
     * (delta 0), the next re-arm (j0+30) fires at j0+31 (delta 6), and the last two are on the grid
     * again (deltas 10, 10). Spec §10 items 157, 118 and 121; §6.7 (the expiry loop catches up).
     */
    @Test
    void lateSoftirqCatchesUpAndReturnsToTheGrid() throws Exception {
        ManualClock clock = new ManualClock();
        JitTimerCommand cmd = new JitTimerCommand();
        cmd.cpu = 1;
        cmd.tdelay = 10;
        String table;
        String me = Thread.currentThread().getName();
        try (Kernel kernel = Kernel.builder().cpus(2).hz(1000).clock(clock).build()) {
            table = readTicking(kernel, clock, cmd, () -> kernel.runOnCpu(1, () -> {
                kernel.localBhDisable();
                try {
                    clock.tick(25);
                } finally {
                    kernel.localBhEnable();   // the pending TIMER softirq runs here, on this thread
                }
                return null;
            }));
        }
        List<String[]> rows = rowsOf(table);
        String deltas = rows.subList(1, 6).stream().map(r -> r[1]).collect(Collectors.joining(" "));
        assertThat(deltas).isEqualTo("25 0 6 10 10");
        assertThat(rows.get(1)[5]).isEqualTo(me);
        assertThat(rows.get(2)[5]).isEqualTo(me);
        for (String[] r : rows.subList(1, 6)) {
            assertThat(r[2]).as("inirq of %s", Arrays.toString(r)).isEqualTo("1");
            assertThat(r[4]).as("cpu of %s", Arrays.toString(r)).isEqualTo("1");
        }
    }

    /**
     * Runs one read on another thread and ticks the clock while that reader waits for its timer.
     * Ticks start only once the reader blocks (after it armed the timer), so the first expiry is
     * relative to the jiffies of the reader's row; {@code armed} runs once at that point.
     */
    private static String readTicking(Kernel kernel, ManualClock clock, JitTimerCommand cmd, Runnable armed) {
        Thread[] reader = new Thread[1];
        return TickingReader.read("jitimer-reader", clock,
                () -> reader[0] != null && reader[0].getState() == Thread.State.TIMED_WAITING, armed, () -> {
                    reader[0] = Thread.currentThread();
                    return cmd.read(kernel);
                });
    }

    /** A negative tdelay and a CPU that does not exist are usage errors, not crashes. */
    @Test
    void rejectsBadOptions() {
        CommandLine cl = new CommandLine(new KdeferCommand());
        cl.setErr(new PrintWriter(new StringWriter()));
        assertThat(cl.execute("jit", "timer", "--cpus", "1", "--cpu", "1")).isNotZero();
        assertThat(cl.execute("jit", "timer", "--tdelay", "-1")).isNotZero();
    }
}

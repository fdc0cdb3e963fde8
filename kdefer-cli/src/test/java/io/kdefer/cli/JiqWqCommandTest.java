package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class JiqWqCommandTest {

    /** Each thread name comes with one pid, and each pid with one name. */
    private static void assertOnePidPerThread(List<JiqTable.Row> rows) {
        Map<String, Long> pidOf = new HashMap<>();
        Map<Long, String> nameOf = new HashMap<>();
        for (JiqTable.Row r : rows) {
            assertThat(pidOf.computeIfAbsent(r.command, k -> r.pid)).as("pid of %s", r).isEqualTo(r.pid);
            assertThat(nameOf.computeIfAbsent(r.pid, k -> r.command)).as("name of %s", r).isEqualTo(r.command);
        }
    }

    /**
     * {@code jiq wq}: a work item on the system workqueue that queues itself again fills the page: every
     * row is in process context (preempt 0) on a per-CPU worker {@code kworker/1:M} of the reader's
     * CPU, and the page is full as the module's is. Spec §10 items 51 (a function that queues its
     * own item runs once more), 53 (per-CPU queue: runs on the queueing CPU), 13.
     */
    @Test
    void wqRowsComeFromTheReadersCpuWorkersInProcessContext() {
        String page = JiqTable.run("jiq", "wq", "--cpus", "2", "--cpu", "1");
        List<JiqTable.Row> rows = JiqTable.parse(page);
        JiqTable.assertFull(page);
        for (JiqTable.Row r : rows) {
            assertThat(r.preempt).as("preempt of %s", r).isZero();
            assertThat(r.cpu).as("cpu of %s", r).isEqualTo(1);
            assertThat(r.command).as("command of %s", r).matches("kworker/1:\\d+");
        }
        assertOnePidPerThread(rows);
    }

    /**
     * {@code --legacy-names} prints the workers as LDD3's kernel named its workqueue threads,
     * {@code events/N}; the shorter name lets more rows into the page, which is still exactly full.
     * Spec §10 items 51, 53.
     */
    @Test
    void legacyNamesPrintEventsThreads() {
        String page = JiqTable.run("jiq", "wq", "--cpus", "2", "--cpu", "0", "--legacy-names", "--cold");
        List<JiqTable.Row> rows = JiqTable.parse(page);
        JiqTable.assertFull(page);
        for (JiqTable.Row r : rows) {
            assertThat(r.command).as("command of %s", r).isEqualTo("events/0");
            assertThat(r.cpu).as("cpu of %s", r).isZero();
            assertThat(r.preempt).as("preempt of %s", r).isZero();
        }
        // every row has the same width here: the page holds floor((LIMIT - header) / width) + 1 of
        // them, more than it would hold with the 3 characters longer name kworker/0:M
        int header = JiqPage.HEADER.length() + 1;
        int width = rows.get(0).line.length() + 1;
        assertThat(rows).hasSize((JiqPage.LIMIT - header) / width + 1);
        int kworkerWidth = width - "events/0".length() + "kworker/0:0".length();
        assertThat(rows.size()).isGreaterThan((JiqPage.LIMIT - header) / kworkerWidth + 1);
    }

    /**
     * On a clock that stands still the whole page is printed within one jiffy: the item re-queues
     * itself directly, with no timer between runs, so every delta is 0. Spec §10 items 51, 50 (one
     * run per successful queue: exactly one row per run until the page is full).
     */
    @Test
    void wqNeedsNoTickToFillThePage() throws Exception {
        ManualClock clock = new ManualClock();
        JiqWqCommand.Wq cmd = new JiqWqCommand.Wq();
        cmd.cpu = 1;
        String page;
        long start;
        try (Kernel kernel = Kernel.builder().cpus(2).hz(1000).clock(clock).build()) {
            start = kernel.jiffies();
            page = JiqTable.readTicking(kernel, clock, () -> false, cmd::read);
        }
        List<JiqTable.Row> rows = JiqTable.parse(page);
        JiqTable.assertFull(page);
        for (JiqTable.Row r : rows) {
            assertThat(r.time).as("time of %s", r).isEqualTo(start);
            assertThat(r.delta).as("delta of %s", r).isZero();
            assertThat(r.command).as("command of %s", r).matches("kworker/1:\\d+");
        }
    }

    /**
     * {@code jiq wqdelay --delay 2} with the real clock: each run waits on a timer that never fires
     * early, so each row comes at least {@code delay + 1} jiffies after the previous one (the first
     * after the read); rows in process context on the reader's CPU. Spec §10 items 116 (never
     * early: a level-0 expiry E fires at E+1), 53.
     */
    @Test
    void wqdelayRowsAreNeverEarly() {
        int delay = 2;
        String page = JiqTable.run("jiq", "wqdelay", "--cpus", "2", "--cpu", "1", "--delay", String.valueOf(delay),
                "--cold");
        List<JiqTable.Row> rows = JiqTable.parse(page);
        JiqTable.assertFull(page);
        for (JiqTable.Row r : rows) {
            assertThat(r.delta).as("delta of %s", r).isGreaterThanOrEqualTo(delay + 1);
            assertThat(r.preempt).as("preempt of %s", r).isZero();
            assertThat(r.cpu).as("cpu of %s", r).isEqualTo(1);
            assertThat(r.command).as("command of %s", r).matches("kworker/1:\\d+");
        }
        assertOnePidPerThread(rows);
    }

    /**
     * On a manual clock ticked only while the item waits on its timer, every delta is exactly
     * {@code delay + 1} (the first counted from the read): a level-0 timer with expiry E fires at
     * the tick that makes jiffies E+1, and the item runs in that jiffy. Delay 0 queues at once,
     * without a timer, so the page fills without a tick. Spec §10 items 116, 57 (delay 0 queues
     * immediately), 51.
     */
    @ParameterizedTest(name = "delay {0}: deltas {1}")
    @CsvSource({"0, 0", "1, 2", "5, 6", "40, 41"})
    void wqdelayOnAManualClockWaitsDelayPlusOne(long delay, long expected) throws Exception {
        ManualClock clock = new ManualClock();
        JiqWqCommand.Wqdelay cmd = new JiqWqCommand.Wqdelay();
        cmd.cpu = 0;
        cmd.delay = delay;
        String page;
        long start;
        try (Kernel kernel = Kernel.builder().cpus(2).hz(1000).clock(clock).build()) {
            start = kernel.jiffies();
            page = JiqTable.readTicking(kernel, clock, cmd::timerPending, cmd::read);
        }
        List<JiqTable.Row> rows = JiqTable.parse(page);
        JiqTable.assertFull(page);
        for (int i = 0; i < rows.size(); i++) {
            JiqTable.Row r = rows.get(i);
            assertThat(r.delta).as("delta of row %d, %s", i, r).isEqualTo(expected);
            assertThat(r.time).as("time of row %d, %s", i, r).isEqualTo(start + (i + 1) * expected);
            assertThat(r.command).as("command of %s", r).matches("kworker/0:\\d+");
        }
    }

    /**
     * A negative delay and a CPU that does not exist are usage errors, not crashes. No §10 item: the
     * command line.
     */
    @Test
    void rejectsBadOptions() {
        assertThat(JiqTable.exitCode("jiq", "wqdelay", "--delay", "-1")).isNotZero();
        assertThat(JiqTable.exitCode("jiq", "wq", "--cpus", "1", "--cpu", "1")).isNotZero();
        assertThat(JiqTable.exitCode("jiq", "wq", "--cpus", "0")).isNotZero();
    }
}

package io.kdefer.cli;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class JiqTaskletCommandTest {

    /**
     * {@code jiq tasklet}: a tasklet that schedules itself fills the page, every row in softirq
     * context (preempt SOFTIRQ_OFFSET, 256) on the reader's CPU. The first run at {@code cpu/1}'s irq
     * exit makes at most 10 passes (one row each), so no more than 10 rows in a row come from
     * {@code cpu/1}, and the rest of the page comes from {@code ksoftirqd/1}. Spec §10 items 26, 27,
     * 4, 7, 14, 19.
     */
    @Test
    void rowsInSoftirqContextHandedToKsoftirqdAfterTheBudget() {
        String page = JiqTable.run("jiq", "tasklet", "--cpus", "2", "--cpu", "1");
        List<JiqTable.Row> rows = JiqTable.parse(page);
        JiqTable.assertFull(page);
        int run = 0;
        for (JiqTable.Row r : rows) {
            assertThat(r.preempt).as("preempt of %s", r).isEqualTo(0x100);
            assertThat(r.cpu).as("cpu of %s", r).isEqualTo(1);
            assertThat(r.command).as("command of %s", r).isIn("cpu/1", "ksoftirqd/1");
            run = r.command.equals("cpu/1") ? run + 1 : 0;
            assertThat(run).as("rows in a row from cpu/1, up to %s", r).isLessThanOrEqualTo(10);
        }
        assertThat(rows).anySatisfy(r -> assertThat(r.command).isEqualTo("ksoftirqd/1"));
    }

    /**
     * Scheduled from the reader's task context, the tasklet is run by {@code ksoftirqd/N}: the raise
     * wakes it, and every later run is its own restart or next batch. Spec §10 items 9, 17, 27.
     */
    @Test
    void fromTaskEveryRowComesFromKsoftirqd() {
        String page = JiqTable.run("jiq", "tasklet", "--cpus", "1", "--from-task", "--cold");
        List<JiqTable.Row> rows = JiqTable.parse(page);
        JiqTable.assertFull(page);
        for (JiqTable.Row r : rows) {
            assertThat(r.command).as("command of %s", r).isEqualTo("ksoftirqd/0");
            assertThat(r.preempt).as("preempt of %s", r).isEqualTo(0x100);
            assertThat(r.cpu).as("cpu of %s", r).isZero();
        }
    }

    /** A CPU that does not exist is a usage error, not a crash. No §10 item: the command line. */
    @Test
    void rejectsCpuOutOfRange() {
        assertThat(JiqTable.exitCode("jiq", "tasklet", "--cpus", "1", "--cpu", "3")).isNotZero();
        assertThat(JiqTable.exitCode("jiq", "tasklet", "--cpus", "4097")).isNotZero();
    }
}

package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class JiqTimerCommandTest {

    /**
     * {@code jiq timer} prints two rows: the reader's, in task context (preempt 0, its own thread,
     * delta 0 on a read that starts and prints in one jiffy or more), and the timer's, in the timer
     * softirq of the reader's CPU (preempt SOFTIRQ_OFFSET, 256, on {@code cpu/1} or
     * {@code ksoftirqd/1}), never earlier than {@code delay + 1} jiffies after the first. Spec §10
     * items 109 (runs once, in TIMER_SOFTIRQ context, on the arming CPU), 116 (never early), 13, 14.
     */
    @Test
    void readerRowThenOneTimerRowInSoftirqContext() {
        int delay = 5;
        String page = JiqTable.run("jiq", "timer", "--cpus", "2", "--cpu", "1", "--delay", String.valueOf(delay),
                "--cold");
        List<JiqTable.Row> rows = JiqTable.parse(page);
        assertThat(rows).hasSize(2);
        JiqTable.Row reader = rows.get(0);
        Thread me = Thread.currentThread();
        assertThat(reader.preempt).isZero();
        assertThat(reader.cpu).isEqualTo(1);
        assertThat(reader.command).as("reader row of\n%s", page).isEqualTo(me.getName());
        assertThat(reader.pid).isEqualTo(me.getId());
        JiqTable.Row timer = rows.get(1);
        assertThat(timer.preempt).as("preempt of %s", timer).isEqualTo(0x100);
        assertThat(timer.cpu).as("cpu of %s", timer).isEqualTo(1);
        assertThat(timer.command).as("command of %s", timer).isIn("cpu/1", "ksoftirqd/1");
        assertThat(timer.delta).as("delta of %s", timer).isGreaterThanOrEqualTo(delay + 1);
    }

    /**
     * On a manual clock the timer's row comes exactly at the bucket of its expiry: the first tick
     * after {@code expires} on level 0 (delay + 1; an expiry in the past or now fires at the next
     * tick), and on level 2 for HZ jiffies (one second at HZ 1000) at the first multiple of the
     * level's 64-jiffy granule after it. Spec §10 items 116, 117, 118.
     */
    @ParameterizedTest(name = "delay {0}")
    @CsvSource({"0", "1", "10", "62", "1000"})
    void manualClockFiresAtTheBucketAfterTheExpiry(long delay) throws Exception {
        ManualClock clock = new ManualClock();
        JiqTimerCommand cmd = new JiqTimerCommand();
        cmd.cpu = 0;
        cmd.delay = delay;
        String page;
        try (Kernel kernel = Kernel.builder().cpus(1).hz(1000).clock(clock).build()) {
            page = JiqTable.readTicking(kernel, clock, cmd::timerPending, cmd::read);
        }
        List<JiqTable.Row> rows = JiqTable.parse(page);
        assertThat(rows).hasSize(2);
        long expires = rows.get(0).time + delay;
        long expected;
        if (delay < 63) {
            expected = Math.max(expires, rows.get(0).time) + 1;
        } else {
            expected = ((expires >>> 6) + 1) << 6;   // level 2 of an HZ 1000 wheel: 64-jiffy granules
        }
        assertThat(rows.get(1).time).as("time of %s", rows.get(1)).isEqualTo(expected);
        assertThat(rows.get(1).preempt).isEqualTo(0x100);
        assertThat(rows.get(1).command).isIn("cpu/0", "ksoftirqd/0");
    }

    /**
     * A negative delay and a CPU that does not exist are usage errors, not crashes. No §10 item: the
     * command line.
     */
    @Test
    void rejectsBadOptions() {
        assertThat(JiqTable.exitCode("jiq", "timer", "--delay", "-1")).isNotZero();
        assertThat(JiqTable.exitCode("jiq", "timer", "--cpus", "2", "--cpu", "2")).isNotZero();
    }
}

package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class JiqPageTest {

    /**
     * {@code jiq_print} adds rows until the text is longer than LIMIT, then prints nothing more and
     * says stop; the bytes it counted are the bytes it prints (the jiffies, ten digits at boot, are
     * wider than their {@code %9li} column, and the count follows). Rows printed from task context
     * show preempt 0, the caller's CPU, thread id and name, and, with the clock standing still,
     * delta 0. Spec §10 item 13 (task context is not in interrupt: preempt count 0).
     */
    @Test
    void printFillsThePageByWholeRowsThenStops() {
        ManualClock clock = new ManualClock();
        try (Kernel kernel = Kernel.builder().cpus(2).hz(1000).clock(clock).build()) {
            kernel.runOnCpu(1, () -> {
                JiqPage page = new JiqPage(kernel, JiqPage::sameName);
                int calls = 0;
                while (page.print()) {
                    calls++;
                    assertThat(calls).as("calls").isLessThan(200);
                }
                int rows = page.rows();
                assertThat(rows).isEqualTo(calls);
                assertThat(page.print()).as("a later call").isFalse();
                assertThat(page.rows()).isEqualTo(rows);

                String text = page.format();
                assertThat(text.getBytes(StandardCharsets.US_ASCII).length).isEqualTo(page.length());
                JiqTable.assertFull(text);
                List<JiqTable.Row> parsed = JiqTable.parse(text);
                assertThat(parsed).hasSize(rows);
                Thread me = Thread.currentThread();
                for (JiqTable.Row r : parsed) {
                    assertThat(r.time).isEqualTo(kernel.jiffies());
                    assertThat(r.delta).isZero();
                    assertThat(r.preempt).isZero();
                    assertThat(r.pid).isEqualTo(me.getId());
                    assertThat(r.cpu).isEqualTo(1);
                    assertThat(r.command).isEqualTo(me.getName());
                }
                return null;
            });
        }
    }

    /**
     * The first row's delta counts from the start of the read, the next ones from the previous row,
     * in jiffies of the kernel's clock. No §10 item: the columns of LDD3's jiq module.
     */
    @Test
    void deltasCountFromTheReadThenFromThePreviousRow() {
        ManualClock clock = new ManualClock();
        try (Kernel kernel = Kernel.builder().cpus(1).hz(1000).clock(clock).build()) {
            JiqPage page = new JiqPage(kernel, JiqPage::sameName);
            long start = kernel.jiffies();
            clock.tick(3);
            page.print();
            clock.tick(5);
            page.print();
            page.print();
            List<JiqTable.Row> rows = JiqTable.parse(page.format());
            assertThat(rows).extracting(r -> r.time).containsExactly(start + 3, start + 8, start + 8);
            assertThat(rows).extracting(r -> r.delta).containsExactly(3L, 5L, 0L);
        }
    }

    /**
     * With the legacy names a per-CPU worker of the normal pool prints as the 2.6 workqueue thread of
     * its CPU; every other thread keeps its name. No §10 item: the output of LDD3's jiq module.
     */
    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
            "kworker/0:1, events/0",
            "kworker/12:305, events/12",
            "kworker/1:0H, kworker/1:0H",
            "kworker/u4:2, kworker/u4:2",
            "kworker/0:BH, kworker/0:BH",
            "kworker/R-jiq, kworker/R-jiq",
            "kworker/3:, kworker/3:",
            "ksoftirqd/0, ksoftirqd/0",
            "cpu/1, cpu/1",
            "main, main",
    })
    void legacyNamesMapPerCpuWorkersOnly(String name, String legacy) {
        assertThat(JiqPage.legacyName(name)).isEqualTo(legacy);
    }

    /**
     * A column is as wide as its {@code %<min>d} text: the digits and the sign, or the minimum. No
     * §10 item: the page accounting of LDD3's jiq module.
     */
    @ParameterizedTest(name = "{0} in %{1}d: {2}")
    @CsvSource({"0, 4, 4", "9999, 4, 4", "10000, 4, 5", "-1, 4, 4", "-1000, 4, 5", "4294667296, 9, 10",
            "256, 3, 3", "-9223372036854775808, 1, 20"})
    void widthIsThePrintedWidth(long v, int min, int width) {
        assertThat(JiqPage.width(v, min)).isEqualTo(width).isEqualTo(String.format("%" + min + "d", v).length());
    }
}

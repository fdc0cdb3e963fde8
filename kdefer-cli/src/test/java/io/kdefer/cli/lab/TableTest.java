package io.kdefer.cli.lab;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The lab's table, duration option and progress bar. The lab's framework: no spec §10 item. */
class TableTest {

    /** Aligned columns, notes after a #, CSV with quoting; a row of the wrong width or a NaN is refused. */
    @Test
    void printsAlignedAndAsCsv() {
        Table t = new Table("title", "name", "p50_us", "n").row("a,b", 1.24, 3L).row("long-name", 12345.6, 10L).note("n1");
        StringWriter out = new StringWriter();
        t.print(new PrintWriter(out));
        List<String> lines = out.toString().lines().toList();
        assertThat(lines).containsExactly(
                "# title",
                "name       p50_us   n",
                "a,b           1.2   3",
                "long-name   12346  10",
                "# n1");
        assertThat(t.csv()).isEqualTo("name,p50_us,n\r\n\"a,b\",1.2,3\r\nlong-name,12346,10\r\n");
        assertThat(t.number("long-name", "n")).isEqualTo(10);
        assertThatThrownBy(() -> t.row("x", 1.0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("row x has 1 values for 2 columns");
        assertThatThrownBy(() -> t.row("x", Double.NaN, 1L)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("finite");
    }

    /** --duration accepts the short forms and ISO-8601, and names the unit it does not know. */
    @Test
    void durationConverterParsesShortForms() {
        LabOptions.DurationConverter c = new LabOptions.DurationConverter();
        assertThat(c.convert("2s")).isEqualTo(Duration.ofSeconds(2));
        assertThat(c.convert("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(c.convert("250us")).isEqualTo(Duration.ofNanos(250_000));
        assertThat(c.convert("1.5m")).isEqualTo(Duration.ofSeconds(90));
        assertThat(c.convert("PT3S")).isEqualTo(Duration.ofSeconds(3));
        assertThatThrownBy(() -> c.convert("3h")).hasMessageContaining("unknown unit 'h'");
        assertThatThrownBy(() -> c.convert("ms")).hasMessageContaining("not a duration");
    }

    /**
     * The bar draws nothing during the first second, then redraws at most every 100 ms, and clears
     * its line at the end; with "never" (and "auto" off a terminal) it draws nothing at all.
     */
    @Test
    void progressShowsOnlyAfterOneSecond() {
        long[] now = {0};
        StringWriter err = new StringWriter();
        Progress p = new Progress(new PrintWriter(err), Progress.Mode.always, 2_000_000_000L, () -> now[0]);
        now[0] = 999_000_000L;
        p.update("early");
        assertThat(err.toString()).isEmpty();
        now[0] = 1_000_000_000L;
        p.update("half");
        assertThat(err.toString()).contains("[###############               ]  50% half");
        int len = err.toString().length();
        now[0] += 50_000_000L;
        p.update("soon");
        assertThat(err.toString()).hasSize(len);
        now[0] += 60_000_000L;
        p.update("later");
        assertThat(err.toString()).contains("later");
        p.close();
        assertThat(err.toString()).endsWith("\r");

        List<String> drawn = new ArrayList<>();
        StringWriter none = new StringWriter();
        for (Progress.Mode m : new Progress.Mode[] {Progress.Mode.never, Progress.Mode.auto}) {
            now[0] = 0;
            Progress q = new Progress(new PrintWriter(none), m, 1, () -> now[0]);
            now[0] = 5_000_000_000L;
            q.update("x");
            q.close();
            drawn.add(none.toString());
        }
        assertThat(drawn).containsOnly("");   // surefire's stderr is not a terminal
    }
}

package io.kdefer.cli.lab;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every {@code kdefer lab} experiment run with {@code --quick}, in process, checked for shape only:
 * the table's header and every expected row, numbers that parse and are finite, the same table in
 * the CSV, a report whose plots each draw every row, and no thread left behind. Never the timing
 * values. Experiments of the lab; §10.8 item 158 for the jit experiment's tasklet rows.
 */
class LabCommandTest {

    /** What a run printed. */
    static final class Output {
        final int code;
        final String out;
        final String err;

        Output(int code, String out, String err) {
            this.code = code;
            this.out = out;
            this.err = err;
        }

        /** The table: header first, then the rows, as cells. */
        List<String[]> table() {
            return out.lines().filter(l -> !l.startsWith("#")).map(l -> l.trim().split("\\s+"))
                    .collect(Collectors.toList());
        }
    }

    static Output run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new io.kdefer.cli.KdeferCommand());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Output(code, out.toString(), err.toString());
    }

    private static List<String> threadNames() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("cpu/") || n.startsWith("ksoftirqd") || n.startsWith("kworker")
                        || n.startsWith("irq/") || n.startsWith("lab-probe") || n.startsWith("ktimers"))
                .collect(Collectors.toList());
    }

    /**
     * Runs {@code kdefer lab <experiment> --quick} with CSV and report, and checks: exit 0, no
     * stderr (the progress bar stays off when stderr is no terminal), the header, exactly the
     * expected rows in order, every other cell a finite number, the CSV equal to the table, and the
     * report's plots.
     */
    static Document check(Path dir, String experiment, List<String> header, List<String> rows, String... extra)
            throws Exception {
        Path csv = dir.resolve(experiment + ".csv");
        Path report = dir.resolve(experiment);
        List<String> args = new ArrayList<>(List.of("lab", experiment, "--quick", "--csv", csv.toString(),
                "--report", report.toString()));
        args.addAll(Arrays.asList(extra));
        Output o = run(args.toArray(new String[0]));
        assertThat(o.code).as("exit code; stderr: %s", o.err).isZero();
        assertThat(o.err).isEmpty();

        List<String[]> table = o.table();
        assertThat(table.get(0)).containsExactlyElementsOf(header);
        assertThat(table.subList(1, table.size())).extracting(r -> r[0]).containsExactlyElementsOf(rows);
        for (String[] r : table.subList(1, table.size())) {
            assertThat(r).as("cells of %s", Arrays.toString(r)).hasSize(header.size());
            for (int i = 1; i < r.length; i++) {
                assertThat(Double.parseDouble(r[i])).as("%s of %s", header.get(i), r[0]).isFinite().isNotNegative();
            }
        }

        List<String[]> csvRows = Files.readAllLines(csv, StandardCharsets.UTF_8).stream().map(l -> l.split(","))
                .collect(Collectors.toList());
        assertThat(csvRows).hasSize(table.size());
        for (int i = 0; i < table.size(); i++) {
            assertThat(csvRows.get(i)).containsExactly(table.get(i));
        }

        assertThat(o.out).contains("# report: ");
        String html = Files.readString(report.resolve("index.html"), StandardCharsets.UTF_8);
        Document d = SvgTest.parse(html.replaceFirst("<!DOCTYPE html>", ""));
        SvgTest.assertCoordinatesFinite(d);
        assertThat(html).doesNotContain("<script");
        assertThat(threadNames()).as("threads left by %s", experiment).isEmpty();
        return d;
    }

    /** Series names of each CDF plot (polyline data-series) and bar chart (rect titles). */
    private static void assertEveryPlotDrawsEveryRow(Document d, List<String> rows, int cdfs, int barCharts) {
        List<Element> svgs = SvgTest.elements(d, "svg");
        assertThat(svgs).hasSize(cdfs + barCharts);
        int seenCdf = 0;
        int seenBars = 0;
        for (Element svg : svgs) {
            List<String> legend = new ArrayList<>();
            var g = svg.getElementsByTagName("g");
            for (int i = 0; i < g.getLength(); i++) {
                legend.add(g.item(i).getTextContent().replace(" (no data)", ""));
            }
            if (!legend.isEmpty()) {
                assertThat(legend).containsExactlyElementsOf(rows);
                seenCdf++;
            } else {
                assertThat(svg.getElementsByTagName("rect").getLength()).isEqualTo(rows.size());
                seenBars++;
            }
        }
        assertThat(seenCdf).isEqualTo(cdfs);
        assertThat(seenBars).isEqualTo(barCharts);
    }

    /** The shootout has a row per mechanism of the registry, and its four plots draw each of them. */
    @Test
    void shootoutQuick(@TempDir Path dir) throws Exception {
        List<String> names = Deferrals.SHOOTOUT.stream().map(Deferral::name).collect(Collectors.toList());
        assertThat(names).contains("tasklet", "tasklet-hi", "tasklet@bh-wq", "tasklet@wq-2007", "bh-work",
                "percpu-work", "highpri-work", "unbound-work", "threaded-irq", "forced-threading", "timer-now",
                "old-bh", "tq-immediate", "keventd");
        Document d = check(dir, "shootout", List.of("mechanism", "p50_us", "p99_us", "p99.9_us", "max_us",
                "events", "sustained_per_s", "cpu_us_per_event", "task_p99_us", "task_max_us"), names);
        assertEveryPlotDrawsEveryRow(d, names, 2, 2);
    }

    /** The jit experiment: normal and HI tasklets on an idle and on a loaded CPU. */
    @Test
    void jitQuick(@TempDir Path dir) throws Exception {
        List<String> rows = List.of("tasklet/idle", "tasklet-hi/idle", "tasklet/loaded", "tasklet-hi/loaded");
        Document d = check(dir, "jit", List.of("variant", "p50_us", "p99_us", "max_us", "samples", "ksoftirqd_pct"),
                rows);
        assertEveryPlotDrawsEveryRow(d, rows, 1, 0);
    }

    /** The softirq flood: the kernel's budget, no budget, and forced threading. */
    @Test
    void softirqFloodQuick(@TempDir Path dir) throws Exception {
        List<String> rows = List.of("budget-10x2ms", "budget-disabled", "forced-threading");
        Document d = check(dir, "softirq-flood", List.of("variant", "tasklet_runs_per_s", "ksoftirqd_pct",
                "hardirq_p50_us", "hardirq_p99_us", "hardirq_max_us", "task_p99_us", "task_max_us"), rows);
        assertEveryPlotDrawsEveryRow(d, rows, 2, 0);
    }

    /** The keventd experiment: keventd, the 2.6 queue and the cmwq queues, each with a sleeping and a busy slow task. */
    @Test
    void keventdQuick(@TempDir Path dir) throws Exception {
        List<String> rows = new ArrayList<>();
        for (TaskTarget q : TaskTarget.KEVENTD) {
            rows.add(q.name() + "/sleeping");
            rows.add(q.name() + "/busy");
        }
        assertThat(rows).contains("keventd/sleeping", "2.6-wq/busy", "system_wq/sleeping", "unbound/busy");
        Document d = check(dir, "keventd", List.of("queue", "fast_p50_us", "fast_p99_us", "fast_max_us",
                "blocked_pct", "rounds"), rows);
        assertEveryPlotDrawsEveryRow(d, rows, 1, 0);
    }

    /** The bottom-halves experiment: a row per mechanism and CPU count, 1..--cpus. */
    @Test
    void bottomHalvesQuick(@TempDir Path dir) throws Exception {
        List<String> rows = List.of("old-bh", "old-bh", "tasklets", "tasklets", "softirq", "softirq");
        Document d = check(dir, "bottom-halves", List.of("mechanism", "cpus", "runs_per_s", "speedup"), rows,
                "--cpus", "2");
        assertEveryPlotDrawsEveryRow(d, rows, 0, 1);
    }

    /** Bad options are usage errors (exit 2) naming the option; an unknown mechanism lists the known ones. */
    @Test
    void badOptionsAreUsageErrors() {
        Output cpus = run("lab", "jit", "--quick", "--cpus", "0");
        assertThat(cpus.code).isEqualTo(2);
        assertThat(cpus.err).contains("--cpus must be in 1..4096");
        Output dur = run("lab", "jit", "--duration", "3h");
        assertThat(dur.code).isEqualTo(2);
        assertThat(dur.err).contains("unknown unit 'h'");
        Output mech = run("lab", "shootout", "--quick", "--mechanism", "bogus");
        assertThat(mech.code).isEqualTo(2);
        assertThat(mech.err).contains("no mechanism bogus", "threaded-irq");
    }
}

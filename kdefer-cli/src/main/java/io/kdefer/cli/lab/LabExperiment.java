package io.kdefer.cli.lab;

import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * The shape every {@code kdefer lab} experiment shares: check the options, run (building and
 * closing its own kernels, joining every thread it starts), then print the table, write the CSV
 * and the report when asked.
 */
abstract class LabExperiment implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LabOptions options;

    /** Runs the experiment; fills the table and, when a report is asked for, the report. */
    abstract Table run(Progress progress, HtmlReport report) throws Exception;

    /** Rough length of the whole run, for the progress bar. */
    abstract long expectedNanos();

    /** The smallest {@code --cpus} the experiment works with. */
    int minCpus() {
        return 1;
    }

    @Override
    public final Integer call() throws Exception {
        options.check(minCpus());
        HtmlReport report = new HtmlReport("kdefer lab " + spec.name());
        report.pre("kdefer " + String.join(" ", spec.commandLine().getParseResult().originalArgs()));
        Table table;
        try (Progress progress = options.progress(expectedNanos())) {
            table = run(progress, report);
        }
        PrintWriter out = spec.commandLine().getOut();
        table.print(out);
        if (options.csv() != null) {
            table.writeCsv(options.csv());
        }
        Path dir = options.report();
        if (dir != null) {
            Path file = report.write(dir);
            out.println("# report: " + file);
        }
        out.flush();
        return 0;
    }
}

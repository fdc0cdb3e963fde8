package io.kdefer.cli.lab;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * The options every {@code kdefer lab} experiment takes (a picocli mixin).
 *
 * <p>{@code --duration} is how long each measured phase of one mechanism lasts; an experiment
 * divides it as its own help says. {@code --quick} replaces it with a short fixed budget, sized so
 * that a whole experiment ends in a few seconds on a loaded two-core machine: it is for CI, which
 * checks the output's shape, never its numbers.
 */
public final class LabOptions {
    /** The duration {@code --quick} gives each measured phase. */
    static final Duration QUICK_PHASE = Duration.ofMillis(60);

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--duration", defaultValue = "2s", converter = DurationConverter.class,
            description = "Length of each measured phase, e.g. 2s, 500ms, 1m (default: ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--quick", description = "A short run for CI: every phase lasts "
            + "60 ms; the numbers mean little, the shape of the output is complete.")
    boolean quick;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the experiment's random numbers"
            + " (event inter-arrival times) (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--cpus", defaultValue = "2", description = "Virtual CPUs of each kernel (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--csv", paramLabel = "FILE", description = "Also write the table to FILE as CSV.")
    Path csv;

    @Option(names = "--report", paramLabel = "DIR", description = "Write an HTML report with SVG plots to DIR/index.html.")
    Path report;

    @Option(names = "--progress", defaultValue = "auto", paramLabel = "WHEN",
            description = "Progress bar on stderr: auto (only when stderr is a terminal and the run"
                    + " lasts more than a second), always, never (default: ${DEFAULT-VALUE}).")
    Progress.Mode progress;

    /** The length of one measured phase: {@code --duration}, or {@link #QUICK_PHASE} with {@code --quick}. */
    public Duration phase() {
        return quick ? QUICK_PHASE : duration;
    }

    /** {@link #phase()} in nanoseconds. */
    public long phaseNanos() {
        return phase().toNanos();
    }

    public boolean quick() {
        return quick;
    }

    public long seed() {
        return seed;
    }

    public int cpus() {
        return cpus;
    }

    public Path csv() {
        return csv;
    }

    public Path report() {
        return report;
    }

    /** Rejects bad values as usage errors; call first in every experiment. */
    public void check(int minCpus) {
        if (cpus < minCpus || cpus > 4096) {
            throw new ParameterException(spec.commandLine(),
                    "--cpus must be in " + minCpus + "..4096 for " + spec.name() + ": " + cpus);
        }
        if (duration.isNegative() || duration.isZero() || duration.compareTo(Duration.ofHours(1)) > 0) {
            throw new ParameterException(spec.commandLine(), "--duration must be more than 0 and at most 1h: " + duration);
        }
    }

    /** The progress bar of this run, writing to the command's stderr. */
    public Progress progress(long expectedNanos) {
        return new Progress(spec.commandLine().getErr(), progress, expectedNanos);
    }

    /**
     * Parses {@code 2s}, {@code 500ms}, {@code 250us}, {@code 1m}, or an ISO-8601 duration
     * ({@code PT2S}).
     */
    public static final class DurationConverter implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            if (v.startsWith("pt")) {
                return Duration.parse(value.trim());
            }
            int i = 0;
            while (i < v.length() && (Character.isDigit(v.charAt(i)) || v.charAt(i) == '.')) {
                i++;
            }
            if (i == 0) {
                throw new IllegalArgumentException("not a duration (try 2s or 500ms): " + value);
            }
            double n = Double.parseDouble(v.substring(0, i));
            String unit = v.substring(i).trim();
            double nanos;
            switch (unit) {
                case "us":
                    nanos = n * 1e3;
                    break;
                case "ms":
                    nanos = n * 1e6;
                    break;
                case "s":
                case "":
                    nanos = n * 1e9;
                    break;
                case "m":
                case "min":
                    nanos = n * 60e9;
                    break;
                default:
                    throw new IllegalArgumentException("unknown unit '" + unit + "' in " + value + " (us, ms, s, m)");
            }
            return Duration.ofNanos(Math.round(nanos));
        }
    }
}

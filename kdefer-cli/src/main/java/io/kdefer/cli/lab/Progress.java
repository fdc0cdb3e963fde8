package io.kdefer.cli.lab;

import java.io.PrintWriter;

/**
 * A one-line progress bar on stderr, redrawn in place with a carriage return.
 *
 * <p>When it shows ({@link Mode}): {@code auto} draws only when stderr is a terminal (the JVM has
 * a console and {@code TERM} is not {@code dumb}) and the run has lasted more than a second, so CI
 * logs and captured output stay clean; {@code always} draws whenever the run lasts more than a
 * second, wherever stderr goes; {@code never} draws nothing. Redraws at most every 100 ms.
 *
 * <p>Called only from the thread that runs the experiment; owns no thread.
 */
public final class Progress implements AutoCloseable {
    /** When the bar is drawn. */
    public enum Mode { auto, always, never }

    private static final long SHOW_AFTER_NANOS = 1_000_000_000L;
    private static final long REDRAW_NANOS = 100_000_000L;
    private static final int WIDTH = 30;

    private final PrintWriter err;
    private final boolean enabled;
    private final java.util.function.LongSupplier clock;
    private final long start;
    private final long expectedNanos;
    private long lastDraw;
    private boolean drawn;

    Progress(PrintWriter err, Mode mode, long expectedNanos) {
        this(err, mode, expectedNanos, System::nanoTime);
    }

    /** With the time source given (tests pass a fake one). */
    Progress(PrintWriter err, Mode mode, long expectedNanos, java.util.function.LongSupplier clock) {
        this.err = err;
        this.clock = clock;
        this.start = clock.getAsLong();
        this.expectedNanos = Math.max(1, expectedNanos);
        this.enabled = mode == Mode.always || (mode == Mode.auto && stderrIsTerminal());
    }

    /**
     * Java 17 can only tell whether the JVM has a console (stdin and stdout on a terminal); from
     * JDK 22 on {@code System.console()} may exist without one, and {@code Console.isTerminal()}
     * (looked up reflectively, as the build targets 17) says whether it is real.
     */
    private static boolean stderrIsTerminal() {
        String term = System.getenv("TERM");
        java.io.Console console = System.console();
        if (console == null || term == null || term.equals("dumb") || System.getenv("CI") != null) {
            return false;
        }
        try {
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException e) {
            return true;   // before JDK 22 a console is a terminal
        }
    }

    /** Reports where the run is: {@code label} is what runs now. */
    public void update(String label) {
        if (!enabled) {
            return;
        }
        long now = clock.getAsLong();
        if (now - start < SHOW_AFTER_NANOS || (drawn && now - lastDraw < REDRAW_NANOS)) {
            return;
        }
        lastDraw = now;
        drawn = true;
        double f = Math.min(1.0, (now - start) / (double) expectedNanos);
        int full = (int) Math.round(f * WIDTH);
        err.print("\r[" + "#".repeat(full) + " ".repeat(WIDTH - full) + "] "
                + String.format("%3d%% %-24.24s", Math.round(f * 100), label));
        err.flush();
    }

    /** Whether the bar has drawn anything (so {@link #close()} clears a line). */
    boolean drawn() {
        return drawn;
    }

    /** Clears the bar's line. */
    @Override
    public void close() {
        if (drawn) {
            err.print("\r" + " ".repeat(WIDTH + 40) + "\r");
            err.flush();
        }
    }
}

package io.kdefer.testkit;

import io.kdefer.ErrorHandler;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * An {@link ErrorHandler} that keeps what callbacks threw, so that a test can assert on it. A test
 * that expects errors takes them ({@link #take()}); {@link #assertNone()} then fails on any it did
 * not take, which is what {@link KdeferExtension} does after each test.
 */
public final class CollectingErrors implements ErrorHandler {
    /** One call of the error handler: the source the kernel named and the exception. */
    public record Report(Object source, Throwable error) {
        @Override
        public String toString() {
            return source + ": " + error;
        }
    }

    private final ConcurrentLinkedQueue<Report> reports = new ConcurrentLinkedQueue<>();

    @Override
    public void onError(Object source, Throwable error) {
        reports.add(new Report(source, error));
    }

    /** The reports not taken yet, oldest first; they stay. */
    public List<Report> reports() {
        return new ArrayList<>(reports);
    }

    /** The reports not taken yet, oldest first, and marks them as expected. */
    public List<Report> take() {
        List<Report> out = new ArrayList<>();
        for (Report r; (r = reports.poll()) != null; ) {
            out.add(r);
        }
        return out;
    }

    /** Fails if a report was not taken; each report's exception is attached as a suppressed one. */
    public void assertNone() {
        List<Report> left = reports();
        if (!left.isEmpty()) {
            AssertionError e = new AssertionError("errors reported to the kernel's error handler: " + left);
            for (Report r : left) {
                e.addSuppressed(r.error());
            }
            throw e;
        }
    }
}

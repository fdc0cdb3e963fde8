package io.kdefer.cli.lab;

import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/** Latency histograms of the lab: nanoseconds, 3 significant digits, safe for concurrent recording. */
final class Latency {
    private Latency() {
    }

    /** A new empty histogram (auto-resizing; any thread may record). */
    static Histogram histogram() {
        ConcurrentHistogram h = new ConcurrentHistogram(3);
        return h;
    }

    /** The value at {@code percentile} (0..100) in microseconds; 0 for an empty histogram. */
    static double us(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(percentile) / 1000.0;
    }

    /** The largest value in microseconds; 0 for an empty histogram. */
    static double maxUs(Histogram h) {
        return h.getTotalCount() == 0 ? 0 : h.getMaxValue() / 1000.0;
    }
}

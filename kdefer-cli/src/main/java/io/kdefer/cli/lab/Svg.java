package io.kdefer.cli.lab;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Draws the lab's plots as inline SVG text, with nothing fetched from anywhere: a latency CDF on a
 * log-scaled time axis ({@link #cdf}) and a bar chart ({@link #bars}).
 *
 * <p>Coordinates are user units of a fixed {@code viewBox}; the page scales the picture. Every
 * number written is finite (a series without values is listed in the legend as "no data" and
 * draws no line). Latencies come in nanoseconds, as the histograms hold them, and are shown in
 * microseconds, milliseconds or seconds.
 */
public final class Svg {
    static final int WIDTH = 760;
    static final int HEIGHT = 400;
    static final int LEFT = 64;
    static final int RIGHT = 210;
    static final int TOP = 34;
    static final int BOTTOM = 52;
    /** Most points drawn per CDF line; more are thinned evenly (the last one is always kept). */
    static final int MAX_POINTS = 400;

    /** Line colours, distinct in print and for the common colour-vision deficiencies; then dashes repeat them. */
    private static final String[] COLOURS = {
        "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000", "#f0e442", "#999999",
    };
    private static final String[] DASHES = {"", "6 3", "2 3", "8 3 2 3"};

    private Svg() {
    }

    /**
     * A CDF per series: x is latency on a log axis (decade ticks labelled, 2..9 unlabelled), y the
     * fraction of events at or below it, 0 to 1.
     *
     * @param series name to histogram of nanoseconds, in legend order
     */
    public static String cdf(String title, Map<String, Histogram> series) {
        long lo = Long.MAX_VALUE;
        long hi = 0;
        for (Histogram h : series.values()) {
            if (h.getTotalCount() > 0) {
                lo = Math.min(lo, Math.max(1, h.getMinValue()));
                hi = Math.max(hi, h.getMaxValue());
            }
        }
        if (hi == 0) {
            lo = 1_000;
            hi = 1_000_000;
        }
        List<Double> ticks = logTicks(lo, Math.max(hi, lo + 1));
        double x0 = Math.log10(ticks.get(0));
        double x1 = Math.log10(ticks.get(ticks.size() - 1));
        double pw = WIDTH - LEFT - RIGHT;
        double ph = HEIGHT - TOP - BOTTOM;
        StringBuilder sb = open(title);
        // y grid and labels
        for (int i = 0; i <= 4; i++) {
            double f = i / 4.0;
            double y = TOP + ph * (1 - f);
            sb.append(line(LEFT, y, LEFT + pw, y, "grid"));
            sb.append(text(LEFT - 6, y + 4, "end", "tick", fmt(f)));
        }
        // x ticks: labelled decades, unlabelled 2..9 in between
        for (int d = 0; d < ticks.size(); d++) {
            double v = ticks.get(d);
            double x = LEFT + pw * (Math.log10(v) - x0) / (x1 - x0);
            sb.append(line(x, TOP, x, TOP + ph, "grid"));
            sb.append(line(x, TOP + ph, x, TOP + ph + 6, "axis"));
            sb.append(text(x, TOP + ph + 20, "middle", "tick", timeLabel(v)));
            if (d + 1 < ticks.size()) {
                for (int m = 2; m <= 9; m++) {
                    double xm = LEFT + pw * (Math.log10(v * m) - x0) / (x1 - x0);
                    sb.append(line(xm, TOP + ph, xm, TOP + ph + 3, "axis"));
                }
            }
        }
        sb.append(line(LEFT, TOP + ph, LEFT + pw, TOP + ph, "axis"));
        sb.append(line(LEFT, TOP, LEFT, TOP + ph, "axis"));
        sb.append(text(LEFT + pw / 2, HEIGHT - 10, "middle", "label", "latency (log scale)"));
        sb.append(text(14, TOP + ph / 2, "middle", "label", "fraction of events")
                .replace("<text ", "<text transform=\"rotate(-90 14 " + fmt(TOP + ph / 2) + ")\" "));
        int i = 0;
        for (Map.Entry<String, Histogram> e : series.entrySet()) {
            Histogram h = e.getValue();
            String colour = COLOURS[i % COLOURS.length];
            String dash = DASHES[(i / COLOURS.length) % DASHES.length];
            boolean empty = h.getTotalCount() == 0;
            if (!empty) {
                List<double[]> pts = cdfPoints(h);
                StringBuilder p = new StringBuilder();
                for (double[] pt : pts) {
                    double x = LEFT + pw * (Math.log10(Math.max(pt[0], ticks.get(0))) - x0) / (x1 - x0);
                    double y = TOP + ph * (1 - pt[1]);
                    p.append(fmt(x)).append(',').append(fmt(y)).append(' ');
                }
                sb.append("<polyline class=\"series\" data-series=\"").append(esc(e.getKey()))
                        .append("\" fill=\"none\" stroke=\"").append(colour).append("\" stroke-width=\"1.6\"")
                        .append(dash.isEmpty() ? "" : " stroke-dasharray=\"" + dash + "\"")
                        .append(" points=\"").append(p.toString().trim()).append("\"/>\n");
            }
            legend(sb, i, colour, dash, e.getKey() + (empty ? " (no data)" : ""));
            i++;
        }
        return sb.append("</svg>\n").toString();
    }

    /**
     * A horizontal bar per entry, on a linear axis from 0 with "nice" ticks.
     *
     * @param unit shown on the axis, e.g. "events/s"
     */
    public static String bars(String title, String unit, Map<String, Double> values) {
        double max = 0;
        for (double v : values.values()) {
            if (!Double.isFinite(v) || v < 0) {
                throw new IllegalArgumentException("bar values must be finite and >= 0: " + v);
            }
            max = Math.max(max, v);
        }
        double step = niceStep(max > 0 ? max : 1);
        double top = step * Math.ceil((max > 0 ? max : 1) / step);
        int n = Math.max(1, values.size());
        int barH = 18;
        int gap = 6;
        int left = 190;
        int height = TOP + n * (barH + gap) + BOTTOM;
        double pw = WIDTH - left - 40;
        StringBuilder sb = new StringBuilder();
        sb.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" viewBox=\"0 0 ")
                .append(WIDTH).append(' ').append(height).append("\" role=\"img\" aria-label=\"")
                .append(esc(title)).append("\">\n");
        sb.append(text(WIDTH / 2.0, 20, "middle", "title", title));
        double axisY = TOP + n * (barH + gap);
        for (double t = 0; t <= top + step / 2; t += step) {
            double x = left + pw * t / top;
            sb.append(line(x, TOP - 4, x, axisY, "grid"));
            sb.append(text(x, axisY + 16, "middle", "tick", number(t)));
        }
        sb.append(line(left, axisY, left + pw, axisY, "axis"));
        sb.append(text(left + pw / 2, height - 12, "middle", "label", unit));
        int i = 0;
        for (Map.Entry<String, Double> e : values.entrySet()) {
            double y = TOP + i * (barH + gap);
            double w = pw * e.getValue() / top;
            sb.append(text(left - 6, y + barH - 5, "end", "tick", e.getKey()));
            sb.append("<rect class=\"bar\" x=\"").append(fmt(left)).append("\" y=\"").append(fmt(y))
                    .append("\" width=\"").append(fmt(w)).append("\" height=\"").append(barH)
                    .append("\" fill=\"").append(COLOURS[i % COLOURS.length]).append("\"><title>")
                    .append(esc(e.getKey() + ": " + number(e.getValue()) + " " + unit)).append("</title></rect>\n");
            sb.append(text(left + w + 4, y + barH - 5, "start", "tick", number(e.getValue())));
            i++;
        }
        return sb.append("</svg>\n").toString();
    }

    /**
     * Decade ticks (in nanoseconds) from the power of ten at or below {@code loNanos} to the one at
     * or above {@code hiNanos}; at least two.
     */
    static List<Double> logTicks(long loNanos, long hiNanos) {
        int a = (int) Math.floor(Math.log10(Math.max(1, loNanos)) + 1e-9);
        int b = (int) Math.ceil(Math.log10(Math.max(1, hiNanos)) - 1e-9);
        if (b <= a) {
            b = a + 1;
        }
        List<Double> out = new ArrayList<>();
        for (int k = a; k <= b; k++) {
            out.add(Math.pow(10, k));
        }
        return out;
    }

    /** {@code 1 µs}, {@code 10 ms}, {@code 1 s}: a decade of nanoseconds for an axis label. */
    static String timeLabel(double nanos) {
        if (nanos < 1_000) {
            return number(nanos) + " ns";
        } else if (nanos < 1_000_000) {
            return number(nanos / 1_000) + " µs";
        } else if (nanos < 1_000_000_000) {
            return number(nanos / 1_000_000) + " ms";
        }
        return number(nanos / 1_000_000_000) + " s";
    }

    /** The CDF's points: (nanoseconds, cumulative fraction), thinned to {@link #MAX_POINTS}. */
    static List<double[]> cdfPoints(Histogram h) {
        List<double[]> all = new ArrayList<>();
        double total = h.getTotalCount();
        for (HistogramIterationValue v : h.recordedValues()) {
            all.add(new double[] {Math.max(1, h.highestEquivalentValue(v.getValueIteratedTo())),
                v.getTotalCountToThisValue() / total});
        }
        if (all.size() <= MAX_POINTS) {
            return all;
        }
        List<double[]> out = new ArrayList<>();
        double step = all.size() / (double) (MAX_POINTS - 1);
        for (int i = 0; i < MAX_POINTS - 1; i++) {
            out.add(all.get((int) (i * step)));
        }
        out.add(all.get(all.size() - 1));
        return out;
    }

    private static double niceStep(double max) {
        double raw = max / 5;
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double r = raw / mag;
        return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
    }

    private static StringBuilder open(String title) {
        StringBuilder sb = new StringBuilder();
        sb.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" viewBox=\"0 0 ")
                .append(WIDTH).append(' ').append(HEIGHT).append("\" role=\"img\" aria-label=\"")
                .append(esc(title)).append("\">\n");
        sb.append(text(WIDTH / 2.0, 20, "middle", "title", title));
        return sb;
    }

    private static void legend(StringBuilder sb, int i, String colour, String dash, String name) {
        double x = WIDTH - RIGHT + 16;
        double y = TOP + 10 + i * 18;
        sb.append("<g class=\"legend\"><line x1=\"").append(fmt(x)).append("\" y1=\"").append(fmt(y))
                .append("\" x2=\"").append(fmt(x + 22)).append("\" y2=\"").append(fmt(y))
                .append("\" stroke=\"").append(colour).append("\" stroke-width=\"2\"")
                .append(dash.isEmpty() ? "" : " stroke-dasharray=\"" + dash + "\"").append("/>")
                .append(text(x + 28, y + 4, "start", "tick", name).trim()).append("</g>\n");
    }

    private static String line(double x1, double y1, double x2, double y2, String cls) {
        return "<line class=\"" + cls + "\" x1=\"" + fmt(x1) + "\" y1=\"" + fmt(y1) + "\" x2=\"" + fmt(x2)
                + "\" y2=\"" + fmt(y2) + "\"/>\n";
    }

    private static String text(double x, double y, String anchor, String cls, String s) {
        return "<text class=\"" + cls + "\" x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" text-anchor=\"" + anchor + "\">"
                + esc(s) + "</text>\n";
    }

    /** A coordinate: two decimals, never NaN or infinite. */
    static String fmt(double v) {
        if (!Double.isFinite(v)) {
            throw new IllegalStateException("non-finite coordinate " + v);
        }
        return String.format(Locale.ROOT, "%.2f", v);
    }

    /** A number for a label: no decimals from 10 up, one below, thousands as k, millions as M. */
    static String number(double v) {
        if (v >= 1e6) {
            return trim(v / 1e6) + "M";
        }
        if (v >= 1e4) {
            return trim(v / 1e3) + "k";
        }
        return trim(v);
    }

    private static String trim(double v) {
        if (Math.abs(v - Math.rint(v)) < 1e-9 || v >= 10) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        return String.format(Locale.ROOT, "%.1f", v);
    }

    /** Escapes text for XML content and attribute values. */
    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}

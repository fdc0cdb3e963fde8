package io.kdefer.cli.lab;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The lab's SVG writer: the plots are well-formed, every coordinate is finite, the log axis has its
 * decade ticks where they belong. The lab's framework, not a kernel behaviour: no spec §10 item.
 */
class SvgTest {

    static Document parse(String xml) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(false);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    }

    static List<Element> elements(Document d, String tag) {
        NodeList nl = d.getElementsByTagName(tag);
        List<Element> out = new ArrayList<>();
        for (int i = 0; i < nl.getLength(); i++) {
            out.add((Element) nl.item(i));
        }
        return out;
    }

    /** Every coordinate-like attribute of every element parses as a finite number. */
    static void assertCoordinatesFinite(Document d) {
        NodeList all = d.getElementsByTagName("*");
        int checked = 0;
        for (int i = 0; i < all.getLength(); i++) {
            NamedNodeMap attrs = all.item(i).getAttributes();
            for (String a : new String[] {"x", "y", "x1", "y1", "x2", "y2", "width", "height"}) {
                if (attrs.getNamedItem(a) != null) {
                    assertThat(Double.parseDouble(attrs.getNamedItem(a).getNodeValue())).isFinite();
                    checked++;
                }
            }
            if (attrs.getNamedItem("points") != null) {
                for (String pt : attrs.getNamedItem("points").getNodeValue().trim().split("\\s+")) {
                    String[] xy = pt.split(",");
                    assertThat(xy).hasSize(2);
                    assertThat(Double.parseDouble(xy[0])).isFinite();
                    assertThat(Double.parseDouble(xy[1])).isFinite();
                    checked++;
                }
            }
        }
        assertThat(checked).isPositive();
    }

    private static Histogram constant(long nanos, int n) {
        Histogram h = Latency.histogram();
        h.recordValueWithCount(nanos, n);
        return h;
    }

    private static Map<String, Double> tickX(Document d) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (Element t : elements(d, "text")) {
            String s = t.getTextContent();
            if (t.getAttribute("class").equals("tick") && (s.endsWith(" ns") || s.endsWith(" µs")
                    || s.endsWith(" ms") || s.endsWith(" s"))) {
                out.put(s, Double.parseDouble(t.getAttribute("x")));
            }
        }
        return out;
    }

    /** A CDF from 3 us to 40 ms: one line and one legend entry per series, decade ticks 1 us .. 100 ms, evenly spaced. */
    @Test
    void cdfHasALinePerSeriesAndDecadeTicksOnALogAxis() throws Exception {
        Histogram fast = Latency.histogram();
        for (long v = 3_000; v <= 30_000; v += 1_000) {
            fast.recordValue(v);
        }
        Map<String, Histogram> series = new LinkedHashMap<>();
        series.put("fast <one>", fast);
        series.put("slow", constant(40_000_000, 10));
        Document d = parse(Svg.cdf("latency & more", series));

        List<Element> lines = elements(d, "polyline");
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0).getAttribute("data-series")).isEqualTo("fast <one>");
        assertThat(elements(d, "g")).extracting(g -> g.getTextContent()).containsExactly("fast <one>", "slow");
        assertCoordinatesFinite(d);

        Map<String, Double> ticks = tickX(d);
        assertThat(ticks.keySet()).containsExactly("1 µs", "10 µs", "100 µs", "1 ms", "10 ms", "100 ms");
        List<Double> xs = new ArrayList<>(ticks.values());
        double decade = xs.get(1) - xs.get(0);
        assertThat(decade).isPositive();
        for (int i = 1; i < xs.size(); i++) {
            assertThat(xs.get(i) - xs.get(i - 1)).as("decade %d width", i).isCloseTo(decade, within(0.05));
        }
        assertThat(xs.get(0)).isCloseTo(Svg.LEFT, within(0.01));
        assertThat(xs.get(xs.size() - 1)).isCloseTo(Svg.WIDTH - Svg.RIGHT, within(0.01));

        // the slow series is one step at 40 ms: log10(4) of a decade right of the 10 ms tick, reaching y = top
        String[] last = lines.get(1).getAttribute("points").trim().split("\\s+");
        String[] xy = last[last.length - 1].split(",");
        assertThat(Double.parseDouble(xy[0])).isCloseTo(ticks.get("10 ms") + Math.log10(4) * decade, within(0.5));
        assertThat(Double.parseDouble(xy[1])).isCloseTo(Svg.TOP, within(0.01));
    }

    /** A series without values is named in the legend as having no data and draws no line. */
    @Test
    void emptySeriesIsInTheLegendWithoutALine() throws Exception {
        Map<String, Histogram> series = new LinkedHashMap<>();
        series.put("none", Latency.histogram());
        series.put("one", constant(5_000, 3));
        Document d = parse(Svg.cdf("t", series));
        assertThat(elements(d, "polyline")).hasSize(1);
        assertThat(elements(d, "g")).extracting(g -> g.getTextContent()).containsExactly("none (no data)", "one");
        assertCoordinatesFinite(d);
        Document empty = parse(Svg.cdf("t", Map.of("x", Latency.histogram())));
        assertThat(elements(empty, "polyline")).isEmpty();
        assertCoordinatesFinite(empty);
    }

    /** Decade ticks cover the range from the power of ten at or below the minimum to the one at or above the maximum. */
    @Test
    void logTicksCoverTheRange() {
        assertThat(Svg.logTicks(1_000, 1_000_000)).containsExactly(1e3, 1e4, 1e5, 1e6);
        assertThat(Svg.logTicks(999, 1_001)).containsExactly(1e2, 1e3, 1e4);
        assertThat(Svg.logTicks(5_000, 5_000)).containsExactly(1e3, 1e4);
        assertThat(Svg.logTicks(1, 1)).containsExactly(1e0, 1e1);
        assertThat(Svg.timeLabel(1e3)).isEqualTo("1 µs");
        assertThat(Svg.timeLabel(1e8)).isEqualTo("100 ms");
        assertThat(Svg.timeLabel(1e10)).isEqualTo("10 s");
    }

    /** Long CDFs are thinned to at most MAX_POINTS points, keeping the last (fraction 1). */
    @Test
    void cdfIsThinnedButKeepsItsLastPoint() {
        Histogram h = Latency.histogram();
        for (long v = 1; v <= 200_000; v += 7) {
            h.recordValue(v * 100);
        }
        List<double[]> pts = Svg.cdfPoints(h);
        assertThat(pts).hasSizeLessThanOrEqualTo(Svg.MAX_POINTS);
        assertThat(pts.get(pts.size() - 1)[1]).isEqualTo(1.0);
        for (int i = 1; i < pts.size(); i++) {
            assertThat(pts.get(i)[0]).isGreaterThanOrEqualTo(pts.get(i - 1)[0]);
            assertThat(pts.get(i)[1]).isGreaterThanOrEqualTo(pts.get(i - 1)[1]);
        }
    }

    /** One bar per entry, widths in proportion to the values; a non-finite value is refused. */
    @Test
    void barsAreProportional() throws Exception {
        Map<String, Double> v = new LinkedHashMap<>();
        v.put("a", 1000.0);
        v.put("b", 250.0);
        v.put("zero", 0.0);
        Document d = parse(Svg.bars("rates", "events/s", v));
        List<Element> rects = elements(d, "rect");
        assertThat(rects).hasSize(3);
        double wa = Double.parseDouble(rects.get(0).getAttribute("width"));
        double wb = Double.parseDouble(rects.get(1).getAttribute("width"));
        assertThat(wa).isPositive();
        assertThat(wb / wa).isCloseTo(0.25, within(0.001));
        assertThat(Double.parseDouble(rects.get(2).getAttribute("width"))).isZero();
        assertCoordinatesFinite(d);
        assertThatThrownBy(() -> Svg.bars("x", "u", Map.of("nan", Double.NaN)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("finite");
    }

    /** The report is one well-formed page with its tables and plots inline and nothing loaded from elsewhere. */
    @Test
    void reportIsSelfContained() throws Exception {
        Table t = new Table("t", "name", "v_us").row("a", 1.5).note("a note");
        String html = new HtmlReport("report <1>").paragraph("p").table(t)
                .svg(Svg.cdf("c", Map.of("a", constant(2_000, 1)))).html();
        Document d = parse(html.replaceFirst("<!DOCTYPE html>", ""));
        assertThat(elements(d, "svg")).hasSize(1);
        assertThat(elements(d, "td")).extracting(Element::getTextContent).containsExactly("a", "1.5");
        assertThat(html).doesNotContain("<script", "<link", "@import", "src=");
        assertThat(html.replace("http://www.w3.org/", "")).doesNotContain("http:", "https:");
    }
}

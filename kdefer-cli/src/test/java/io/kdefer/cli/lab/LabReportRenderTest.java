package io.kdefer.cli.lab;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The lab's HTML report as a browser lays it out: headless Chromium (Debian's package, installed
 * by {@code .ci/install-chromium}; skipped with a message where it is missing) opens the page
 * {@code kdefer lab shootout --quick --report DIR} wrote, with a probe script appended to a copy,
 * and reports every {@code <svg>}'s laid-out size and contents. Each plot must be laid out (a box
 * of non-zero size), draw shapes, carry labels, keep every shape and label inside its box and hold
 * no NaN or Infinity; a screenshot of the page must show the plots (many colours, not a blank
 * page). Never the values measured.
 */
class LabReportRenderTest {
    private static final Pattern LINE = Pattern.compile(
            "svg (\\d+) w=(\\d+) h=(\\d+) drawn=(\\d+) texts=(\\d+) outside=(\\d+) bad=(\\d+)");

    /** One laid-out plot, as the probe reported it. */
    private static final class Plot {
        final int index;
        final int width;
        final int height;
        final int drawn;
        final int texts;
        final int outside;
        final int bad;

        Plot(Matcher m) {
            index = Integer.parseInt(m.group(1));
            width = Integer.parseInt(m.group(2));
            height = Integer.parseInt(m.group(3));
            drawn = Integer.parseInt(m.group(4));
            texts = Integer.parseInt(m.group(5));
            outside = Integer.parseInt(m.group(6));
            bad = Integer.parseInt(m.group(7));
        }

        @Override
        public String toString() {
            return "plot " + index + " (" + width + "x" + height + ", " + drawn + " shapes, " + texts + " labels)";
        }
    }

    @Test
    void everyPlotOfTheShootoutReportIsLaidOutAndDrawn(@TempDir Path dir) throws Exception {
        HeadlessChromium chromium = HeadlessChromium.find().orElse(null);
        assumeTrue(chromium != null, HeadlessChromium.missingMessage());

        Path reportDir = dir.resolve("report");
        LabCommandTest.Output o = LabCommandTest.run("lab", "shootout", "--quick", "--report", reportDir.toString());
        assertThat(o.code).as("exit code; stderr: %s", o.err).isZero();
        Path page = reportDir.resolve("index.html");
        assertThat(page).isRegularFile();

        Path probed = dir.resolve("probed.html");
        Files.writeString(probed, withProbe(Files.readString(page, StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
        List<Plot> plots = parse(chromium.dumpDom(probed));

        int svgsInPage = count(Files.readString(page, StandardCharsets.UTF_8), "<svg");
        assertThat(plots).as("every svg of the page was laid out").hasSize(svgsInPage).isNotEmpty();
        for (Plot p : plots) {
            assertThat(p.width).as("width of %s", p).isPositive();
            assertThat(p.height).as("height of %s", p).isPositive();
            assertThat(p.drawn).as("shapes of %s", p).isGreaterThanOrEqualTo(2);
            assertThat(p.texts).as("labels of %s", p).isPositive();
            assertThat(p.outside).as("shapes or labels of %s outside its box", p).isZero();
            assertThat(p.bad).as("NaN or Infinity in %s", p).isZero();
        }

        Path png = dir.resolve("report.png");
        chromium.screenshot(page, png, 1280, 2400);
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image).as("a PNG Chromium wrote").isNotNull();
        assertThat(distinctColours(image)).as("colours in the screenshot (a blank page has one)").isGreaterThan(16);
    }

    private static String withProbe(String html) throws IOException {
        String probe;
        try (InputStream in = LabReportRenderTest.class.getResourceAsStream("layout-probe.js")) {
            assertThat(in).as("layout-probe.js on the test class path").isNotNull();
            probe = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        String script = "<script>\n" + probe + "\n</script>\n";
        int end = html.lastIndexOf("</body>");
        return end < 0 ? html + script : html.substring(0, end) + script + html.substring(end);
    }

    private static List<Plot> parse(String dom) {
        int start = dom.indexOf("<pre id=\"kdefer-layout\">");
        assertThat(start).as("the probe's output in the dumped DOM").isNotNegative();
        List<Plot> plots = new ArrayList<>();
        Matcher m = LINE.matcher(dom.substring(start));
        while (m.find()) {
            plots.add(new Plot(m));
        }
        return plots;
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    private static int distinctColours(BufferedImage image) {
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < image.getHeight(); y += 2) {
            for (int x = 0; x < image.getWidth(); x += 2) {
                colours.add(image.getRGB(x, y));
                if (colours.size() > 1000) {
                    return colours.size();
                }
            }
        }
        return colours.size();
    }
}

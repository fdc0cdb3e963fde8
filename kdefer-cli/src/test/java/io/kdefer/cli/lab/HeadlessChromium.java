package io.kdefer.cli.lab;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Debian's Chromium run headless on a local file, for the tests that check the lab's HTML report
 * as a browser lays it out. Nothing is fetched: the report is self-contained and the flags keep
 * Chromium off the network (background networking, component updates and sync off).
 *
 * <p>{@code .ci/install-chromium} installs the package; where it is missing the tests that need it
 * are skipped with a message that says so.
 */
final class HeadlessChromium {
    /** Where Debian puts it; {@code KDEFER_CHROMIUM} overrides. */
    private static final String[] CANDIDATES = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};
    private static final long TIMEOUT_SECONDS = 90;

    private final Path binary;

    private HeadlessChromium(Path binary) {
        this.binary = binary;
    }

    /** The installed browser, or empty. */
    static Optional<HeadlessChromium> find() {
        String env = System.getenv("KDEFER_CHROMIUM");
        if (env != null && !env.isEmpty() && Files.isExecutable(Paths.get(env))) {
            return Optional.of(new HeadlessChromium(Paths.get(env)));
        }
        for (String c : CANDIDATES) {
            if (Files.isExecutable(Paths.get(c))) {
                return Optional.of(new HeadlessChromium(Paths.get(c)));
            }
        }
        return Optional.empty();
    }

    static String missingMessage() {
        return "headless Chromium is not installed (Debian package chromium; .ci/install-chromium installs it):"
                + " the report rendering test is skipped";
    }

    /** The DOM after the page's own scripts ran ({@code --dump-dom}). */
    String dumpDom(Path html) throws IOException, InterruptedException {
        return run(html, "--dump-dom");
    }

    /** A PNG of the page at the given window size ({@code --screenshot}). */
    void screenshot(Path html, Path png, int width, int height) throws IOException, InterruptedException {
        run(html, "--screenshot=" + png.toAbsolutePath(), "--window-size=" + width + "," + height,
                "--hide-scrollbars");
        if (!Files.isRegularFile(png)) {
            throw new IOException("Chromium wrote no screenshot to " + png);
        }
    }

    private String run(Path html, String... extra) throws IOException, InterruptedException {
        Path profile = Files.createTempDirectory("kdefer-chromium-profile");
        Path out = Files.createTempFile("kdefer-chromium", ".out");
        Path err = Files.createTempFile("kdefer-chromium", ".err");
        try {
            List<String> cmd = new ArrayList<>(List.of(binary.toString(),
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-extensions", "--user-data-dir=" + profile.toAbsolutePath()));
            cmd.addAll(List.of(extra));
            cmd.add(html.toAbsolutePath().toUri().toString());
            Process p = new ProcessBuilder(cmd)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor();
                throw new IOException("Chromium did not finish with " + html + " in " + TIMEOUT_SECONDS + " s");
            }
            if (p.exitValue() != 0) {
                throw new IOException("Chromium exited with " + p.exitValue() + " on " + html + ":\n"
                        + tail(Files.readString(err, StandardCharsets.UTF_8)));
            }
            return Files.readString(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
            deleteTree(profile);
        }
    }

    private static String tail(String s) {
        return s.length() <= 2000 ? s : s.substring(s.length() - 2000);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}

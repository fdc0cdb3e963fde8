package io.kdefer.cli.lab;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A self-contained HTML page: inline CSS, inline SVG plots drawn by {@link Svg}, no script, no
 * font, no link to anything outside the file. Written as well-formed XHTML (every element closed),
 * so that it can be checked with an XML parser. Not thread-safe.
 */
public final class HtmlReport {
    private static final String CSS = String.join("\n",
            "body{font-family:system-ui,sans-serif;max-width:62em;margin:2em auto;padding:0 1em;color:#222}",
            "table{border-collapse:collapse;margin:1em 0;font-size:.9em}",
            "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}",
            "th:first-child,td:first-child{text-align:left}",
            "svg.plot{width:100%;height:auto;margin:1em 0}",
            ".grid{stroke:#e4e4e4;stroke-width:1}",
            ".axis{stroke:#444;stroke-width:1}",
            ".tick{font-size:11px;fill:#333}",
            ".label{font-size:12px;fill:#222}",
            ".title{font-size:14px;font-weight:bold;fill:#111}",
            "pre{background:#f6f6f6;padding:.5em}");

    private final StringBuilder body = new StringBuilder();
    private final String title;

    public HtmlReport(String title) {
        this.title = title;
        body.append("<h1>").append(Svg.esc(title)).append("</h1>\n");
    }

    public HtmlReport heading(String text) {
        body.append("<h2>").append(Svg.esc(text)).append("</h2>\n");
        return this;
    }

    public HtmlReport paragraph(String text) {
        body.append("<p>").append(Svg.esc(text)).append("</p>\n");
        return this;
    }

    /** A preformatted block (the command line that made the page). */
    public HtmlReport pre(String text) {
        body.append("<pre>").append(Svg.esc(text)).append("</pre>\n");
        return this;
    }

    /** The table with its notes. */
    public HtmlReport table(Table t) {
        body.append("<table>\n<caption>").append(Svg.esc(t.title())).append("</caption>\n<tr>");
        for (String c : t.columns()) {
            body.append("<th>").append(Svg.esc(c)).append("</th>");
        }
        body.append("</tr>\n");
        for (String[] r : t.rows()) {
            body.append("<tr>");
            for (String c : r) {
                body.append("<td>").append(Svg.esc(c)).append("</td>");
            }
            body.append("</tr>\n");
        }
        body.append("</table>\n");
        for (String n : t.notes()) {
            paragraph(n);
        }
        return this;
    }

    /** An SVG element made by {@link Svg}. */
    public HtmlReport svg(String svg) {
        body.append("<figure>\n").append(svg).append("</figure>\n");
        return this;
    }

    /** The whole page. */
    public String html() {
        return "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                + "<meta charset=\"utf-8\"/>\n<title>" + Svg.esc(title) + "</title>\n<style>\n" + CSS
                + "\n</style>\n</head>\n<body>\n" + body + "</body>\n</html>\n";
    }

    /** Writes the page to {@code dir/index.html}, creating the directory; returns the file. */
    public Path write(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve("index.html");
        Files.writeString(file, html(), StandardCharsets.UTF_8);
        return file;
    }
}

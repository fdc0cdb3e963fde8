package io.kdefer.cli.lab;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The result table of an experiment: a header of column names and rows of cells. The first column
 * names the row (a mechanism, a variant); the others hold numbers, already formatted. Printed
 * aligned for people ({@link #print}) and as CSV for programs ({@link #writeCsv}); notes printed
 * after the table start with {@code #}.
 *
 * <p>Column names carry their unit ({@code p99_us}, {@code rate_per_s}), so the CSV needs no
 * second header line. Not thread-safe: filled by the experiment's own thread.
 */
public final class Table {
    private final String title;
    private final List<String> columns;
    private final List<String[]> rows = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    public Table(String title, String... columns) {
        if (columns.length == 0) {
            throw new IllegalArgumentException("a table needs at least one column");
        }
        this.title = title;
        this.columns = List.of(columns);
    }

    public String title() {
        return title;
    }

    public List<String> columns() {
        return columns;
    }

    /** The rows, each as many cells as there are columns. */
    public List<String[]> rows() {
        return rows;
    }

    public List<String> notes() {
        return notes;
    }

    /**
     * Adds a row: the name, then one value per remaining column. Doubles are printed with one
     * decimal (or none when at least 1000), longs and ints as they are, strings as they are.
     */
    public Table row(String name, Object... values) {
        if (values.length != columns.size() - 1) {
            throw new IllegalArgumentException("row " + name + " has " + values.length + " values for "
                    + (columns.size() - 1) + " columns of table " + title);
        }
        String[] r = new String[columns.size()];
        r[0] = name;
        for (int i = 0; i < values.length; i++) {
            r[i + 1] = format(values[i]);
        }
        rows.add(r);
        return this;
    }

    /** A line printed after the table (with a leading {@code #}). */
    public Table note(String text) {
        notes.add(text);
        return this;
    }

    static String format(Object v) {
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException("not a finite number: " + d);
            }
            return Math.abs(d) >= 1000 ? String.format(Locale.ROOT, "%.0f", d) : String.format(Locale.ROOT, "%.1f", d);
        }
        return String.valueOf(v);
    }

    /** The cell of {@code row} in {@code column}, parsed as a number. */
    public double number(String row, String column) {
        int c = columns.indexOf(column);
        for (String[] r : rows) {
            if (r[0].equals(row)) {
                return Double.parseDouble(r[c]);
            }
        }
        throw new IllegalArgumentException("no row " + row + " in table " + title);
    }

    /** Prints the title, the aligned table, and the notes. */
    public void print(PrintWriter out) {
        int[] w = new int[columns.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = columns.get(i).length();
        }
        for (String[] r : rows) {
            for (int i = 0; i < w.length; i++) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        out.println("# " + title);
        out.println(line(columns.toArray(new String[0]), w));
        for (String[] r : rows) {
            out.println(line(r, w));
        }
        for (String n : notes) {
            out.println("# " + n);
        }
        out.flush();
    }

    private static String line(String[] cells, int[] w) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cells.length; i++) {
            if (i == 0) {
                sb.append(String.format("%-" + w[0] + "s", cells[0]));
            } else {
                sb.append("  ").append(String.format("%" + w[i] + "s", cells[i]));
            }
        }
        return sb.toString();
    }

    /** The table as CSV (RFC 4180 quoting), header first; notes are left out. */
    public String csv() {
        StringBuilder sb = new StringBuilder();
        sb.append(csvLine(columns.toArray(new String[0])));
        for (String[] r : rows) {
            sb.append(csvLine(r));
        }
        return sb.toString();
    }

    private static String csvLine(String[] cells) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cells.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            String c = cells[i];
            if (c.contains(",") || c.contains("\"") || c.contains("\n")) {
                sb.append('"').append(c.replace("\"", "\"\"")).append('"');
            } else {
                sb.append(c);
            }
        }
        return sb.append("\r\n").toString();
    }

    /** Writes {@link #csv()} to {@code file}, creating its directory. */
    public void writeCsv(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) {
            Files.createDirectories(dir);
        }
        Files.writeString(file, csv(), StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return title + " " + columns + " " + rows.size() + " rows " + Arrays.toString(notes.toArray());
    }
}

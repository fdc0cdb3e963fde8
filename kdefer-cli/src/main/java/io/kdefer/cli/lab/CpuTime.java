package io.kdefer.cli.lab;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.Map;

/**
 * CPU time used by the JVM's threads between two moments, per thread from the thread CPU clocks
 * (precise to the nanosecond, where process CPU time is often counted in scheduler ticks). A
 * thread that ends between the two moments takes its time with it: the kdefer threads live as
 * long as their kernel, so a measurement inside one kernel's life misses only exited workers.
 */
final class CpuTime {
    private final ThreadMXBean tm = ManagementFactory.getThreadMXBean();
    private final Map<Long, Long> start = new HashMap<>();
    private final java.util.Set<Long> excluded = new java.util.HashSet<>();

    private CpuTime() {
    }

    /** Starts a measurement now, leaving out the given threads (the device, a probe). */
    static CpuTime start(Thread... exclude) {
        CpuTime c = new CpuTime();
        for (Thread t : exclude) {
            c.excluded.add(t.getId());
        }
        for (long id : c.tm.getAllThreadIds()) {
            long t = c.tm.getThreadCpuTime(id);
            if (t > 0) {
                c.start.put(id, t);
            }
        }
        return c;
    }

    /** Nanoseconds of CPU the live threads (but the excluded ones) used since {@link #start()}. */
    long elapsedNanos() {
        long sum = 0;
        for (long id : tm.getAllThreadIds()) {
            long t = tm.getThreadCpuTime(id);
            if (t > 0 && !excluded.contains(id)) {
                sum += t - start.getOrDefault(id, 0L);
            }
        }
        return Math.max(0, sum);
    }
}

package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import org.HdrHistogram.Histogram;

import java.util.concurrent.locks.LockSupport;

/**
 * A task-context thread on a chosen CPU that measures how late it wakes up, in the manner of
 * {@code cyclictest}: it sleeps a fixed period and records how much longer than that it was away.
 * On kdefer a task thread shares its virtual CPU's number, not an exclusive core, so the number
 * shows the host contention the mechanism under test causes (threads it wakes, CPU it burns),
 * which is how a deferral mechanism delays the tasks of its machine.
 *
 * <p>Owns one thread, {@code lab-probe/N}, started by {@link #start} and joined by {@link #close}.
 */
final class TaskProbe implements AutoCloseable {
    private static final long PERIOD_NANOS = 500_000;

    private final Thread thread;
    private final Histogram latency = Latency.histogram();
    private volatile boolean running = true;
    private volatile Throwable failure;

    TaskProbe(Kernel kernel, int cpu) {
        thread = new Thread(() -> {
            try {
                kernel.runOnCpu(cpu, () -> {
                    while (running) {
                        long t = System.nanoTime();
                        LockSupport.parkNanos(PERIOD_NANOS);
                        latency.recordValue(Math.max(0, System.nanoTime() - t - PERIOD_NANOS));
                    }
                    return null;
                });
            } catch (Throwable e) {
                failure = e;
            }
        }, "lab-probe/" + cpu);
        thread.setDaemon(true);
    }

    TaskProbe start() {
        thread.start();
        return this;
    }

    /** The probe's thread (to leave out of CPU accounting). */
    Thread thread() {
        return thread;
    }

    Histogram latency() {
        return latency;
    }

    /** Stops the thread and joins it; rethrows what it failed with. */
    @Override
    public void close() {
        running = false;
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (failure != null) {
            throw new IllegalStateException("the task probe failed", failure);
        }
    }
}

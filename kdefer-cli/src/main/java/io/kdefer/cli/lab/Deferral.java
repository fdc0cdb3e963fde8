package io.kdefer.cli.lab;

import io.kdefer.Kernel;

/**
 * One way a driver can defer its bottom half: the strategy the shootout (and the experiments that
 * compare mechanisms) run the same device through. An implementation requests the interrupt line,
 * with a top half that hands the bottom half to its mechanism, and undoes it on close.
 *
 * <p>Adding a mechanism is one entry in {@link Deferrals#SHOOTOUT}: a name, optionally a change to
 * the kernel's configuration, and an {@link #install}. The bottom half given to {@code install}
 * must run in whatever context the mechanism gives it, never concurrently with itself (every
 * mechanism here guarantees that), and may not sleep.
 */
public interface Deferral {
    /** The row name in tables and plots. */
    String name();

    /** Changes to the kernel this mechanism needs (a tasklet backend, forced threading); default none. */
    default void configure(Kernel.Builder builder) {
    }

    /**
     * Requests line {@code irq}, delivered to {@code cpu}, with a top half that defers
     * {@code bottomHalf} through this mechanism.
     *
     * @return undoes the installation: frees the line and stops the mechanism's object
     */
    Installed install(Kernel kernel, int irq, int cpu, Runnable bottomHalf);

    /** An installed mechanism; {@link #close()} frees what {@link #install} took. */
    interface Installed extends AutoCloseable {
        @Override
        void close();
    }
}

package io.kdefer.internal;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Where the mechanism packages leave the factories of their subsystems, so that every kernel can
 * build all of them eagerly without the core depending on the packages (the same pattern as
 * {@link Secrets}). Each public entry class of a mechanism provides its factory in its static
 * initialiser; {@code io.kdefer.Kernel} makes sure those classes are initialised before it builds
 * its first runtime.
 */
public final class Subsystems {
    /** The mechanisms that register with every kernel, in the order they are built and called. */
    public enum Kind {
        /** {@code io.kdefer.tasklet}: the tasklet handlers of the HI and TASKLET vectors. */
        TASKLETS,
        /** {@code io.kdefer.timer}: the timer wheels and TIMER_SOFTIRQ. */
        TIMERS,
        /** {@code io.kdefer.irq}: interrupt lines and their threads. */
        IRQS,
        /** {@code io.kdefer.workqueue}: worker pools, system workqueues, the BH work handlers. */
        WORKQUEUES,
        /**
         * {@code io.kdefer.legacy}: the 2.0–2.6.35 mechanisms (bottom halves on HI tasklets, task
         * queues, keventd, the classic workqueue); after the tasklets and timers it is built on.
         */
        LEGACY
    }

    /** Builds one kernel's subsystem. */
    public interface Factory {
        /**
         * @param kernel the {@code io.kdefer.Kernel} being built (for mechanisms that create public
         *               objects on it, such as a timer); not usable before the build returns
         */
        Subsystem create(Object kernel, KernelRuntime rt);
    }

    private static final AtomicReferenceArray<Factory> FACTORIES =
            new AtomicReferenceArray<>(Kind.values().length);

    private Subsystems() {
    }

    /** Called once per kind, by the mechanism's static initialiser. */
    public static void provide(Kind kind, Factory factory) {
        if (!FACTORIES.compareAndSet(kind.ordinal(), null, factory)) {
            throw new IllegalStateException("a factory for " + kind + " is already provided");
        }
    }

    static Factory factory(Kind kind) {
        Factory f = FACTORIES.get(kind.ordinal());
        if (f == null) {
            throw new IllegalStateException("no subsystem factory for " + kind
                    + ": its entry class was not initialised (io.kdefer.Kernel does that)");
        }
        return f;
    }
}

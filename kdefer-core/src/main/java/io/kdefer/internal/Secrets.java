package io.kdefer.internal;

import java.util.function.Function;

/**
 * Lets the mechanism packages reach the engine behind a public {@code Kernel} without a public
 * accessor on {@code Kernel} itself (the JDK's {@code SharedSecrets} pattern).
 */
public final class Secrets {
    private static volatile Function<Object, KernelRuntime> runtimeAccess;
    private static volatile OwnTimerFactory ownTimers;

    /** Makes timers that belong to kdefer's own subsystems (see {@link #ownTimer}). */
    public interface OwnTimerFactory {
        io.kdefer.timer.KernelTimer create(Object kernel, java.util.function.Consumer<io.kdefer.timer.KernelTimer> fn,
                                           boolean pinned);
    }

    private Secrets() {
    }

    /** Installed once by {@code io.kdefer.Kernel}'s static initialiser. */
    public static void setRuntimeAccess(Function<Object, KernelRuntime> access) {
        runtimeAccess = access;
    }

    /** Installed once by {@code KernelTimer}'s static initialiser. */
    public static void setOwnTimerFactory(OwnTimerFactory factory) {
        ownTimers = factory;
    }

    /**
     * A timer of one of kdefer's own subsystems (a worker pool's sampler, a watchdog, a poller):
     * an ordinary timer, except that {@code close()} shuts it down silently instead of running or
     * reporting it, since it is the kernel's housekeeping and not the user's work. Its subsystem
     * stops re-arming it once the kernel is closing.
     */
    public static io.kdefer.timer.KernelTimer ownTimer(Object kernel, java.util.function.Consumer<io.kdefer.timer.KernelTimer> fn,
                                                        boolean pinned) {
        OwnTimerFactory f = ownTimers;
        if (f == null) {
            try {
                java.lang.invoke.MethodHandles.lookup().ensureInitialized(io.kdefer.timer.KernelTimer.class);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
            f = ownTimers;
        }
        return f.create(kernel, fn, pinned);
    }

    /** The runtime of a kernel; the argument is an {@code io.kdefer.Kernel}. */
    public static KernelRuntime runtime(Object kernel) {
        if (kernel == null) {
            throw new NullPointerException("kernel");
        }
        return runtimeAccess.apply(kernel);
    }
}

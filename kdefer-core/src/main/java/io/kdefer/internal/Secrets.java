package io.kdefer.internal;

import java.util.function.Function;

/**
 * Lets the mechanism packages reach the engine behind a public {@code Kernel} without a public
 * accessor on {@code Kernel} itself (the JDK's {@code SharedSecrets} pattern).
 */
public final class Secrets {
    private static volatile Function<Object, KernelRuntime> runtimeAccess;

    private Secrets() {
    }

    /** Installed once by {@code io.kdefer.Kernel}'s static initialiser. */
    public static void setRuntimeAccess(Function<Object, KernelRuntime> access) {
        runtimeAccess = access;
    }

    /** The runtime of a kernel; the argument is an {@code io.kdefer.Kernel}. */
    public static KernelRuntime runtime(Object kernel) {
        if (kernel == null) {
            throw new NullPointerException("kernel");
        }
        return runtimeAccess.apply(kernel);
    }
}

package io.kdefer.bench.support;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One int word and its {@link VarHandle}, for the floor measurements: the atomics a mechanism
 * cannot avoid, run bare on one thread beside the mechanism itself.
 */
public class AtomicWord {
    public static final VarHandle WORD;

    static {
        try {
            WORD = MethodHandles.lookup().findVarHandle(AtomicWord.class, "word", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    public volatile int word;
}

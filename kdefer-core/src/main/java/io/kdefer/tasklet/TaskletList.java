package io.kdefer.tasklet;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One CPU's list of scheduled tasklets for one vector ({@code tasklet_vec} / {@code tasklet_hi_vec}):
 * intrusive (the link is {@link Tasklet#next}, so queueing allocates nothing), many producers,
 * one consumer.
 *
 * <p>Producers push onto a Treiber stack with a CAS; the consumer, the thread that owns the CPU's
 * bottom halves, takes the whole stack with {@code getAndSet(null)} and reverses it. The order of
 * successful CASes is the order of scheduling, so the reversed batch is FIFO, as the kernel's
 * tail-pointer list is.
 *
 * <p>Memory ordering: a producer writes {@code t.next} (plain) before its CAS publishes {@code t};
 * the consumer's {@code getAndSet} reads the head with volatile semantics, so it sees every
 * {@code next} written before the pushes it takes. A tasklet is on at most one list at a time:
 * only the thread that set SCHED pushes it, and only the consumer that holds it re-pushes it.
 */
final class TaskletList {
    private static final VarHandle HEAD;

    static {
        try {
            HEAD = MethodHandles.lookup().findVarHandle(TaskletList.class, "head", Tasklet.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused")
    private volatile Tasklet head;   // A: most recently pushed tasklet

    /** Appends {@code t} (it is the caller's to queue: the caller set its SCHED bit). */
    void push(Tasklet t) {
        Tasklet h;
        do {
            h = (Tasklet) HEAD.getVolatile(this);
            t.next = h;
        } while (!HEAD.compareAndSet(this, h, t));
    }

    /** Detaches the whole list; returns it oldest first. */
    Tasklet detachFifo() {
        Tasklet t = (Tasklet) HEAD.getAndSet(this, (Tasklet) null);
        Tasklet fifo = null;
        while (t != null) {
            Tasklet n = t.next;
            t.next = fifo;
            fifo = t;
            t = n;
        }
        return fifo;
    }

    boolean isEmpty() {
        return HEAD.getVolatile(this) == null;
    }
}

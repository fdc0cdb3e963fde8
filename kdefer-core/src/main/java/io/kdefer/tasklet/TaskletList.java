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
 * <p><b>Owner fast path.</b> A tasklet scheduled by the thread that owns the CPU's bottom halves (a
 * callback re-scheduling itself or another tasklet, a task inside {@code localBhDisable}) is
 * appended to a plain owner-local queue instead, without an atomic, when the shared stack is
 * empty; otherwise it goes through the stack behind the foreign pushes already there. The
 * consumer takes the local queue first, then the stack. FIFO holds: a foreign push that happens
 * before an owner append is seen by the owner's volatile read of the head and forces the stack;
 * a foreign push the owner did not see is concurrent with its append, so either order is FIFO.
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
    private Tasklet localHead;       // W: owner-local queue, oldest first (bottom-half owner only)
    private Tasklet localTail;       // W

    /**
     * Appends {@code t} from the thread that owns this CPU's bottom halves: plain writes when no
     * foreign push is waiting (see the class comment).
     */
    void pushOwner(Tasklet t) {
        if (HEAD.getVolatile(this) != null) {
            push(t);
            return;
        }
        t.next = null;
        if (localTail == null) {
            localHead = t;
        } else {
            localTail.next = t;
        }
        localTail = t;
    }

    /** Appends {@code t} (it is the caller's to queue: the caller set its SCHED bit). */
    void push(Tasklet t) {
        Tasklet h;
        do {
            h = (Tasklet) HEAD.getVolatile(this);
            t.next = h;
        } while (!HEAD.compareAndSet(this, h, t));
    }

    /** Detaches the whole list, owner-local queue first; returns it oldest first. Owner only. */
    Tasklet detachFifo() {
        Tasklet t = HEAD.getVolatile(this) == null ? null : (Tasklet) HEAD.getAndSet(this, (Tasklet) null);
        Tasklet fifo = null;
        while (t != null) {
            Tasklet n = t.next;
            t.next = fifo;
            fifo = t;
            t = n;
        }
        Tasklet local = localHead;
        if (local == null) {
            return fifo;
        }
        localTail.next = fifo;
        localHead = null;
        localTail = null;
        return local;
    }

    /**
     * Calls {@code visit} on each listed tasklet, owner-local queue first, then the shared stack;
     * stops at a tasklet already visited in this walk (a cycle) and returns false then. Reads the
     * owner-only fields: the caller asserts that nothing uses the list meanwhile.
     */
    boolean walkQuiescent(java.util.function.Consumer<Tasklet> visit) {
        java.util.Set<Tasklet> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Tasklet t = localHead; t != null; t = t.next) {
            if (!seen.add(t)) {
                return false;
            }
            visit.accept(t);
        }
        for (Tasklet t = (Tasklet) HEAD.getVolatile(this); t != null; t = t.next) {
            if (!seen.add(t)) {
                return false;
            }
            visit.accept(t);
        }
        return true;
    }

    boolean isEmpty() {
        return HEAD.getVolatile(this) == null;
    }
}

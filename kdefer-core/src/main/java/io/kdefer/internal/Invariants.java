package io.kdefer.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * The kernel's consistency check: the rules its data structures obey between operations,
 * checked from outside, for tests and tools (the public entry point is
 * {@code io.kdefer.KernelCheck}). Each broken rule is one message naming the object and the rule.
 *
 * <p>Two scopes:
 * <ul>
 *   <li>always: what each subsystem can check under its own locks (the timer wheels: pending
 *       bitmap against buckets, each timer's back pointers);</li>
 *   <li>{@code quiescent}: the caller asserts that no thread uses the kernel (no call in flight,
 *       no callback running, no work queued that a kdefer thread is about to take). Then the
 *       owner-only structures are walked too (every tasklet on a CPU's list has SCHED set, none is
 *       on two lists or twice on one), and the kernel must be quiet: no softirq pending, no
 *       bottom-half owner, no interrupt line or cross-CPU call waiting for {@code cpu/N}, no
 *       waiter on the wait queue, every {@code cpu/N} and {@code ksoftirqd/N} parked or ended.</li>
 * </ul>
 * A kernel that has been closed is quiescent. A running one becomes quiescent a moment after the
 * last call into it returns; a caller that cannot know when may repeat the check until it passes
 * or a bound runs out, since a transient reading goes away and a broken rule stays.
 */
public final class Invariants {
    private Invariants() {
    }

    /** The broken rules of {@code rt}; empty when every checked rule holds. */
    public static List<String> check(KernelRuntime rt, boolean quiescent) {
        List<String> out = new ArrayList<>();
        for (Subsystem s : rt.subsystems()) {
            s.checkInvariants(quiescent, out);
        }
        if (quiescent) {
            checkQuiet(rt, out);
        }
        return out;
    }

    private static void checkQuiet(KernelRuntime rt, List<String> out) {
        for (int id = 0; id < rt.nrCpus; id++) {
            Cpu c = rt.cpu(id);
            int pending = c.pendingVolatile() | c.ownerPendingPlain();
            if (pending != 0) {
                out.add("cpu " + id + ": softirq " + vectors(pending)
                        + " pending (rule: a quiet kernel has no softirq pending)");
            }
            int timers = c.timerPendingVolatile();
            if (timers != 0) {
                out.add("cpu " + id + ": softirq " + vectors(timers)
                        + " waiting for ktimers/" + id + " (rule: a quiet kernel has no softirq pending)");
            }
            Thread owner = c.bhOwnerVolatile();
            if (owner != null) {
                out.add("cpu " + id + ": bottom halves owned by " + owner.getName()
                        + " (rule: a quiet kernel has no bottom-half owner)");
            }
            if (c.irqPendingAny()) {
                out.add("cpu " + id + ": an interrupt line is asserted and not delivered"
                        + " (rule: a quiet kernel has no interrupt waiting for cpu/" + id + ")");
            }
            if (!c.cpuThread.inboxEmpty()) {
                out.add("cpu/" + id + ": cross-CPU calls queued"
                        + " (rule: a quiet kernel has no call waiting for cpu/" + id + ")");
            }
            idle(c.cpuThread, out);
            idle(c.ksoftirqd, out);
            if (c.ktimers != null) {
                idle(c.ktimers, out);
            }
        }
        int waiters = rt.waitQueue().waiters();
        if (waiters != 0) {
            out.add("wait queue: " + waiters + " thread(s) waiting (rule: a quiet kernel has no waiter)");
        }
    }

    private static void idle(Thread t, List<String> out) {
        Thread.State s = t.getState();
        if (s != Thread.State.WAITING && s != Thread.State.TIMED_WAITING
                && s != Thread.State.TERMINATED && s != Thread.State.NEW) {
            out.add(t.getName() + ": " + s + " (rule: in a quiet kernel every kdefer thread is idle)");
        }
    }

    private static String vectors(int mask) {
        StringBuilder b = new StringBuilder();
        for (int v = 0; v < KernelRuntime.NR_SOFTIRQS; v++) {
            if ((mask & (1 << v)) != 0) {
                b.append(b.length() == 0 ? "" : ",").append(SoftirqTable.vectorName(v));
            }
        }
        return b.toString();
    }
}

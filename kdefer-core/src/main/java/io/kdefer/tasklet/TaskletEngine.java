package io.kdefer.tasklet;

import io.kdefer.Kernel;
import io.kdefer.internal.Cpu;
import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.SoftirqTable.BhStage;
import io.kdefer.internal.Subsystem;
import io.kdefer.internal.Subsystems;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.workqueue.Work;
import io.kdefer.workqueue.Workqueue;
import io.kdefer.workqueue.WqFlag;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tasklet machinery of one kernel: the per-CPU lists of both vectors and the two bottom-half
 * handlers that run them ({@code tasklet_action} for TASKLET, {@code tasklet_hi_action} for HI),
 * registered at the {@link BhStage#TASKLETS} stage of the shared vectors (after BH work, as in
 * Linux 6.9+). Built with the kernel, as its {@link Subsystems.Kind#TASKLETS} subsystem.
 */
final class TaskletEngine implements Subsystem {

    final KernelRuntime rt;            // F
    final TaskletList[] normal;        // F: per CPU, TASKLET_SOFTIRQ
    final TaskletList[] hi;            // F: per CPU, HI_SOFTIRQ
    final TaskletBackend backend;      // F
    private final Kernel kernel;       // F
    private final Workqueue[] carrierQueues = new Workqueue[2];   // guarded by this: [TASKLET, HI]

    /** Every tasklet of this kernel, weakly, with {@code debugObjects}; else null. Guarded by itself. */
    private final java.util.Set<Tasklet> registry;

    TaskletEngine(KernelRuntime rt, Kernel kernel, TaskletBackend backend, boolean debugObjects) {
        this.registry = debugObjects ? java.util.Collections.newSetFromMap(new java.util.WeakHashMap<>()) : null;
        this.rt = rt;
        this.kernel = kernel;
        this.backend = backend;
        this.normal = lists(rt.nrCpus);
        this.hi = lists(rt.nrCpus);
        rt.softirqs.registerBh(SoftirqVector.HI, BhStage.TASKLETS, new Action(hi, SoftirqVector.HI.ordinal()));
        rt.softirqs.registerBh(SoftirqVector.TASKLET, BhStage.TASKLETS,
                new Action(normal, SoftirqVector.TASKLET.ordinal()));
    }

    // ---------------------------------------------------------------- workqueue backends

    /**
     * A schedule on a workqueue backend, after it set SCHED (so it owns the tasklet's queueing):
     * queues the tasklet's carrier work item for the vector on the caller's CPU. The carrier is made
     * by the first such schedule; later ones see it, because each schedule's SCHED RMW reads the
     * value the previous run's clear wrote, after that run's carrier was queued.
     */
    void carry(Tasklet t, boolean hiVector, CpuContext ctx) {
        int i = hiVector ? 1 : 0;
        Work w = t.carriers[i];
        if (w == null) {
            w = new Work(self -> runCarried(t, self, hiVector));
            t.carriers[i] = w;
        }
        carrierQueue(hiVector).queueOn(ctx.cpu, w);
    }

    /** The queue that carries the vector's tasklets on this kernel's backend. */
    private synchronized Workqueue carrierQueue(boolean hiVector) {
        int i = hiVector ? 1 : 0;
        Workqueue q = carrierQueues[i];
        if (q == null) {
            if (backend == TaskletBackend.BH_WORKQUEUE) {
                q = hiVector ? kernel.systemBhHighpriWq() : kernel.systemBhWq();
            } else {
                // max_active 1 per CPU: the tasklets of a CPU run one after another in schedule
                // order, as on its softirq list (a carrier waiting for the CPU's bottom halves
                // counts as asleep, and would otherwise let the next one start beside it)
                q = hiVector ? kernel.allocWorkqueue("ktasklets_hi", 1, WqFlag.HIGHPRI)
                        : kernel.allocWorkqueue("ktasklets", 1);
            }
            carrierQueues[i] = q;
        }
        return q;
    }

    /**
     * The carrier's function: one tasklet's part of {@code tasklet_action_common}. Takes RUN; if
     * enabled, clears SCHED and calls the tasklet; otherwise (running elsewhere, or disabled)
     * re-queues the carrier on this CPU, as the softirq backend re-queues it on its list. On the
     * process-context backend the callback runs with bottom halves disabled.
     */
    private void runCarried(Tasklet t, Work carrier, boolean hiVector) {
        final CpuContext ctx = rt.context();
        final Cpu cpu = rt.currentCpu(ctx);
        final boolean bhOff = backend == TaskletBackend.WORKQUEUE;
        if (bhOff) {
            cpu.localBhDisable(ctx, Thread.currentThread());
        }
        try {
            if (tryRun(t, cpu, ctx, "carried")) {
                return;
            }
            if (rt.isClosing() && t.countVolatile() != 0) {
                t.dropOnClose();
                return;
            }
            cpu.bump(Cpu.STAT_TASKLET_REQUEUES);
            carrierQueue(hiVector).queueOn(ctx.cpu, carrier);
        } finally {
            if (bhOff) {
                cpu.localBhEnable(ctx);
            }
        }
    }

    /** Registers a new tasklet for the consistency check ({@code debug_object_init}). */
    void track(Tasklet t) {
        if (registry != null) {
            synchronized (registry) {
                registry.add(t);
            }
        }
    }

    /**
     * One tasklet's turn in {@code tasklet_action_common}: take RUN; if the tasklet is enabled,
     * clear SCHED and call it, then drop RUN. True when its turn is over (it ran, or it had no SCHED
     * and was reported); false when it must be queued again (running elsewhere, or disabled).
     * {@code where} names the queue in the report.
     */
    private boolean tryRun(Tasklet t, Cpu cpu, CpuContext ctx, String where) {
        if (!t.tryLock()) {
            return false;
        }
        if (t.countVolatile() != 0) {
            t.unlock();
            return false;
        }
        if (t.clearSchedForRun()) {
            cpu.bump(Cpu.STAT_TASKLET_RUNS);
            t.invoke(ctx);
        } else {
            rt.reportError(t, new IllegalStateException(
                    "tasklet " + where + " without SCHED set; not called (the kernel WARNs once)"));
        }
        t.unlock();
        return true;
    }

    static TaskletEngine of(KernelRuntime rt) {
        return rt.subsystem(TaskletEngine.class);
    }

    @Override
    public String name() {
        return "tasklets";
    }

    /**
     * Quiescent only (the lists are read without their owner): every listed tasklet has SCHED set,
     * and no tasklet is on two lists or twice on one; with {@code debugObjects}, also the converse:
     * every tasklet with SCHED set is on a list (or, on a workqueue backend, has its carrier
     * pending or running). Kernel: a tasklet with SCHED set is on exactly one list, once.
     */
    @Override
    public void checkInvariants(boolean quiescent, List<String> out) {
        if (!quiescent) {
            return;
        }
        Map<Tasklet, String> where = new IdentityHashMap<>();
        for (int c = 0; c < rt.nrCpus; c++) {
            check(hi[c], "cpu " + c + "'s HI list", where, out);
            check(normal[c], "cpu " + c + "'s TASKLET list", where, out);
        }
        if (registry != null) {
            java.util.List<Tasklet> all;
            synchronized (registry) {
                all = new java.util.ArrayList<>(registry);
            }
            for (Tasklet t : all) {
                if (!t.isScheduled()) {
                    continue;
                }
                if (backend == TaskletBackend.SOFTIRQ) {
                    if (!where.containsKey(t)) {
                        out.add(t + ": SCHED set but on no list (rule: a scheduled tasklet is on exactly one list)");
                    }
                } else if (!carried(t)) {
                    out.add(t + ": SCHED set but no carrier work item is pending or running"
                            + " (rule: a scheduled tasklet has a queued run)");
                }
            }
        }
    }

    private static boolean carried(Tasklet t) {
        for (Work w : t.carriers) {
            if (w != null && w.busy() != 0) {
                return true;
            }
        }
        return false;
    }

    private static void check(TaskletList list, String name, Map<Tasklet, String> where, List<String> out) {
        boolean acyclic = list.walkQuiescent(t -> {
            if (!t.isScheduled()) {
                out.add(t + " on " + name + ": SCHED clear (rule: a listed tasklet has SCHED set)");
            }
            String other = where.putIfAbsent(t, name);
            if (other != null) {
                out.add(t + " on " + other + " and on " + name
                        + " (rule: a tasklet is on at most one list)");
            }
        });
        if (!acyclic) {
            out.add(name + ": a tasklet is on it twice, the list is a cycle"
                    + " (rule: a tasklet is on a list at most once)");
        }
    }

    private static TaskletList[] lists(int n) {
        TaskletList[] l = new TaskletList[n];
        for (int i = 0; i < n; i++) {
            l[i] = new TaskletList();
        }
        return l;
    }

    /**
     * {@code tasklet_action_common()}: runs on the thread that owns the CPU's bottom halves.
     *
     * <p>Detaches the CPU's list; tasklets scheduled from here on (callbacks included) go to the
     * fresh list and wait for the next invocation of the vector. For each detached tasklet, in
     * FIFO order: take RUN; if that worked and the tasklet is enabled, clear SCHED and call it,
     * then drop RUN. Otherwise (running on another CPU, or disabled) put it back at the tail and
     * re-raise the vector without waking ksoftirqd: the end of the softirq loop decides.
     */
    private final class Action implements Runnable {
        private final TaskletList[] lists;
        private final int vector;

        Action(TaskletList[] lists, int vector) {
            this.lists = lists;
            this.vector = vector;
        }

        @Override
        public void run() {
            final CpuContext ctx = rt.context();
            final Cpu cpu = rt.currentCpu(ctx);
            final TaskletList list = lists[ctx.cpu];
            Tasklet t = list.detachFifo();
            while (t != null) {
                final Tasklet next = t.next;
                t.next = null;
                if (tryRun(t, cpu, ctx, "on the list")) {
                    t = next;
                    continue;
                }
                if (rt.isClosing() && t.countVolatile() != 0) {
                    t.dropOnClose();
                } else {
                    cpu.bump(Cpu.STAT_TASKLET_REQUEUES);
                    list.pushOwner(t);
                    cpu.raise(vector, ctx);
                }
                t = next;
            }
        }
    }
}

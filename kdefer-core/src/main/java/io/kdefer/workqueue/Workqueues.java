package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Secrets;
import io.kdefer.internal.Subsystems;

import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One kernel's workqueues: its system workqueues and the allocation calls. {@link Kernel} offers
 * the same calls ({@code kernel.systemWq()}, {@code kernel.allocWorkqueue(...)}); this is where they
 * live.
 */
public final class Workqueues {
    static {
        Subsystems.provide(Subsystems.Kind.WORKQUEUES, WorkqueueEngine::new);
    }

    private final WorkqueueEngine engine;

    /** The engine (tests of this package). */
    WorkqueueEngine engine() {
        return engine;
    }

    private Workqueues(WorkqueueEngine engine) {
        this.engine = engine;
    }

    /** The workqueues of {@code kernel}. */
    public static Workqueues of(Kernel kernel) {
        KernelRuntime rt = Secrets.runtime(Objects.requireNonNull(kernel, "kernel"));
        return new Workqueues(rt.subsystem(WorkqueueEngine.class));
    }

    /**
     * {@code alloc_workqueue(name, flags, max_active)}: {@code maxActive} 0 means
     * {@link Workqueue#WQ_DFL_ACTIVE}; a BH queue must pass 0.
     *
     * @throws IllegalArgumentException for {@code maxActive} outside [0, {@link Workqueue#WQ_MAX_ACTIVE}],
     *                                  or a BH queue with other flags than HIGHPRI/PERCPU or a non-zero
     *                                  {@code maxActive} (faithful mode: clamped with a warning, or null
     *                                  for the BH case, as the kernel does)
     */
    public Workqueue alloc(String name, int maxActive, WqFlag... flags) {
        return engine.alloc(name, maxActive, set(flags), false);
    }

    /** {@code alloc_ordered_workqueue(name, flags)}: unbound, one item at a time, in queueing order. */
    public Workqueue allocOrdered(String name, WqFlag... flags) {
        Set<WqFlag> f = set(flags);
        f.add(WqFlag.UNBOUND);
        return engine.alloc(name, 1, f, true);
    }

    private static Set<WqFlag> set(WqFlag[] flags) {
        EnumSet<WqFlag> s = EnumSet.noneOf(WqFlag.class);
        for (WqFlag f : flags) {
            s.add(Objects.requireNonNull(f, "flag"));
        }
        return s;
    }

    /** {@code system_percpu_wq} ({@code system_wq}), "events". */
    public Workqueue systemWq() {
        return engine.systemWq;
    }

    /** {@code system_highpri_wq}, "events_highpri". */
    public Workqueue systemHighpriWq() {
        return engine.systemHighpriWq;
    }

    /** {@code system_long_wq}, "events_long". */
    public Workqueue systemLongWq() {
        return engine.systemLongWq;
    }

    /** {@code system_dfl_wq} ({@code system_unbound_wq}), "events_unbound". */
    public Workqueue systemUnboundWq() {
        return engine.systemUnboundWq;
    }

    /** {@code system_freezable_wq}, "events_freezable". */
    public Workqueue systemFreezableWq() {
        return engine.systemFreezableWq;
    }

    /** {@code system_power_efficient_wq}, "events_power_efficient" (per-CPU: power_efficient is off). */
    public Workqueue systemPowerEfficientWq() {
        return engine.systemPowerEfficientWq;
    }

    /** {@code system_freezable_power_efficient_wq}. */
    public Workqueue systemFreezablePowerEfficientWq() {
        return engine.systemFreezablePowerEfficientWq;
    }

    /** {@code system_bh_wq}, "events_bh": items run in TASKLET_SOFTIRQ, ahead of the tasklets. */
    public Workqueue systemBhWq() {
        return engine.systemBhWq;
    }

    /** {@code system_bh_highpri_wq}, "events_bh_highpri": items run in HI_SOFTIRQ. */
    public Workqueue systemBhHighpriWq() {
        return engine.systemBhHighpriWq;
    }

    /** {@code current_work()}: the item the calling thread executes as a worker (or BH), else null. */
    public Work currentWork() {
        return engine.currentWork(engine.rt.context());
    }

    /**
     * {@code schedule_on_each_cpu(fn)}: runs {@code fn} on every CPU through {@link #systemWq()}
     * and waits for all of them.
     */
    public void scheduleOnEachCpu(Consumer<Work> fn) {
        Objects.requireNonNull(fn, "fn");
        int n = engine.rt.nrCpus;
        Work[] works = new Work[n];
        for (int c = 0; c < n; c++) {
            works[c] = new Work(fn);
            engine.systemWq.queueOn(c, works[c]);
        }
        for (Work w : works) {
            w.flush();
        }
    }

    /**
     * {@code execute_in_process_context(fn, ew)}: runs {@code fn} now when the caller is in process
     * context (true), otherwise queues it on {@link #systemWq()} (false).
     */
    public boolean executeInProcessContext(Runnable fn) {
        Objects.requireNonNull(fn, "fn");
        if (!engine.rt.context().inInterrupt()) {
            fn.run();
            return true;
        }
        engine.systemWq.queue(new Work(w -> fn.run()));
        return false;
    }

    /**
     * Diagnostics: {@code {sampledSleeps, cpuIntensiveViolations, culledWorkers,
     * workerCreationFailures, lockupsReported, fastSamplerPasses}}.
     */
    public long[] counters() {
        return new long[] {engine.sampledSleeps.get(), engine.cpuIntensiveViolations.get(), engine.culled.get(),
                engine.creationFailures.get(), engine.lockups.get(),
                engine.fastSampler == null ? 0 : engine.fastSampler.passes.get()};
    }
}

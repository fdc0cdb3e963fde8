package io.kdefer.legacy;

import io.kdefer.Kernel;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Secrets;
import io.kdefer.internal.Subsystems;

import java.util.Objects;

/**
 * The historical mechanisms of one kernel, as {@code io.kdefer.Kernel} hands them out
 * ({@code kernel.bottomHalves()}, {@code kernel.taskQueue(...)}, {@code kernel.keventd()},
 * {@code kernel.createClassicWorkqueue(...)}, {@code kernel.classicEvents()}). Built by the
 * kernel's constructor; user code goes through the kernel.
 */
public final class Legacy {
    static {
        Subsystems.provide(Subsystems.Kind.LEGACY, (kernel, rt) -> new LegacyEngine((Kernel) kernel, rt));
    }

    private final LegacyEngine engine;   // F

    private Legacy(LegacyEngine engine) {
        this.engine = engine;
    }

    /** Called once by the kernel's constructor, after its subsystems are built. */
    public static Legacy of(Kernel kernel) {
        KernelRuntime rt = Secrets.runtime(Objects.requireNonNull(kernel, "kernel"));
        LegacyEngine e = LegacyEngine.of(rt);
        if (e.bottomHalves() == null) {
            e.attach();
        }
        return new Legacy(e);
    }

    /** The 32 bottom halves. */
    public BottomHalves bottomHalves() {
        return engine.bottomHalves();
    }

    /** A predefined task queue. */
    public TaskQueue taskQueue(TaskQueue.Predefined which) {
        return engine.taskQueue(Objects.requireNonNull(which, "which"));
    }

    /** keventd and {@code schedule_task}. */
    public Keventd keventd() {
        return engine.keventd;
    }

    /** {@code create_workqueue(name)} / {@code create_singlethread_workqueue(name)} of 2.6.0–2.6.35. */
    public ClassicWorkqueue createClassicWorkqueue(String name, boolean singleThread) {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("create_workqueue: a workqueue needs a name");
        }
        engine.rt.checkAccepting(engine.rt.context());
        return new ClassicWorkqueue(engine, name, singleThread);
    }

    /** The 2.6 default queue {@code keventd_wq}: threads {@code events/N}, created on first use. */
    public ClassicWorkqueue classicEvents() {
        engine.rt.checkAccepting(engine.rt.context());
        return engine.classicEvents();
    }
}

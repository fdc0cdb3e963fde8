package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import io.kdefer.workqueue.Workqueue;

import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * Where the {@code keventd} experiment queues its process-context tasks: a named queue, opened on
 * a kernel, taking tasks through {@link Executor#execute} from a task on the measured CPU.
 *
 * <p>The historical rows join {@link #KEVENTD} as one entry each once the historical package is
 * there: {@code keventd} ({@code r -> kernel.keventd().scheduleTask(r)}) and the 2.6 per-queue
 * workqueue ({@code kernel.createClassicWorkqueue("subsys", false)}).
 */
public interface TaskTarget {
    /** The row name. */
    String name();

    /** Opens the queue on {@code kernel}; tasks are submitted from task context on {@code cpu}. */
    Executor open(Kernel kernel, int cpu);

    /** A cmwq workqueue chosen from the kernel. */
    static TaskTarget workqueue(String name, Function<Kernel, Workqueue> wq) {
        return new TaskTarget() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Executor open(Kernel kernel, int cpu) {
                return wq.apply(kernel);
            }
        };
    }

    /** The rows of the keventd experiment, in table order. */
    List<TaskTarget> KEVENTD = List.of(
            workqueue("system_wq", Kernel::systemWq),
            workqueue("unbound", Kernel::systemUnboundWq));
}

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
 * <p>Rows: 2.4's {@code keventd} ({@code schedule_task}: one thread for every subsystem), a 2.6
 * per-subsystem workqueue ({@code create_workqueue}: one thread per CPU for that queue alone, no
 * concurrency management), cmwq's {@code system_wq} and an unbound queue.
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

    /** {@code keventd}: every task on the one {@code keventd} thread. */
    TaskTarget KEVENTD_THREAD = new TaskTarget() {
        @Override
        public String name() {
            return "keventd";
        }

        @Override
        public Executor open(Kernel kernel, int cpu) {
            return r -> {
                if (!kernel.keventd().scheduleTask(r)) {
                    throw new IllegalStateException("keventd refused a task that was not queued: " + r);
                }
            };
        }
    };

    /** The 2.6 design: the subsystem's own queue, a dedicated thread per CPU ({@code subsys/N}). */
    TaskTarget CLASSIC_QUEUE = new TaskTarget() {
        @Override
        public String name() {
            return "2.6-wq";
        }

        @Override
        public Executor open(Kernel kernel, int cpu) {
            io.kdefer.legacy.ClassicWorkqueue q = kernel.createClassicWorkqueue("subsys", false);
            return r -> {
                if (!q.queueWorkOn(cpu, r)) {
                    throw new IllegalStateException(q + " refused a task that was not queued: " + r);
                }
            };
        }
    };

    /** The rows of the keventd experiment, in table order. */
    List<TaskTarget> KEVENTD = List.of(
            KEVENTD_THREAD,
            CLASSIC_QUEUE,
            workqueue("system_wq", Kernel::systemWq),
            workqueue("unbound", Kernel::systemUnboundWq));
}

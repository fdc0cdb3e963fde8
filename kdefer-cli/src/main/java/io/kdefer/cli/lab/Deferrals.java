package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import io.kdefer.irq.IrqFlag;
import io.kdefer.irq.IrqHandler;
import io.kdefer.irq.IrqReturn;
import io.kdefer.irq.Irqs;
import io.kdefer.tasklet.Tasklet;
import io.kdefer.tasklet.TaskletBackend;
import io.kdefer.timer.KernelTimer;
import io.kdefer.workqueue.Work;
import io.kdefer.workqueue.Workqueue;

import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The bottom-half mechanisms of the lab, each a small {@link Deferral}. The historical ones (old
 * bottom halves, {@code tq_immediate}, {@code keventd}) join {@link #SHOOTOUT} as one entry each,
 * built with {@link #of} around their own scheduling call.
 */
public final class Deferrals {
    private Deferrals() {
    }

    /** A tasklet scheduled by the top half ({@code tasklet_schedule}, or {@code tasklet_hi_schedule}). */
    public static Deferral tasklet(String name, boolean hi, TaskletBackend backend, boolean threadIrqs) {
        return new Deferral() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public void configure(Kernel.Builder b) {
                b.taskletBackend(backend).threadIrqs(threadIrqs);
            }

            @Override
            public Installed install(Kernel k, int irq, int cpu, Runnable bh) {
                Tasklet t = Tasklet.setup(k, x -> bh.run());
                Installed line = requestLine(k, irq, cpu, name, (l, dev) -> {
                    if (hi) {
                        t.hiSchedule();
                    } else {
                        t.schedule();
                    }
                    return IrqReturn.HANDLED;
                });
                return () -> {
                    line.close();
                    t.kill();
                };
            }
        };
    }

    /**
     * A work item queued by the top half on the queue {@code wq} picks: on the line's CPU
     * ({@code queue_work_on}) unless {@code local} is false ({@code queue_work}, for unbound queues).
     */
    public static Deferral work(String name, Function<Kernel, Workqueue> wq, boolean local) {
        return new Deferral() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Installed install(Kernel k, int irq, int cpu, Runnable bh) {
                Workqueue q = wq.apply(k);
                Work w = new Work(x -> bh.run());
                Installed line = requestLine(k, irq, cpu, name, (l, dev) -> {
                    if (local) {
                        q.queueOn(k.smpProcessorId(), w);
                    } else {
                        q.queue(w);
                    }
                    return IrqReturn.HANDLED;
                });
                return () -> {
                    line.close();
                    w.flush();
                };
            }
        };
    }

    /** A threaded handler: the primary returns {@code IRQ_WAKE_THREAD}, the thread function is the bottom half. */
    public static Deferral threaded(String name) {
        return new Deferral() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Installed install(Kernel k, int irq, int cpu, Runnable bh) {
                Object dev = new Object();
                Irqs irqs = k.irqs();
                irqs.requestThreadedIrq(irq, (l, d) -> IrqReturn.WAKE_THREAD, (l, d) -> {
                    bh.run();
                    return IrqReturn.HANDLED;
                }, name, dev, IrqFlag.ONESHOT);
                irqs.setAffinity(irq, cpu);
                return () -> irqs.freeIrq(irq, dev);
            }
        };
    }

    /** A kernel timer the top half arms to expire at once ({@code mod_timer(t, jiffies)}): it runs at the next tick. */
    public static Deferral timer(String name) {
        return new Deferral() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Installed install(Kernel k, int irq, int cpu, Runnable bh) {
                KernelTimer t = KernelTimer.setup(k, x -> bh.run());
                Installed line = requestLine(k, irq, cpu, name, (l, dev) -> {
                    t.mod(k.jiffies());
                    return IrqReturn.HANDLED;
                });
                return () -> {
                    line.close();
                    t.shutdownSync();
                };
            }
        };
    }

    /**
     * A mechanism made of a per-kernel object and a scheduling call: {@code setup} builds the
     * object around the bottom half (once per install), {@code schedule} is what the top half calls.
     * The way the historical mechanisms join the list.
     */
    public static <T> Deferral of(String name, Consumer<Kernel.Builder> configure,
                                  java.util.function.BiFunction<Kernel, Runnable, T> setup, Consumer<T> schedule,
                                  Consumer<T> teardown) {
        return new Deferral() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public void configure(Kernel.Builder b) {
                configure.accept(b);
            }

            @Override
            public Installed install(Kernel k, int irq, int cpu, Runnable bh) {
                T obj = setup.apply(k, bh);
                Installed line = requestLine(k, irq, cpu, name, (l, dev) -> {
                    schedule.accept(obj);
                    return IrqReturn.HANDLED;
                });
                return () -> {
                    line.close();
                    teardown.accept(obj);
                };
            }
        };
    }

    /** Requests {@code irq} with {@code top} as its (only) handler, delivered to {@code cpu}. */
    static Deferral.Installed requestLine(Kernel k, int irq, int cpu, String name, IrqHandler top) {
        Object dev = new Object();
        Irqs irqs = k.irqs();
        irqs.requestIrq(irq, top, name, dev);
        irqs.setAffinity(irq, cpu);
        return () -> irqs.freeIrq(irq, dev);
    }

    /** The old bottom half's slot in the shootout: one the predefined task queues do not use. */
    static final int SHOOTOUT_BH = 20;

    /**
     * The shootout's mechanisms, in table order; the last three are the historical ones: an old
     * bottom half ({@code init_bh} + {@code mark_bh}), {@code tq_immediate} ({@code queue_task} +
     * {@code mark_bh(IMMEDIATE_BH)}) and {@code keventd} ({@code schedule_task}).
     */
    public static final List<Deferral> SHOOTOUT = List.of(
            tasklet("tasklet", false, TaskletBackend.SOFTIRQ, false),
            tasklet("tasklet-hi", true, TaskletBackend.SOFTIRQ, false),
            tasklet("tasklet@bh-wq", false, TaskletBackend.BH_WORKQUEUE, false),
            tasklet("tasklet@wq-2007", false, TaskletBackend.WORKQUEUE, false),
            work("bh-work", Kernel::systemBhWq, true),
            work("percpu-work", Kernel::systemWq, true),
            work("highpri-work", Kernel::systemHighpriWq, true),
            work("unbound-work", Kernel::systemUnboundWq, false),
            threaded("threaded-irq"),
            tasklet("forced-threading", false, TaskletBackend.SOFTIRQ, true),
            timer("timer-now"),
            of("old-bh", b -> { }, (k, bh) -> {
                k.bottomHalves().init(SHOOTOUT_BH, bh);
                return k;
            }, k -> k.bottomHalves().mark(SHOOTOUT_BH), k -> k.bottomHalves().remove(SHOOTOUT_BH)),
            of("tq-immediate", b -> { }, (k, bh) -> new Object[] {k, bh},
                    kb -> ((Kernel) kb[0]).bottomHalves().queueImmediate((Runnable) kb[1]), kb -> { }),
            of("keventd", b -> { }, (k, bh) -> new Object[] {k, bh},
                    kb -> ((Kernel) kb[0]).keventd().scheduleTask((Runnable) kb[1]), kb -> { }));

    /** The mechanism called {@code name} in {@link #SHOOTOUT}. */
    public static Deferral named(String name) {
        for (Deferral d : SHOOTOUT) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("no mechanism " + name + "; known: "
                + SHOOTOUT.stream().map(Deferral::name).reduce((a, b) -> a + ", " + b).orElse(""));
    }
}

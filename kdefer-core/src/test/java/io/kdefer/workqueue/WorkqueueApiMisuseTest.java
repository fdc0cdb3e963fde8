package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.CollectingErrors.Report;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.ThrowingSupplier;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Calls that deadlock or sleep where sleeping is not allowed in the kernel, and callbacks that
 * throw (spec §4.6, §4.7, §10.3 items 62, 71, 79 and 84 from the misuse side, DESIGN "fail fast
 * where the kernel hangs"):
 * <ul>
 *   <li>flushing, cancel-syncing or disable-syncing an item from its own function, and flushing or
 *       draining a queue from one of its own items, wait for themselves: kdefer throws an
 *       {@link IllegalStateException} naming the call and the rule (faithful mode would hang, as
 *       the kernel does, and is not run here);</li>
 *   <li>the waiting calls from BH context (inside {@code localBhDisable()}, or in a BH work item) or
 *       from a hardirq are refused in both modes ({@code might_sleep});</li>
 *   <li>an {@link java.util.concurrent.Executor} task that throws is reported to the error handler
 *       and its worker goes on with the next item.</li>
 * </ul>
 * Calls made from inside a work function catch what they throw and record it, so that the test,
 * not the error handler, sees it.
 */
class WorkqueueApiMisuseTest {

    /** Runs {@code call} and returns what it threw, or null. */
    private static Throwable thrownBy(ThrowingSupplier<?> call) {
        try {
            call.get();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    // ---------------------------------------------------------------- waits for oneself

    /**
     * {@code flush()}, {@code cancelSync()} and {@code disableSync()} of an item from its own
     * function (a plain item, and a delayed item that came off its timer) throw an
     * {@link IllegalStateException} naming the call and the rule; the item is left as it was (not
     * disabled, queueable). Spec §4.6, §4.7.
     */
    @Test
    void waitingForAnItemFromItsOwnFunctionThrows(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("apiself", 0);
        Map<String, Throwable> seen = Collections.synchronizedMap(new LinkedHashMap<>());
        Work w = new Work(self -> {
            seen.put("flush", thrownBy(self::flush));
            seen.put("cancelSync", thrownBy(self::cancelSync));
            seen.put("disableSync", thrownBy(self::disableSync));
        });
        DelayedWork dw = new DelayedWork(self -> {
            seen.put("delayed flush", thrownBy(self::flush));
            seen.put("delayed cancelSync", thrownBy(self::cancelSync));
        });
        wq.queueOn(0, w);
        w.flush();
        wq.queueDelayedOn(1, dw, 1);
        clock.tick(2);
        wq.flush();

        assertThat(seen).containsOnlyKeys("flush", "cancelSync", "disableSync", "delayed flush", "delayed cancelSync");
        assertThat(seen.get("flush")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("flush_work()").hasMessageContaining("own function");
        assertThat(seen.get("cancelSync")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cancel_work_sync()").hasMessageContaining("own function");
        assertThat(seen.get("disableSync")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("disable_work_sync()").hasMessageContaining("own function");
        assertThat(seen.get("delayed flush")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("own function");
        assertThat(seen.get("delayed cancelSync")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("own function");

        assertThat(w.disableCount()).isZero();
        assertThat(dw.disableCount()).isZero();
        assertThat(wq.queueOn(0, w)).isTrue();
        w.flush();
    }

    /**
     * {@code Workqueue.flush()} and {@code drain()} from one of the queue's own items throw an
     * {@link IllegalStateException} naming the queue; from an item of another queue they are
     * allowed. Spec §4.6.
     */
    @Test
    void flushingAQueueFromItsOwnItemThrows(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("apiselfq", 0);
        Workqueue other = kernel.allocWorkqueue("apiotherq", 0);
        Map<String, Throwable> seen = Collections.synchronizedMap(new LinkedHashMap<>());
        Work own = new Work(self -> {
            seen.put("flush", thrownBy(() -> {
                wq.flush();
                return null;
            }));
            seen.put("drain", thrownBy(() -> {
                wq.drain();
                return null;
            }));
        });
        Work foreign = new Work(self -> seen.put("from another queue", thrownBy(() -> {
            wq.flush();
            return null;
        })));
        wq.queueOn(0, own);
        own.flush();
        other.queueOn(1, foreign);
        foreign.flush();

        assertThat(seen.get("flush")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("flush_workqueue()").hasMessageContaining("apiselfq");
        assertThat(seen.get("drain")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("drain_workqueue()").hasMessageContaining("apiselfq");
        assertThat(seen).containsEntry("from another queue", null);
    }

    // ---------------------------------------------------------------- atomic context

    /**
     * Inside {@code localBhDisable()} every call that waits is refused with an
     * {@link IllegalStateException} (the kernel's "sleeping function called from invalid
     * context"): {@code flush()} of a queued or finished item and of a delayed item,
     * {@code Workqueue.flush()}, {@code drain()}, {@code cancelSync()}, {@code disableSync()}; the
     * refused calls change nothing. Spec §4.6 ({@code flush_work} sleeps), §10.3 items 62, 65, 71, 79.
     */
    @Test
    void waitingCallsInsideABhDisabledSectionAreRefused(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("apibh", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work w = new Work(probe);
        DelayedWork dw = new DelayedWork(probe);
        wq.queueOn(0, w);
        w.flush();
        wq.queueDelayed(dw, 10);
        List<Throwable> refused = new ArrayList<>();
        TestKernels.onCpu(kernel, 0, () -> {
            kernel.localBhDisable();
            try {
                refused.add(thrownBy(w::flush));
                refused.add(thrownBy(dw::flush));
                refused.add(thrownBy(() -> {
                    wq.flush();
                    return null;
                }));
                refused.add(thrownBy(() -> {
                    wq.drain();
                    return null;
                }));
                refused.add(thrownBy(w::cancelSync));
                refused.add(thrownBy(w::disableSync));
            } finally {
                kernel.localBhEnable();
            }
        });
        assertThat(refused).hasSize(6).allSatisfy(t -> assertThat(t).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("atomic context"));
        assertThat(w.disableCount()).isZero();
        assertThat(dw.timer().isPending()).as("the refused flush left the timer").isTrue();
        assertThat(dw.cancel()).isTrue();
        assertThat(probe.runs).hasValue(1);
    }

    /**
     * A refused {@code destroy()} (inside {@code localBhDisable()}) leaves the queue as it was: not
     * destroyed and not left draining, so outside queueing still works. Spec §10.3 item 84.
     */
    @Test
    void refusedDestroyInsideABhDisabledSectionLeavesTheQueueUsable(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("apibhdestroy", 0);
        AtomicReference<Throwable> refused = new AtomicReference<>();
        TestKernels.onCpu(kernel, 0, () -> {
            kernel.localBhDisable();
            try {
                refused.set(thrownBy(() -> {
                    wq.destroy();
                    return null;
                }));
            } finally {
                kernel.localBhEnable();
            }
        });
        assertThat(refused.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("atomic context");
        assertThat(wq.isDestroyed()).isFalse();

        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work w = new Work(probe);
        assertThat(wq.queueOn(0, w)).isTrue();
        w.flush();
        assertThat(probe.runs).hasValue(1);
        wq.destroy();
        assertThat(wq.isDestroyed()).isTrue();
    }

    /**
     * {@code destroy()} from one of the queue's own items would drain the queue from inside it (a
     * wait for itself): it throws an {@link IllegalStateException} naming the queue and leaves the
     * queue as it was, so outside queueing still works. Spec §4.6, §10.3 item 84.
     */
    @Test
    void refusedDestroyFromAnOwnItemLeavesTheQueueUsable(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("apiselfdestroy", 0);
        AtomicReference<Throwable> refused = new AtomicReference<>();
        Work own = new Work(self -> refused.set(thrownBy(() -> {
            wq.destroy();
            return null;
        })));
        wq.queueOn(0, own);
        own.flush();
        assertThat(refused.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("apiselfdestroy");
        assertThat(wq.isDestroyed()).isFalse();

        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work w = new Work(probe);
        assertThat(wq.queueOn(1, w)).isTrue();
        w.flush();
        assertThat(probe.runs).hasValue(1);
        wq.destroy();
        assertThat(wq.isDestroyed()).isTrue();
    }

    /**
     * A BH work item (softirq context) that flushes another item or a queue, or cancel-syncs an item
     * of a per-CPU queue, is refused with an {@link IllegalStateException}; so is a flush from a
     * hardirq. Spec §4.6, §4.12.1.
     */
    @Test
    void flushFromABhWorkItemOrAHardirqIsRefused(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("apibhitem", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work target = new Work(probe);
        wq.queueOn(1, target);
        target.flush();

        Map<String, Throwable> seen = Collections.synchronizedMap(new LinkedHashMap<>());
        Work bh = new Work(self -> {
            seen.put("softirq", kernel.inServingSoftirq() ? null : new AssertionError("not in softirq"));
            seen.put("flush", thrownBy(target::flush));
            seen.put("workqueue flush", thrownBy(() -> {
                wq.flush();
                return null;
            }));
            seen.put("cancelSync", thrownBy(target::cancelSync));
        });
        kernel.systemBhWq().queueOn(1, bh);
        bh.flush();

        assertThat(seen).containsEntry("softirq", null);
        assertThat(seen.get("flush")).isInstanceOf(IllegalStateException.class);
        assertThat(seen.get("workqueue flush")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("apibhitem");
        assertThat(seen.get("cancelSync")).isInstanceOf(IllegalStateException.class);

        assertThatThrownBy(() -> kernel.smpCallFunctionSingle(1, target::flush, true))
                .isInstanceOf(IllegalStateException.class);
        assertThat(target.disableCount()).isZero();
        assertThat(probe.runs).hasValue(1);
    }

    /**
     * Faithful mode refuses the waiting calls in BH context too: the kernel would sleep in atomic
     * context, which no mode reproduces. Spec §4.6.
     */
    @Test
    void flushInsideABhDisabledSectionIsRefusedInFaithfulModeToo(CollectingErrors errors) {
        Kernel kernel = TestKernels.start(TestKernels.manual(2, errors).faithful(true));
        try {
            Workqueue wq = kernel.allocWorkqueue("apibhf", 0);
            Work w = new Work(self -> { });
            wq.queueOn(0, w);
            w.flush();
            List<Throwable> refused = new ArrayList<>();
            TestKernels.onCpu(kernel, 0, () -> {
                kernel.localBhDisable();
                try {
                    refused.add(thrownBy(w::flush));
                    refused.add(thrownBy(() -> {
                        wq.flush();
                        return null;
                    }));
                } finally {
                    kernel.localBhEnable();
                }
            });
            assertThat(refused).hasSize(2).allSatisfy(t -> assertThat(t).isInstanceOf(IllegalStateException.class));
        } finally {
            kernel.close();
        }
    }

    // ---------------------------------------------------------------- callbacks that throw

    /**
     * An {@link java.util.concurrent.Executor} task that throws is reported to the error handler
     * (the exception itself, with the item that ran it as the source) and its worker survives: the
     * same worker runs the next task. The tasks are lined up behind a held one on one CPU, so the
     * held worker runs all three in order. Spec §10.3 (DESIGN: a callback that throws never kills a
     * kdefer thread).
     */
    @Test
    void executorTaskThatThrowsIsReportedAndTheWorkerSurvives(Kernel kernel, CollectingErrors errors) {
        Workqueue wq = kernel.allocWorkqueue("apiexec", 0);
        RuntimeException boom = new RuntimeException("boom");
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch nextRan = new CountDownLatch(1);
        AtomicReference<Thread> first = new AtomicReference<>();
        AtomicReference<Thread> thrower = new AtomicReference<>();
        AtomicReference<Thread> next = new AtomicReference<>();
        try {
            TestKernels.onCpu(kernel, 1, () -> {
                wq.execute(() -> {
                    first.set(Thread.currentThread());
                    started.countDown();
                    Waits.await(release);
                });
                Waits.await(started);
                wq.execute(() -> {
                    thrower.set(Thread.currentThread());
                    throw boom;
                });
                wq.execute(() -> {
                    next.set(Thread.currentThread());
                    nextRan.countDown();
                });
            });
        } finally {
            release.countDown();
        }
        Waits.await(nextRan, "the task after the throwing one ran");
        wq.flush();

        List<Report> reports = errors.take();
        assertThat(reports).hasSize(1);
        assertThat(reports.get(0).error()).isSameAs(boom);
        assertThat(reports.get(0).source()).isInstanceOf(Work.class);
        assertThat(thrower.get()).isSameAs(first.get());
        assertThat(next.get()).as("the worker that ran the throwing task ran the next one").isSameAs(thrower.get());
        assertThat(next.get().getName()).matches("kworker/1:\\d+");
        assertThat(next.get().isAlive()).isTrue();
    }

    /**
     * A work function that throws is reported and leaves its item idle and queueable; the queue and
     * the item's flush work as usual. Spec §10.3 items 62 and 82.
     */
    @Test
    void workFunctionThatThrowsIsReportedAndLeavesTheItemIdle(Kernel kernel, CollectingErrors errors) {
        Workqueue wq = kernel.allocWorkqueue("apithrow", 0);
        IllegalArgumentException boom = new IllegalArgumentException("boom");
        Work w = new Work(self -> {
            throw boom;
        });
        wq.queueOn(0, w);
        w.flush();
        assertThat(w.busy()).isZero();
        assertThat(wq.queueOn(0, w)).isTrue();
        wq.flush();

        List<Report> reports = errors.take();
        assertThat(reports).hasSize(2).allSatisfy(r -> {
            assertThat(r.source()).isSameAs(w);
            assertThat(r.error()).isSameAs(boom);
        });
    }
}

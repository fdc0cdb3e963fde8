package io.kdefer.tasklet;

import io.kdefer.testkit.Waits;
import io.kdefer.testkit.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.kdefer.KernelStats.Counter.TASKLET_REQUEUES;
import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.awaitWaiting;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Calls that hang, self-deadlock or silently break a tasklet in the kernel (spec §10.2 items 36
 * and 43-45). By default kdefer refuses them with an {@link IllegalStateException} whose message
 * names the tasklet and the rule, and leaves the tasklet as it was; with {@code faithful(true)} it
 * reproduces what the kernel does, where that can be observed without hanging the test.
 *
 * <p>Each test runs on every {@link TaskletBackend}, with the same expectations: the rules belong
 * to the state machine. On {@code WORKQUEUE} a callback runs in task context but with bottom halves
 * disabled, so a waiting call made from it is refused as from interrupt context there too.
 */
@ParameterizedClass(name = "{0}")
@EnumSource(TaskletBackend.class)
class TaskletMisuseTest {

    private final TaskletBackend backend;

    TaskletMisuseTest(TaskletBackend backend) {
        this.backend = backend;
    }


    // ---------------------------------------------------------------- 36

    /**
     * Default mode: an unbalanced {@code enable()} throws, naming the rule, and leaves the count at
     * 0, so the tasklet still runs when scheduled. Spec §10 item 36 (kdefer's default deviation).
     */
    @Test
    void unbalancedEnableThrowsByDefaultAndChangesNothing() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch ran = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                runs.incrementAndGet();
                ran.countDown();
            });
            t.disable();
            t.enable();

            assertThatThrownBy(t::enable)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("tasklet_enable()")
                    .hasMessageContaining("unbalanced enable");

            assertThat(t.count()).isZero();
            assertThat(h.kernel.runOnCpu(0, t::schedule)).isTrue();
            await(ran);
            h.kernel.close();
            assertThat(runs).hasValue(1);
        }
    }

    /**
     * Faithful mode: an unbalanced {@code enable()} raises no error and drives the count to -1; a
     * scheduled tasklet then never runs (runners find the count non-zero and re-queue it) until
     * the count is back at 0. Spec §10 item 36.
     */
    @Test
    void unbalancedEnableInFaithfulModeLeavesTheTaskletUnableToRun() {
        try (TaskletHarness h = new TaskletHarness(backend, 2, true)) {
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch ran = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                runs.incrementAndGet();
                ran.countDown();
            });

            t.enable();
            assertThat(t.count()).isEqualTo(-1);
            assertThat(h.kernel.runOnCpu(0, t::schedule)).isTrue();
            h.awaitStat(0, TASKLET_REQUEUES, 2);
            assertThat(runs).hasValue(0);
            assertThat(t.isScheduled()).isTrue();
            assertThat(h.takeErrors()).isEmpty();

            t.disableNosync();   // back to 0: the queued run can happen
            await(ran);
            h.kernel.close();
            assertThat(runs).hasValue(1);
        }
    }

    // ---------------------------------------------------------------- 43

    /**
     * Faithful mode: {@code kill()} on a tasklet that is disabled and scheduled blocks (runners keep
     * re-queueing it meanwhile) and returns only after {@code enable()} let the queued run happen.
     * Spec §10 item 43.
     */
    @Test
    void killOfDisabledScheduledTaskletInFaithfulModeWaitsForEnable() throws Exception {
        try (TaskletHarness h = new TaskletHarness(backend, 2, true)) {
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            AtomicInteger runsWhenKillReturned = new AtomicInteger(-1);
            t.disable();
            h.onCpu(0, t::schedule);

            Worker killer = null;
            try {
                killer = Worker.start("killer", () -> {
                    t.kill();
                    runsWhenKillReturned.set(runs.get());
                });
                awaitWaiting(killer);
                long r0 = h.stat(0, TASKLET_REQUEUES);
                h.awaitStat(0, TASKLET_REQUEUES, r0 + 2);
                assertThat(killer.isAlive()).isTrue();
                assertThat(runs).hasValue(0);
            } finally {
                t.enable();
                Worker.joinQuietly(killer);
            }
            killer.joinAndCheck();

            assertThat(runsWhenKillReturned).hasValue(1);
            assertThat(t.isScheduled()).isFalse();
            assertThat(t.isRunning()).isFalse();
        }
    }

    /**
     * Default mode: {@code kill()} on a disabled and scheduled tasklet throws at once, naming the
     * rule, and leaves it queued and disabled; after {@code enable()} it runs. Spec §10 item 43
     * (kdefer's default deviation).
     */
    @Test
    void killOfDisabledScheduledTaskletThrowsByDefault() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch ran = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                runs.incrementAndGet();
                ran.countDown();
            });
            t.disable();
            h.onCpu(0, t::schedule);

            assertThatThrownBy(t::kill)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("tasklet_kill()")
                    .hasMessageContaining("disabled")
                    .hasMessageContaining("scheduled");

            assertThat(t.isScheduled()).isTrue();
            assertThat(t.count()).isEqualTo(1);
            assertThat(runs).hasValue(0);
            t.enable();
            await(ran);
            h.kernel.close();
            assertThat(runs).hasValue(1);
        }
    }

    /**
     * Default mode: a {@code kill()} that waits for a queued run throws as soon as the tasklet is
     * disabled meanwhile (it could then wait forever); the queued run still happens after enable.
     * Spec §10 item 43 (kdefer's default deviation).
     */
    @Test
    void waitingKillThrowsWhenTheTaskletGetsDisabled() throws Exception {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            CountDownLatch blockerStarted = new CountDownLatch(1);
            CountDownLatch releaseBlocker = new CountDownLatch(1);
            Tasklet blocker = Tasklet.setup(h.kernel, self -> {
                blockerStarted.countDown();
                await(releaseBlocker);
            });
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            h.onCpu(0, () -> {
                blocker.schedule();
                t.schedule();
            });

            Worker killer = null;
            Throwable killFailure;
            try {
                await(blockerStarted);
                killer = Worker.start("killer", t::kill);
                awaitWaiting(killer);
                t.disableNosync();
                killFailure = killer.joinFailure();
            } finally {
                releaseBlocker.countDown();
                Worker.joinQuietly(killer);
            }

            assertThat(killFailure)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("disabled")
                    .hasMessageContaining("scheduled");
            assertThat(t.isScheduled()).isTrue();
            t.enable();
            t.kill();   // enabled again: now it waits for the queued run and returns
            assertThat(runs).hasValue(1);
            assertThat(t.isScheduled()).isFalse();
        }
    }

    // ---------------------------------------------------------------- 44

    /**
     * Default mode: {@code kill()} from interrupt context (a hardirq, a bottom-half-disabled
     * section, another tasklet's callback) throws, naming the rule, and leaves the tasklet usable.
     * Spec §10 item 44.
     */
    @Test
    void killFromInterruptContextThrowsByDefault() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch ran = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                runs.incrementAndGet();
                ran.countDown();
            });
            AtomicReference<Throwable> fromSoftirq = new AtomicReference<>();
            CountDownLatch otherRan = new CountDownLatch(1);
            Tasklet other = Tasklet.setup(h.kernel, self -> {
                try {
                    t.kill();
                } catch (Throwable e) {
                    fromSoftirq.set(e);
                }
                otherRan.countDown();
            });

            assertThatThrownBy(() -> h.hardirq(0, t::kill))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("tasklet_kill()")
                    .hasMessageContaining("from interrupt context");
            assertThatThrownBy(() -> h.bhSection(1, t::kill))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("from interrupt context");
            h.onCpu(1, other::schedule);
            await(otherRan);
            assertThat(fromSoftirq.get())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("from interrupt context");

            assertThat(t.isScheduled()).isFalse();
            assertThat(h.kernel.runOnCpu(0, t::schedule)).isTrue();
            await(ran);
            h.kernel.close();
            assertThat(runs).hasValue(1);
        }
    }

    /**
     * Faithful mode: {@code kill()} from a hardirq is allowed (the kernel only prints a notice);
     * on an idle tasklet it returns at once. Spec §10 item 44.
     */
    @Test
    void killFromHardirqInFaithfulModeProceeds() {
        try (TaskletHarness h = new TaskletHarness(backend, 2, true)) {
            Tasklet t = Tasklet.setup(h.kernel, self -> { });
            AtomicBoolean returned = new AtomicBoolean();

            h.hardirq(0, () -> {
                t.kill();
                returned.set(true);
            });

            assertThat(returned).isTrue();
            assertThat(t.isScheduled()).isFalse();
        }
    }

    // ---------------------------------------------------------------- 45

    /**
     * Default mode: {@code disable()}, {@code kill()} and {@code unlockWait()} called from the
     * tasklet's own callback throw (in the kernel each waits for its own RUN bit forever) and change
     * nothing; {@code disableNosync()} from the callback is allowed. Spec §10 item 45.
     */
    @Test
    void waitingCallsFromOwnCallbackThrowByDefault() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            List<Throwable> caught = Collections.synchronizedList(new ArrayList<>());
            AtomicInteger countInside = new AtomicInteger(-99);
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch first = new CountDownLatch(1);
            CountDownLatch second = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                if (runs.incrementAndGet() == 1) {
                    for (Runnable call : List.<Runnable>of(self::disable, self::kill, self::unlockWait)) {
                        try {
                            call.run();
                        } catch (Throwable e) {
                            caught.add(e);
                        }
                    }
                    countInside.set(self.count());
                    self.disableNosync();
                    first.countDown();
                } else {
                    second.countDown();
                }
            });

            h.onCpu(0, t::schedule);
            await(first);
            t.unlockWait();

            assertThat(caught).hasSize(3).allSatisfy(e -> assertThat(e)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("from its own callback"));
            assertThat(caught.get(0)).hasMessageContaining("tasklet_disable()");
            assertThat(caught.get(1)).hasMessageContaining("tasklet_kill()");
            assertThat(caught.get(2)).hasMessageContaining("tasklet_unlock_wait()");
            assertThat(countInside).hasValue(0);
            assertThat(t.count()).isEqualTo(1);   // the disableNosync() made inside
            assertThat(t.isScheduled()).isFalse();

            t.enable();
            assertThat(h.kernel.runOnCpu(1, t::schedule)).isTrue();
            await(second);
            h.kernel.close();
            assertThat(runs).hasValue(2);
        }
    }

    /**
     * Default mode: {@code disable()} may sleep, so it is refused in interrupt context (a hardirq,
     * another tasklet's callback) and the count does not change; {@code disableNosync()} is
     * allowed there. Spec §10 item 45 (the same rule for other callers in atomic context).
     */
    @Test
    void disableFromInterruptContextThrowsByDefault() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            Tasklet t = Tasklet.setup(h.kernel, self -> { });
            AtomicReference<Throwable> fromSoftirq = new AtomicReference<>();
            CountDownLatch otherRan = new CountDownLatch(1);
            Tasklet other = Tasklet.setup(h.kernel, self -> {
                try {
                    t.disable();
                } catch (Throwable e) {
                    fromSoftirq.set(e);
                }
                t.disableNosync();
                otherRan.countDown();
            });

            assertThatThrownBy(() -> h.hardirq(0, t::disable))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("tasklet_disable()")
                    .hasMessageContaining("in interrupt context");
            assertThat(t.count()).isZero();
            h.onCpu(1, other::schedule);
            await(otherRan);

            assertThat(fromSoftirq.get())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("in interrupt context");
            assertThat(t.count()).isEqualTo(1);
            t.enable();
        }
    }
}

package io.kdefer.timer;

import io.kdefer.testkit.TestKernels;
import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Misuse of {@link KernelTimer}: where the kernel hangs or WARNs, the default mode throws
 * {@link IllegalStateException} with a message naming the rule and changes nothing, and faithful
 * mode does what the kernel does (WARN, logged through {@code System.Logger "io.kdefer"}, and go
 * on). Arming a shut-down timer is not misuse: it is silently ignored in both modes.
 */
class KernelTimerMisuseTest {
    private final WarningLog warnings = new WarningLog();
    private final List<Kernel> kernels = new ArrayList<>();
    private final List<Object[]> errors = Collections.synchronizedList(new ArrayList<>());
    private ManualClock clock;

    @BeforeEach
    void captureWarnings() throws ReflectiveOperationException {
        warnings.start();
    }

    @AfterEach
    void closeKernels() throws ReflectiveOperationException {
        try {
            kernels.forEach(Kernel::close);
        } finally {
            warnings.stop();
        }
    }

    /**
     * What kdefer logs through {@code System.getLogger("io.kdefer")}, whose default backend is
     * java.util.logging. Reached reflectively: the test sources compile inside the core's
     * module, which does not read {@code java.logging}.
     */
    static final class WarningLog {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private Object logger;      // strongly held: java.util.logging keeps loggers weakly
        private Object handler;
        private Class<?> loggerClass;
        private Class<?> handlerClass;
        private boolean parentHandlers;

        void start() throws ReflectiveOperationException {
            loggerClass = Class.forName("java.util.logging.Logger");
            handlerClass = Class.forName("java.util.logging.Handler");
            Class<?> formatterClass = Class.forName("java.util.logging.Formatter");
            Object formatter = Class.forName("java.util.logging.SimpleFormatter").getConstructor().newInstance();
            handler = Class.forName("java.util.logging.StreamHandler")
                    .getConstructor(OutputStream.class, formatterClass).newInstance(out, formatter);
            logger = loggerClass.getMethod("getLogger", String.class).invoke(null, "io.kdefer");
            parentHandlers = (boolean) loggerClass.getMethod("getUseParentHandlers").invoke(logger);
            loggerClass.getMethod("setUseParentHandlers", boolean.class).invoke(logger, false);
            loggerClass.getMethod("addHandler", handlerClass).invoke(logger, handler);
        }

        void stop() throws ReflectiveOperationException {
            loggerClass.getMethod("removeHandler", handlerClass).invoke(logger, handler);
            loggerClass.getMethod("setUseParentHandlers", boolean.class).invoke(logger, parentHandlers);
        }

        /** The message of every record logged so far (the handler logs INFO and above). */
        List<String> lines() {
            try {
                handlerClass.getMethod("flush").invoke(handler);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(e);
            }
            // SimpleFormatter: a line with the date and source, then "LEVEL: message"
            String[] lines = out.toString(StandardCharsets.UTF_8).split("\\R");
            List<String> messages = new ArrayList<>();
            for (int i = 1; i < lines.length; i += 2) {
                messages.add(lines[i].substring(lines[i].indexOf(": ") + 2));
            }
            return messages;
        }
    }

    private Kernel kernel(boolean faithful) {
        clock = new ManualClock();
        Kernel k = TestKernels.track(Kernel.builder().cpus(2).hz(1000).clock(clock).faithful(faithful)
                .errorHandler((source, error) -> errors.add(new Object[] {source, error}))
                .build());
        kernels.add(k);
        return k;
    }

    private static <T> T on(Kernel k, int cpu, Callable<T> fn) {
        return k.runOnCpu(cpu, fn);
    }

    private static void armOn(Kernel k, int cpu, KernelTimer t, long expires) {
        on(k, cpu, () -> t.mod(expires));
    }

    // ---------------------------------------------------------------- waiting for oneself

    /**
     * {@code deleteSync()} from the timer's own callback would wait for itself forever (the kernel
     * hangs): it is refused with an exception naming the rule, nothing changes, and the timer
     * can be armed again and runs again. Spec §6.6; §10 item 125.
     */
    @Test
    void deleteSyncFromItsOwnCallbackIsRefused() {
        Kernel k = kernel(false);
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicInteger runs = new AtomicInteger();
        KernelTimer t = on(k, 1, () -> KernelTimer.setup(k, self -> {
            if (runs.incrementAndGet() == 1) {
                self.mod(k.jiffies() + 50);
                try {
                    self.deleteSync();
                } catch (Throwable e) {
                    thrown.set(e);
                }
            }
        }));
        long j = k.jiffies();
        armOn(k, 1, t, j + 1);
        clock.tick(2);
        assertThat(thrown.get()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("timer_delete_sync()")
                .hasMessageContaining("own callback");
        assertThat(t.isPending()).as("the refused call deleted nothing").isTrue();
        clock.tick(60);
        assertThat(runs).hasValue(2);
        assertThat(errors).isEmpty();
    }

    /**
     * {@code shutdownSync()} from the timer's own callback is refused the same way and does not
     * shut the timer down: its re-arm still works. Spec §6.6; §10 item 125.
     */
    @Test
    void shutdownSyncFromItsOwnCallbackIsRefused() {
        Kernel k = kernel(false);
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicInteger runs = new AtomicInteger();
        KernelTimer t = on(k, 0, () -> KernelTimer.setup(k, self -> {
            if (runs.incrementAndGet() == 1) {
                try {
                    self.shutdownSync();
                } catch (Throwable e) {
                    thrown.set(e);
                }
                self.mod(k.jiffies() + 1);
            }
        }));
        armOn(k, 0, t, k.jiffies() + 1);
        clock.tick(10);
        assertThat(thrown.get()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("timer_shutdown_sync()")
                .hasMessageContaining("own callback");
        assertThat(t.isShutdown()).isFalse();
        assertThat(runs).hasValue(2);
    }

    // ---------------------------------------------------------------- add of a pending timer

    /**
     * {@code add()} and {@code addOn()} of a pending timer: refused with an exception (pointing to
     * {@code mod()}); the timer keeps its expiry and CPU and runs once, then. Spec §6.5; §10 item 115.
     */
    @Test
    void addOfAPendingTimerThrowsAndLeavesItUnchanged() {
        Kernel k = kernel(false);
        List<String> runs = Collections.synchronizedList(new ArrayList<>());
        KernelTimer t = on(k, 1, () -> KernelTimer.setup(k,
                self -> runs.add(Thread.currentThread().getName() + "@" + k.jiffies())));
        long j = k.jiffies();
        armOn(k, 1, t, j + 10);
        assertThatThrownBy(() -> on(k, 0, () -> {
            t.add(j + 3);
            return null;
        })).isInstanceOf(IllegalStateException.class).hasMessageContaining("pending").hasMessageContaining("mod()");
        assertThatThrownBy(() -> t.addOn(0, j + 3))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("pending");
        assertThat(t.expires()).isEqualTo(j + 10);
        assertThat(t.cpu()).isEqualTo(1);
        clock.tick(30);
        assertThat(runs).containsExactly("cpu/1@" + (j + 11));
        assertThat(warnings.lines()).isEmpty();
    }

    /**
     * Faithful mode: {@code add()} and {@code addOn()} of a pending timer WARN (logged) and leave
     * the timer as it was, as the kernel does. Spec §6.5; §10 item 115.
     */
    @Test
    void addOfAPendingTimerWarnsAndLeavesItUnchangedWhenFaithful() {
        Kernel k = kernel(true);
        List<String> runs = Collections.synchronizedList(new ArrayList<>());
        KernelTimer t = on(k, 1, () -> KernelTimer.setup(k,
                self -> runs.add(Thread.currentThread().getName() + "@" + k.jiffies())));
        long j = k.jiffies();
        armOn(k, 1, t, j + 10);
        on(k, 0, () -> {
            t.add(j + 3);
            return null;
        });
        t.addOn(0, j + 3);
        assertThat(t.expires()).isEqualTo(j + 10);
        assertThat(t.cpu()).isEqualTo(1);
        assertThat(warnings.lines()).hasSize(2);
        assertThat(warnings.lines().get(0)).contains("add_timer()").contains("pending");
        assertThat(warnings.lines().get(1)).contains("add_timer_on()").contains("pending");
        clock.tick(30);
        assertThat(runs).containsExactly("cpu/1@" + (j + 11));
    }

    // ---------------------------------------------------------------- deleteSync from hardirq

    /**
     * {@code deleteSync()} and {@code shutdownSync()} from hardirq context on a timer that is not
     * IRQSAFE: refused (the kernel WARNs) with a message naming hardirq context and IRQSAFE; the
     * timer stays pending and runs. Spec §6.1, §6.6.
     */
    @Test
    void deleteSyncFromHardirqOfANonIrqsafeTimerIsRefused() {
        Kernel k = kernel(false);
        AtomicInteger runs = new AtomicInteger();
        KernelTimer t = on(k, 0, () -> KernelTimer.setup(k, self -> runs.incrementAndGet()));
        long j = k.jiffies();
        armOn(k, 0, t, j + 5);
        assertThatThrownBy(() -> k.smpCallFunctionSingle(1, t::deleteSync, true))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("hardirq").hasMessageContaining("IRQSAFE");
        assertThatThrownBy(() -> k.smpCallFunctionSingle(0, t::shutdownSync, true))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("hardirq").hasMessageContaining("IRQSAFE");
        assertThat(t.isPending()).isTrue();
        assertThat(t.isShutdown()).isFalse();
        clock.tick(10);
        assertThat(runs).hasValue(1);
    }

    /**
     * Faithful mode: {@code deleteSync()} from hardirq on a non-IRQSAFE timer WARNs (logged) and
     * deletes it, as the kernel does after its WARN. Spec §6.1, §6.6.
     */
    @Test
    void deleteSyncFromHardirqOfANonIrqsafeTimerWarnsWhenFaithful() {
        Kernel k = kernel(true);
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<Boolean> result = new AtomicReference<>();
        KernelTimer t = on(k, 0, () -> KernelTimer.setup(k, self -> runs.incrementAndGet()));
        armOn(k, 0, t, k.jiffies() + 5);
        k.smpCallFunctionSingle(1, () -> result.set(t.deleteSync()), true);
        assertThat(result.get()).isTrue();
        assertThat(warnings.lines()).hasSize(1);
        assertThat(warnings.lines().get(0)).contains("hardirq").contains("IRQSAFE");
        clock.tick(10);
        assertThat(runs).hasValue(0);
    }

    /**
     * An IRQSAFE timer may be deleted with {@code deleteSync()} from hardirq context, in both
     * modes, without a warning: it returns true and the timer never runs. Spec §6.1, §6.6.
     */
    @ParameterizedTest(name = "faithful={0}")
    @ValueSource(booleans = {false, true})
    void deleteSyncFromHardirqOfAnIrqsafeTimerIsAllowed(boolean faithful) {
        Kernel k = kernel(faithful);
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<Boolean> result = new AtomicReference<>();
        KernelTimer t = on(k, 0, () -> KernelTimer.setup(k, self -> runs.incrementAndGet(), TimerFlag.IRQSAFE));
        assertThat(t.flags()).containsExactly(TimerFlag.IRQSAFE);
        armOn(k, 0, t, k.jiffies() + 5);
        k.smpCallFunctionSingle(1, () -> result.set(t.deleteSync()), true);
        assertThat(result.get()).isTrue();
        k.smpCallFunctionSingle(0, () -> result.set(t.deleteSync()), true);
        assertThat(result.get()).isFalse();
        clock.tick(10);
        assertThat(runs).hasValue(0);
        assertThat(warnings.lines()).isEmpty();
    }

    // ---------------------------------------------------------------- after shutdown

    /**
     * After {@code shutdownSync()} (of a pending timer: true) every way of arming is silently
     * ignored in both modes: {@code mod}, {@code modPending} and {@code reduce} return false,
     * {@code add} and {@code addOn} do nothing, no warning; the timer never runs; deleting it
     * again returns false. A new {@code setup()} gives a working timer. Spec §6.6; §10 item 126.
     */
    @ParameterizedTest(name = "faithful={0}")
    @ValueSource(booleans = {false, true})
    void armingAShutDownTimerIsSilentlyIgnored(boolean faithful) {
        Kernel k = kernel(faithful);
        AtomicInteger runs = new AtomicInteger();
        KernelTimer t = on(k, 1, () -> KernelTimer.setup(k, self -> runs.incrementAndGet()));
        long j = k.jiffies();
        armOn(k, 1, t, j + 5);
        assertThat(t.shutdownSync()).isTrue();
        assertThat(t.isShutdown()).isTrue();
        assertThat(on(k, 1, () -> t.mod(j + 3))).isFalse();
        assertThat(on(k, 0, () -> t.mod(j + 4))).isFalse();
        assertThat(on(k, 1, () -> t.modPending(j + 3))).isFalse();
        assertThat(on(k, 1, () -> t.reduce(j + 3))).isFalse();
        on(k, 1, () -> {
            t.add(j + 3);
            return null;
        });
        t.addOn(0, j + 3);
        assertThat(t.isPending()).isFalse();
        clock.tick(30);
        assertThat(runs).hasValue(0);
        assertThat(t.delete()).isFalse();
        assertThat(t.deleteSync()).isFalse();
        assertThat(t.shutdownSync()).isFalse();
        assertThat(warnings.lines()).isEmpty();
        assertThat(errors).isEmpty();

        KernelTimer fresh = on(k, 1, () -> KernelTimer.setup(k, self -> runs.incrementAndGet()));
        assertThat(on(k, 1, () -> fresh.mod(k.jiffies() + 2))).isFalse();
        clock.tick(5);
        assertThat(runs).hasValue(1);
    }

    /**
     * A callback that shuts its own timer down and then re-arms it: the re-arm is ignored
     * ({@code mod} returns false), in both modes, and the timer never runs again.
     * Spec §6.6; §10 item 127.
     */
    @ParameterizedTest(name = "faithful={0}")
    @ValueSource(booleans = {false, true})
    void shutdownFromTheCallbackDefeatsItsOwnReArm(boolean faithful) {
        Kernel k = kernel(faithful);
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<Boolean> reArm = new AtomicReference<>();
        KernelTimer t = on(k, 0, () -> KernelTimer.setup(k, self -> {
            runs.incrementAndGet();
            assertThat(self.shutdown()).isFalse();
            reArm.set(self.mod(k.jiffies() + 1));
        }));
        armOn(k, 0, t, k.jiffies() + 1);
        clock.tick(20);
        assertThat(runs).hasValue(1);
        assertThat(reArm.get()).isFalse();
        assertThat(t.isPending()).isFalse();
        assertThat(errors).isEmpty();
        assertThat(warnings.lines()).isEmpty();
    }

    /**
     * {@code shutdown()} of a pending timer returns true and it never runs; of an inactive one,
     * false. Spec §6.6; §10 item 126.
     */
    @Test
    void shutdownOfAPendingTimerReturnsTrueAndItNeverRuns() {
        Kernel k = kernel(false);
        AtomicInteger runs = new AtomicInteger();
        KernelTimer a = on(k, 0, () -> KernelTimer.setup(k, self -> runs.incrementAndGet()));
        KernelTimer b = on(k, 0, () -> KernelTimer.setup(k, self -> runs.incrementAndGet()));
        armOn(k, 0, a, k.jiffies() + 3);
        assertThat(a.shutdown()).isTrue();
        assertThat(b.shutdown()).isFalse();
        assertThat(on(k, 0, () -> b.mod(k.jiffies() + 1))).isFalse();
        clock.tick(10);
        assertThat(runs).hasValue(0);
    }

    // ---------------------------------------------------------------- closed kernel

    /**
     * After {@code close()}, every timer operation that arms, deletes or creates a timer throws
     * {@link IllegalStateException}. DESIGN "Closing".
     */
    @Test
    void operationsOnAClosedKernelThrow() {
        Kernel k = kernel(false);
        KernelTimer t = KernelTimer.setup(k, self -> { });
        long j = k.jiffies();
        k.close();
        assertThatThrownBy(() -> t.mod(j + 1)).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> t.add(j + 1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> t.addOn(0, j + 1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(t::delete).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(t::deleteSync).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(t::deleteSyncTry).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(t::shutdown).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> KernelTimer.setup(k, self -> { })).isInstanceOf(IllegalStateException.class);
    }
}

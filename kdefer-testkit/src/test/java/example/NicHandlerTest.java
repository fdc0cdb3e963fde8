package example;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.tasklet.Tasklet;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.KdeferTest;
import io.kdefer.timer.KernelTimer;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

// The example of the README's "Testing your own handler": keep the two in step.
@KdeferTest(cpus = 2)
class NicHandlerTest {

    @Test
    void theRxTaskletRunsOnceAtTheInterruptsExit(Kernel kernel) {
        AtomicInteger drained = new AtomicInteger();
        Tasklet rx = Tasklet.setup(kernel, t -> drained.incrementAndGet());

        kernel.smpCallFunctionSingle(0, () -> {     // a device interrupt on CPU 0
            rx.schedule();
            rx.schedule();                          // coalesced: already queued
        }, true);                                   // returns after the irq exit ran the tasklet

        assertThat(drained).hasValue(1);
    }

    @Test
    void theWatchdogFiresOnlyAfterItsTimeout(Kernel kernel, ManualClock clock) {
        AtomicInteger fired = new AtomicInteger();
        KernelTimer watchdog = KernelTimer.setup(kernel, t -> fired.incrementAndGet());
        watchdog.addOn(0, kernel.jiffies() + 10);

        clock.tick(10);                             // each tick returns after its timers ran
        assertThat(fired).hasValue(0);              // never early: due in the tick after expires
        clock.tick();
        assertThat(fired).hasValue(1);
    }

    @Test
    void aFailingCallbackIsReported(Kernel kernel, CollectingErrors errors) {
        Tasklet broken = Tasklet.setup(kernel, t -> {
            throw new IllegalStateException("ring empty");
        });
        kernel.smpCallFunctionSingle(0, broken::schedule, true);

        // taken, so the extension does not fail the test for it
        assertThat(errors.take()).singleElement()
                .satisfies(r -> assertThat(r.error()).hasMessage("ring empty"));
    }
}

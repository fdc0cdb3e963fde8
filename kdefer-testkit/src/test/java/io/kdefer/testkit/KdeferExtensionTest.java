package io.kdefer.testkit;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.tasklet.Tasklet;

import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.testkit.engine.EventConditions.event;
import static org.junit.platform.testkit.engine.EventConditions.finishedWithFailure;
import static org.junit.platform.testkit.engine.EventConditions.test;
import static org.junit.platform.testkit.engine.TestExecutionResultConditions.message;

/**
 * {@link KdeferExtension}, by running small test classes with JUnit's engine test kit and looking at
 * their outcomes: the kernel it gives, its closing, and the failure of a test that leaves a
 * callback error untaken.
 */
class KdeferExtensionTest {
    /** Kernels the sample tests were given, to look at after they ran. */
    static final List<Kernel> SEEN = new CopyOnWriteArrayList<>();

    private static Events run(Class<?> testClass) {
        return EngineTestKit.engine("junit-jupiter").selectors(selectClass(testClass)).execute().testEvents();
    }

    @KdeferTest
    static class Samples {
        @Test
        void defaults(Kernel kernel, ManualClock clock) {
            SEEN.add(kernel);
            assertThat(kernel.nrCpus()).isEqualTo(2);
            assertThat(kernel.hz()).isEqualTo(1000);
            assertThat(kernel.clock()).isSameAs(clock);
        }

        @Test
        @KdeferTest(cpus = 3, hz = 250)
        void methodOverridesClass(Kernel kernel) {
            SEEN.add(kernel);
            assertThat(kernel.nrCpus()).isEqualTo(3);
            assertThat(kernel.hz()).isEqualTo(250);
        }

        @Test
        void untakenError(Kernel kernel) {
            Tasklet t = Tasklet.setup(kernel, self -> {
                throw new IllegalStateException("left for the extension");
            });
            kernel.smpCallFunctionSingle(0, t::schedule, true);
        }
    }

    /**
     * Each test gets a kernel of its own, configured by the nearest {@link KdeferTest}, closed
     * after the test; an error a callback reported and the test did not take fails the test.
     */
    @Test
    void freshKernelPerTestClosedAfterItAndUntakenErrorsFail() {
        SEEN.clear();
        Events events = run(Samples.class);

        events.assertStatistics(s -> s.started(3).succeeded(2).failed(1));
        events.assertThatEvents().haveExactly(1, event(test("untakenError"),
                finishedWithFailure(message(m -> m.contains("errors reported to the kernel's error handler")
                        && m.contains("left for the extension")))));
        assertThat(SEEN).hasSize(2).doesNotHaveDuplicates().allSatisfy(k -> assertThat(k.isClosed()).isTrue());
    }
}

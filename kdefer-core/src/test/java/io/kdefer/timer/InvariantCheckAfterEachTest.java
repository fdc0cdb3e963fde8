package io.kdefer.timer;

import io.kdefer.Kernel;
import io.kdefer.internal.Secrets;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.TestKernels;

import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.testkit.engine.EventConditions.event;
import static org.junit.platform.testkit.engine.EventConditions.finishedWithFailure;
import static org.junit.platform.testkit.engine.EventConditions.test;
import static org.junit.platform.testkit.engine.TestExecutionResultConditions.message;

/**
 * The wiring that runs the invariant check after every core test: a test that passes by itself
 * but leaves a kernel with a broken rule fails, through the extension that this module's
 * {@code junit-platform.properties} and service registration install, with nothing on the test
 * class. The sample class is run by JUnit's engine test kit with the module's own configuration.
 */
class InvariantCheckAfterEachTest {

    /** Not run by the build itself (a nested class); run below. */
    static class LeavesABrokenWheel {
        @Test
        void corruptsAndCloses() {
            Kernel k = TestKernels.start(TestKernels.manual(1, new CollectingErrors()));
            TimerWheel w = TimerEngine.of(Secrets.runtime(k)).wheel(0, false);
            w.lock();
            w.pendingMap[2] |= 1L << 5;                      // bucket 133: empty, bit set
            w.unlock();
            k.close();
        }
    }

    @Test
    void aTestThatLeavesABrokenKernelFails() {
        EngineTestKit.engine("junit-jupiter")
                .enableImplicitConfigurationParameters(true)
                .selectors(selectClass(LeavesABrokenWheel.class))
                .execute()
                .testEvents()
                .assertThatEvents()
                .haveExactly(1, event(test("corruptsAndCloses"), finishedWithFailure(message(m ->
                        m.contains("cpu 0's timer wheel bucket 133 (level 2): empty with its pending bit set")
                                && m.contains("rule: the pending bitmap matches the non-empty buckets")))));
    }
}

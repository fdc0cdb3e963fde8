package io.kdefer.timer;

import io.kdefer.Kernel;
import io.kdefer.KernelCheck;
import io.kdefer.internal.Secrets;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.TestKernels;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link KernelCheck} on the timer wheels: a pending bit that disagrees with its bucket and a timer
 * in a bucket of a wheel that does not own it are reported, so the check that runs after every
 * test cannot pass everything. Each corruption is made under the wheel's lock and undone before
 * the kernel closes. Spec §6.3 (the wheel's buckets and pending bitmap).
 */
class TimerWheelInvariantsTest {
    /** A test body given a one-CPU kernel and a timer armed on CPU 0, 10 jiffies ahead. */
    private interface Body {
        void run(Kernel k, KernelTimer t);
    }

    /** Runs {@code body}, then deletes the timer and closes the kernel; fails on a reported error. */
    private static void withArmedTimer(Body body) {
        CollectingErrors errors = new CollectingErrors();
        try (Kernel k = TestKernels.start(TestKernels.manual(1, errors))) {
            KernelTimer t = KernelTimer.setup(k, self -> { });
            t.addOn(0, k.jiffies() + 10);
            body.run(k, t);
            assertThat(KernelCheck.violations(k, false)).isEmpty();
            assertThat(t.delete()).isTrue();
        }
        errors.assertNone();
    }

    @Test
    void aPendingBitThatDisagreesWithItsBucketIsReported() {
        withArmedTimer((k, t) -> {
            TimerWheel w = TimerEngine.of(Secrets.runtime(k)).wheel(0, false);
            assertThat(KernelCheck.violations(k, false)).isEmpty();

            int idx = t.indexPlain();
            int empty = (idx & ~(int) TimerWheel.LVL_MASK) | ((idx + 1) & (int) TimerWheel.LVL_MASK);
            flip(w, idx);
            flip(w, empty);
            assertThat(KernelCheck.violations(k, false)).containsExactlyInAnyOrder(
                    "cpu 0's timer wheel bucket " + idx + " (level 0): non-empty with its pending bit clear"
                            + " (rule: the pending bitmap matches the non-empty buckets)",
                    "cpu 0's timer wheel bucket " + empty + " (level 0): empty with its pending bit set"
                            + " (rule: the pending bitmap matches the non-empty buckets)");
            flip(w, idx);
            flip(w, empty);
        });
    }

    @Test
    void aTimerInAnotherWheelsBucketIsReported() {
        withArmedTimer((k, t) -> {
            TimerWheel other = TimerEngine.of(Secrets.runtime(k)).wheel(0, true);
            int idx = t.indexPlain();
            other.lock();
            other.heads[idx] = t;                                // the corruption
            other.pendingMap[0] |= 1L << idx;
            other.unlock();
            assertThat(KernelCheck.violations(k, false)).anySatisfy(v -> assertThat(v)
                    .contains("in cpu 0's deferrable timer wheel bucket " + idx + ": its base is another wheel")
                    .contains("rule: every timer in a bucket points back to that wheel"));
            other.lock();
            other.heads[idx] = null;
            other.pendingMap[0] &= ~(1L << idx);
            other.unlock();
        });
    }

    private static void flip(TimerWheel w, int idx) {
        w.lock();
        try {
            w.pendingMap[idx >>> TimerWheel.LVL_BITS] ^= 1L << (idx & TimerWheel.LVL_MASK);
        } finally {
            w.unlock();
        }
    }
}

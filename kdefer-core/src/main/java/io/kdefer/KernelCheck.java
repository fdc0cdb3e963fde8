package io.kdefer;

import io.kdefer.internal.Invariants;
import io.kdefer.internal.Secrets;

import java.util.List;

/**
 * A self-check of a kernel's internal consistency, for tests and diagnostics: the rules that the
 * kernel's data structures obey between operations. The kdefer-testkit module runs it after every
 * test; applications have no need to call it.
 *
 * <p>Rules checked at any time (under the structures' own locks): each timer wheel's pending
 * bitmap matches its non-empty buckets, and every timer in a bucket points back to that wheel
 * and bucket.
 *
 * <p>Rules checked only when the caller passes {@code quiescent = true}, asserting that no thread
 * uses the kernel meanwhile (every call into it has returned and nothing it queued is still being
 * run; a closed kernel is quiescent): every tasklet on a CPU's list has its scheduled bit set and
 * no tasklet is on two lists or twice on one; and the kernel is quiet: no softirq pending, no
 * bottom-half owner, nothing waiting for a {@code cpu/N} thread, no thread waiting on the
 * kernel's internal wait queue, every kdefer thread idle or ended.
 *
 * <p>Caveats: with {@code quiescent = true} on a kernel that is still settling (a
 * {@code ksoftirqd/N} finishing a run started before the caller's last call returned), the quiet
 * rules can report a state that passes a moment later; a caller that cannot know when its kernel
 * has settled may repeat the check, with a bound. A broken structural rule does not go away.
 */
public final class KernelCheck {
    private KernelCheck() {
    }

    /**
     * The broken rules of {@code kernel}, one message each, naming the object and the rule; an
     * empty list when every checked rule holds.
     *
     * @param kernel    the kernel to check, open or closed
     * @param quiescent the caller asserts that no thread uses the kernel meanwhile (see the class
     *                  comment); false checks only the rules that hold at any time
     */
    public static List<String> violations(Kernel kernel, boolean quiescent) {
        return List.copyOf(Invariants.check(Secrets.runtime(kernel), quiescent));
    }
}

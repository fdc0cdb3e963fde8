package io.kdefer;

import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.TaskSleep;

/**
 * {@code schedule_timeout()}: an on-stack timer that wakes the sleeping task. The sleep itself
 * (the timer, the park, the interrupt rules and the {@code SleepHooks} calls) is
 * {@link TaskSleep}, shared with the wait queues and completions.
 */
final class Sleeps {
    private Sleeps() {
    }

    static long scheduleTimeout(Kernel kernel, KernelRuntime rt, long timeout, boolean interruptible) {
        TaskSleep.mightSleep(rt, "schedule_timeout()", null);
        if (timeout < 0) {
            throw new IllegalArgumentException("schedule_timeout(" + timeout + "): negative timeout");
        }
        TaskSleep sleep = new TaskSleep(kernel, interruptible);
        try {
            sleep.armTimeout(kernel, timeout);
            while (!sleep.timedOut() && !sleep.interruptPending()) {
                sleep.park();
            }
        } finally {
            sleep.finish();
        }
        return sleep.jiffiesLeft();
    }
}

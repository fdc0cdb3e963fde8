package io.kdefer;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.timer.KernelTimer;

import java.util.concurrent.locks.LockSupport;

/** {@code schedule_timeout()}: an on-stack timer that wakes the sleeping task. */
final class Sleeps {
    private Sleeps() {
    }

    static long scheduleTimeout(Kernel kernel, KernelRuntime rt, long timeout, boolean interruptible) {
        CpuContext ctx = rt.context();
        if (!ctx.inTask() || ctx.inSoftirq()) {
            throw new IllegalStateException("schedule_timeout() sleeps: not allowed in atomic context"
                    + " (preempt_count " + ctx.countHex() + ")");
        }
        if (timeout < 0) {
            throw new IllegalArgumentException("schedule_timeout(" + timeout + "): negative timeout");
        }
        final Thread sleeper = Thread.currentThread();
        if (timeout == Jiffies.MAX_SCHEDULE_TIMEOUT) {
            while (!(interruptible && Thread.currentThread().isInterrupted())) {
                LockSupport.park(kernel);
            }
            return timeout;
        }
        final boolean[] fired = new boolean[1];
        final long expire = kernel.jiffies() + timeout;
        KernelTimer timer = KernelTimer.setup(kernel, t -> {
            synchronized (fired) {
                fired[0] = true;
            }
            LockSupport.unpark(sleeper);
        });
        timer.mod(expire);
        try {
            for (;;) {
                synchronized (fired) {
                    if (fired[0]) {
                        break;
                    }
                }
                if (interruptible && Thread.currentThread().isInterrupted()) {
                    break;
                }
                LockSupport.park(kernel);
            }
        } finally {
            timer.deleteSync();
        }
        long left = expire - kernel.jiffies();
        return left < 0 ? 0 : left;
    }
}

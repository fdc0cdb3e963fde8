/**
 * kdefer: the Linux kernel's deferred-work mechanisms on the JVM, with the kernel's semantics.
 * Only the API packages are exported; {@code io.kdefer.internal} is not.
 */
module io.kdefer.core {
    exports io.kdefer;
    exports io.kdefer.softirq;
    exports io.kdefer.tasklet;
    exports io.kdefer.timer;
    exports io.kdefer.irq;
    exports io.kdefer.wait;
    exports io.kdefer.workqueue;
    exports io.kdefer.legacy;
}

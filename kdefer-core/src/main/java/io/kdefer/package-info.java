/**
 * kdefer: the Linux kernel's deferred-work mechanisms on the JVM, with the kernel's semantics.
 *
 * <p>{@link io.kdefer.Kernel} owns N virtual CPUs; each has an interrupt-context thread
 * {@code cpu/N} and a {@code ksoftirqd/N}. Softirqs ({@link io.kdefer.softirq}) and tasklets
 * ({@link io.kdefer.tasklet}) run on them with the kernel's rules: per-CPU, in softirq context,
 * with the 10-pass / 2 ms budget and the hand-off to {@code ksoftirqd}.
 *
 * <h2>Memory consistency properties</h2>
 * Each edge below is a happens-before relation, tested by the named jcstress case in
 * {@code kdefer-jcstress}:
 * <ul>
 *   <li>Actions in a thread before {@code softirqs.raise(v)} happen-before the start of the run of
 *       {@code v}'s action that the raise causes (the pending mask is an atomic word; the
 *       runner takes it with an atomic exchange) ({@code SoftirqRaisePublishesPriorWritesTest}); a
 *       raise racing the release of the CPU's bottom halves is never stranded
 *       ({@code SoftirqRaiseRacingBhReleaseTest}).</li>
 *   <li>Actions in a thread before a {@code tasklet.schedule()} that returns {@code true} happen-before
 *       the start of the callback run it queued ({@code TaskletSchedulePublishesPriorWritesTest}).</li>
 *   <li>The end of a tasklet callback run happens-before the return of a {@code tasklet.disable()},
 *       {@code tasklet.unlockWait()} or {@code tasklet.kill()} that waited for it
 *       ({@code TaskletDisableWaitsForRunTest}).</li>
 *   <li>The end of one run of a tasklet happens-before the start of its next run, on whichever CPU
 *       ({@code TaskletNoConcurrentRunTest}).</li>
 *   <li>Actions before {@code kernel.smpCallFunctionSingle(cpu, fn, wait)} happen-before {@code fn};
 *       with {@code wait}, the end of {@code fn} and of the softirqs run at its irq exit happen-before
 *       the call's return ({@code SmpCallFunctionSinglePublishesBothWaysTest}).</li>
 *   <li>Actions before a {@code timer.add/mod} that arms the timer happen-before its callback
 *       ({@code TimerArmPublishesPriorWritesTest}); a {@code mod()} that finds the timer pending at
 *       the same expiry publishes only writes ordered before it by a volatile write
 *       ({@code TimerModCoalescedPlainTest}, {@code TimerModCoalescedVolatileTest}). The end of a
 *       callback run happens-before the return of a {@code deleteSync()} that waited for it
 *       ({@code TimerDeleteSyncWaitsForCallbackTest}).</li>
 *   <li>Everything a kernel ran happens-before the return of {@code kernel.close()}.</li>
 * </ul>
 * A wake-up of an idle kdefer thread is never lost ({@code ParkerNoLostWakeupTest}), nor is a wake-up of
 * a thread waiting inside the kernel for a tasklet, a timer or an interrupt line to finish
 * ({@code WaitQueueNoLostWakeupTest}), and an idle {@code cpu/N} never sleeps past a timer armed as
 * its wheel's earliest ({@code TimerArmWakesIdleCpuTest}). A call racing {@code kernel.close()} is
 * refused or served ({@code io.kdefer.jcstress.close}). Completions and wait-queue heads list their
 * edges in {@link io.kdefer.wait}. The full list is the package doc of {@code kdefer-jcstress}.
 */
package io.kdefer;

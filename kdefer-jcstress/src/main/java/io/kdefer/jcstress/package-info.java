/**
 * jcstress litmus tests: one class per ordering contract of {@code kdefer-core}. Each contract is
 * stated as a litmus test ({@code T0: ... T1: ... Forbidden: ...}) in the javadoc of the code that
 * provides it, which names the test; the test's own javadoc repeats the litmus and says how a
 * broken core makes it fail.
 *
 * <p>Run one: {@code java -jar kdefer-jcstress/target/jcstress.jar -m quick -t TestName}.
 * {@code mvn verify} runs all of them in sanity mode.
 *
 * <h2>Contracts and where they are documented</h2>
 * Softirqs and hardirq calls:
 * <ul>
 *   <li>{@code SoftirqRaisePublishesPriorWritesTest}: writes before {@code softirqs.raise(v)} are
 *       visible to the action run it causes ({@code Softirqs}, {@code Cpu} "Memory ordering").</li>
 *   <li>{@code SoftirqRaiseRacingBhReleaseTest}: a vector raised by a hardirq while another thread
 *       releases the CPU's bottom halves is never stranded ({@code Cpu} "Memory ordering",
 *       {@code Cpu.unlockBh}).</li>
 *   <li>{@code SmpCallFunctionSinglePublishesBothWaysTest}: {@code smpCallFunctionSingle(cpu, fn, true)}
 *       publishes the caller's writes to {@code fn} and {@code fn}'s writes to the caller
 *       ({@code Kernel.smpCallFunctionSingle}).</li>
 * </ul>
 * Idle and wake-up:
 * <ul>
 *   <li>{@code ParkerNoLostWakeupTest}: a wake-up of a kdefer thread going idle is never lost
 *       ({@code internal.Parker}, class doc).</li>
 *   <li>{@code JiffiesTickNoLostWakeupTest}: a softirq loop that relies on the tick thread's copy of
 *       {@code jiffies} never leaves it asleep ({@code internal.JiffiesTick}, class doc).</li>
 *   <li>{@code TimerArmWakesIdleCpuTest}: arming a wheel's new earliest timer wakes an idle
 *       {@code cpu/N}, so it never sleeps past the expiry ({@code TimerWheel.publishNextExpiry},
 *       {@code TimerEngine.kick}).</li>
 * </ul>
 * Tasklets:
 * <ul>
 *   <li>{@code TaskletSchedulePublishesPriorWritesTest}: a {@code schedule()} that returns true
 *       publishes the caller's writes to the run ({@code Tasklet.schedule}).</li>
 *   <li>{@code TaskletCoalescedSchedulePlainTest}: a coalesced {@code schedule()} (false) does not
 *       publish plain writes; documented deviation ({@code Tasklet} "Not guaranteed",
 *       {@code docs/deviations.md}).</li>
 *   <li>{@code TaskletCoalescedScheduleVolatileTest}: the run after a coalesced {@code schedule()}
 *       sees the caller's volatile writes ({@code Tasklet} "Not guaranteed").</li>
 *   <li>{@code TaskletConcurrentScheduleTest}: concurrent schedules queue exactly one run per
 *       {@code true} ({@code Tasklet} "Guarantees", state table).</li>
 *   <li>{@code TaskletScheduleRacingRunEndTest}: a schedule racing the end of a run is never lost
 *       ({@code Tasklet} "Re-run", state table).</li>
 *   <li>{@code TaskletNoConcurrentRunTest}: a tasklet never runs on two threads at once
 *       ({@code Tasklet} "Self-serialisation", {@code TaskletEngine}).</li>
 *   <li>{@code TaskletDisableWaitsForRunTest}: {@code disable()} waits for a running callback, no run
 *       starts until {@code enable()}, the last run's writes are visible ({@code Tasklet.disable}).</li>
 * </ul>
 * Timers ({@code io.kdefer.jcstress.timer}):
 * <ul>
 *   <li>{@code TimerArmPublishesPriorWritesTest}: writes before the {@code mod()} that arms a timer
 *       are visible to its callback ({@code KernelTimer} "Ordering", {@code KernelTimer.mod}).</li>
 *   <li>{@code TimerModCoalescedPlainTest}: a {@code mod()} that finds the timer pending at the same
 *       expiry does not publish plain writes; documented ({@code KernelTimer.mod},
 *       {@code docs/deviations.md}).</li>
 *   <li>{@code TimerModCoalescedVolatileTest}: the run after such a {@code mod()} sees the caller's
 *       volatile writes ({@code KernelTimer.mod}, the fence in {@code TimerEngine.expireTimers}).</li>
 *   <li>{@code TimerModRacingExpiryTest}: {@code mod()} racing the expiry neither loses an arming
 *       nor runs one twice ({@code KernelTimer.mod}).</li>
 *   <li>{@code TimerDeleteSyncWaitsForCallbackTest}: {@code deleteSync()} returns after the running
 *       callback, whose writes are visible ({@code KernelTimer.deleteSync}).</li>
 * </ul>
 * Interrupt lines ({@code io.kdefer.jcstress.irq}):
 * <ul>
 *   <li>{@code IrqRaisePublishesPriorWritesTest}: writes before {@code irqs.raise()} are visible to
 *       the primary handler ({@code docs/design/threaded-irq.md} "Memory ordering").</li>
 *   <li>{@code IrqWakeThreadPublishesWritesTest}: the thread function sees the raiser's and the
 *       primary handler's writes ({@code IrqReturn.WAKE_THREAD}, {@code IrqAction}).</li>
 *   <li>{@code IrqSynchronizeWaitsForHandlersTest}: {@code synchronizeIrq()} waits for running and
 *       woken handlers, whose writes are visible ({@code Irqs.synchronizeIrq}).</li>
 *   <li>{@code IrqDisableWaitsForHandlersTest}: {@code disableIrq()} waits, holds interrupts until
 *       {@code enableIrq()}, and delivers them once after ({@code Irqs.disableIrq}).</li>
 * </ul>
 * Workqueues ({@code io.kdefer.jcstress.workqueue}; each test's javadoc also says which broken
 * core it was seen to fail on):
 * <ul>
 *   <li>{@code WorkqueueQueuePublishesPriorWritesTest}: a {@code queue()} that returns true
 *       publishes the caller's writes to the run it queued, also when the item is running
 *       ({@code Workqueue.queue}, {@code Work} "Memory ordering").</li>
 *   <li>{@code WorkqueueFailedQueuePublishesTest}: a {@code queue()} that returns false because the
 *       item is pending is seen by that pending run, plain writes included: the failed call is a
 *       full-fence RMW, and so is the worker's clear of PENDING ({@code Work} "Memory ordering",
 *       {@code Work.testAndSetPending}, {@code Work.clearPending}).</li>
 *   <li>{@code WorkqueueConcurrentQueueTest}: two concurrent {@code queue()} calls on an idle item:
 *       exactly one returns true, one run ({@code Workqueue.queueOn}).</li>
 *   <li>{@code WorkqueueQueueDuringRunTest}: a {@code queue()} during a run re-runs the item exactly
 *       once ({@code Work} state machine: PENDING cleared before the function).</li>
 *   <li>{@code WorkCancelSyncWaitsForRunTest}: when {@code cancelSync()} returns the item is
 *       neither pending nor running, its last run's writes are visible, and no run follows
 *       ({@code Work.cancelSync}).</li>
 *   <li>{@code WorkqueueNoConcurrentRunTest}: an item queued from CPU 0 and CPU 1 on a per-CPU queue
 *       never runs on two workers at once ({@code Work} class doc, {@code Workqueue.queueAdmitted}).</li>
 *   <li>{@code WorkqueueFlushWaitsForQueuedTest}: when {@code flush()} returns, every item queued
 *       before it has run and its writes are visible, inactive items included
 *       ({@code Workqueue.flush}).</li>
 * </ul>
 * Historical mechanisms ({@code io.kdefer.jcstress.legacy}):
 * <ul>
 *   <li>{@code TaskQueueRequeueNotLostTest}: {@code run_task_queue} clears a task's sync bit before
 *       calling it, so a {@code queueTask} racing the run lands in this run or the next, never lost,
 *       and the run sees the queuer's writes ({@code legacy.TaskQueue} "Protocol and ordering").</li>
 * </ul>
 * Kernel close ({@code io.kdefer.jcstress.close}): a call racing {@code close()} is refused or
 * served, never accepted and lost (the entry protocol of {@code io.kdefer.internal.Lifecycle},
 * {@code docs/design/close.md}, {@code Kernel.close}):
 * <ul>
 *   <li>{@code CloseRacingTaskletScheduleTest}: {@code Tasklet.schedule()} ({@code Tasklet.schedule}).</li>
 *   <li>{@code CloseRacingTaskletHiScheduleTest}: {@code Tasklet.hiSchedule()}.</li>
 *   <li>{@code CloseRacingTimerModTest}: {@code KernelTimer.mod()} (the wheel lock as entry section).</li>
 *   <li>{@code CloseRacingTimerAddOnTest}: {@code KernelTimer.addOn()} across CPUs (migration section).</li>
 *   <li>{@code CloseRacingSmpCallTest}: {@code smpCallFunctionSingle(cpu, fn, false)}.</li>
 *   <li>{@code CloseRacingSmpCallWaitTest}: {@code smpCallFunctionSingle(cpu, fn, true)}, which also never hangs.</li>
 *   <li>{@code CloseRacingIrqRaiseTest}: {@code Irqs.raise()}.</li>
 *   <li>{@code CloseRacingSoftirqRaiseTest}: {@code Softirqs.raise()}.</li>
 *   <li>{@code CloseRacingWorkOnCpuTest}: {@code Kernel.runOnCpu()}.</li>
 * </ul>
 *
 * <h2>Helpers</h2>
 * {@code TestKernel} (one shared two-CPU kernel per test JVM), {@code Await} (bounded waits that
 * report a TIMEOUT outcome), {@code irq.IrqKernel}, {@code timer.TimerKernel} (a manual-clock
 * kernel), {@code close.FreshKernel} (a kernel per state), {@code workqueue.WqKernel} (one
 * two-CPU kernel per test JVM, closed at exit, with a per-CPU workqueue, the BH queue, and the
 * actors' rendezvous).
 */
package io.kdefer.jcstress;

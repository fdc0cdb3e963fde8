/**
 * Completions and wait-queue heads: the kernel's ways for a task to sleep until something happens
 * ({@code kernel/sched/completion.c}, {@code include/linux/wait.h}).
 *
 * <ul>
 *   <li>{@link io.kdefer.wait.Completion}: a counted "done" event; {@code complete()} releases one
 *       waiter (FIFO), {@code completeAll()} every current and future one.</li>
 *   <li>{@link io.kdefer.wait.WaitQueueHead}: sleep until a condition of the caller's holds;
 *       {@code wakeUp()} makes the sleepers re-check it.</li>
 * </ul>
 * Waits run in task context only (they throw {@link java.lang.IllegalStateException} in hardirq or
 * softirq context or with bottom halves disabled), take their timeouts from the kernel's timer
 * wheel, and tell the waiting thread's worker pool that it sleeps and wakes
 * ({@code wq_worker_sleeping} / {@code wq_worker_running}). Waking works in any context.
 *
 * <h2>Memory consistency properties</h2>
 * <ul>
 *   <li>Actions before {@code complete()} or {@code completeAll()} happen-before the return of every
 *       wait (or successful {@code tryWaitForCompletion()}) that it released.</li>
 *   <li>Actions before {@code wakeUp()} or {@code wakeUpAll()} happen-before the next evaluation of
 *       the condition by each waiter it woke, and a waiter that registered before the wake-up is
 *       always woken: no lost wake-ups.</li>
 * </ul>
 *
 * <p>See {@code docs/design/wait.md} for the long form.
 */
package io.kdefer.wait;

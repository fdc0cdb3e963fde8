/**
 * The historical deferral mechanisms, for the experiments and for completeness: the 32 global
 * bottom halves of Linux 1.x–2.4 (as 2.4 layered them on HI tasklets), the task queues of 2.0–2.4
 * ({@code tq_timer}, {@code tq_immediate}, {@code tq_scheduler}/{@code tq_context}),
 * {@code keventd} and {@code schedule_task} (2.4), and the workqueue of 2.6.0–2.6.35 (one
 * dedicated thread per CPU per queue, no concurrency management).
 *
 * <p>Every kernel has them: {@code kernel.bottomHalves()}, {@code kernel.taskQueue(TaskQueue.TIMER)},
 * {@code kernel.keventd()}, {@code kernel.createClassicWorkqueue(name, singleThread)},
 * {@code kernel.classicEvents()}. See {@code docs/design/legacy.md}.
 */
package io.kdefer.legacy;

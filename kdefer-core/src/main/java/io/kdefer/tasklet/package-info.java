/**
 * Tasklets: per-CPU, self-serialising, schedule-once callbacks run by the HI and TASKLET softirq
 * vectors. Both the callback API ({@code tasklet_setup}) and the legacy {@code data} API
 * ({@code tasklet_init}).
 *
 * <p>See {@code docs/design/tasklet.md} for the long form.
 */
package io.kdefer.tasklet;

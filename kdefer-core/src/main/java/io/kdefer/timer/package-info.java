/**
 * Kernel timers: per-CPU hierarchical timer wheels with the kernel's geometry (64 buckets per
 * level, each level 8x coarser, no cascading), expired in TIMER_SOFTIRQ on the owning CPU.
 *
 * <p>See {@code docs/design/timer-wheel.md} for the long form.
 */
package io.kdefer.timer;

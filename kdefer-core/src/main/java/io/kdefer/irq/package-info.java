/**
 * Interrupt lines: hardirq handlers, threaded handlers ({@code irq/N-name}), ONESHOT, shared lines,
 * affinity, forced threading and spurious-interrupt detection ({@code kernel/irq/}). Start at
 * {@link io.kdefer.irq.Irqs}, from {@code kernel.irqs()}.
 */
package io.kdefer.irq;

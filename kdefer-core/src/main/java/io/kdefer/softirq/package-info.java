/**
 * Softirqs: ten fixed vectors, raised per CPU and served by the softirq loop with the kernel's
 * restart budget (10 passes or 2 ms) and the per-CPU {@code ksoftirqd} thread.
 *
 * <p>See {@code docs/design/softirq.md} for the long form.
 */
package io.kdefer.softirq;

/**
 * Concurrency-managed workqueues ({@code kernel/workqueue.c}): {@link io.kdefer.workqueue.Work},
 * {@link io.kdefer.workqueue.DelayedWork}, {@link io.kdefer.workqueue.Workqueue} and the worker
 * pools behind them, with the kernel's guarantees: an item is pending at most once, never runs on
 * two workers at once, and a pool keeps exactly one worker running while there is work, waking
 * another when the running one sleeps in a kdefer blocking call. BH workqueues run their items in
 * softirq context, ahead of the tasklets of the same vector. See {@code docs/design/workqueue.md}.
 */
package io.kdefer.workqueue;

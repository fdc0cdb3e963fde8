package io.kdefer.internal;

/**
 * What the owner of a thread learns when that thread sleeps in a kdefer blocking helper and when
 * it wakes: the scheduler hooks of concurrency-managed workqueues, {@code wq_worker_sleeping()}
 * and {@code wq_worker_running()} ({@code kernel/workqueue.c}, called from {@code schedule()} and
 * from the wake-up path). A worker pool counts its running workers with them and wakes an idle
 * worker when the last running one blocks.
 *
 * <p>Every kdefer blocking helper ({@link WaitQueue#await}, {@link TaskSleep}, and through it
 * {@code schedule_timeout}, {@code msleep}, the completions and the wait-queue heads) calls
 * {@link #sleeping} once just before the calling thread parks for the first time in that call,
 * and {@link #running} once when the call is about to return, after its last park. The calls come
 * in pairs and never nest; a call that returns without parking (its condition already held)
 * calls neither. Spurious returns from a park within one call do not produce extra pairs: the
 * thread only re-checks its condition before parking again, and runs no work item meanwhile.
 *
 * <p>Both methods run on the sleeping thread itself, outside any kdefer lock. They must be quick,
 * must not throw, and must not block in a kdefer helper.
 *
 * <p>Installing: a kdefer thread ({@link KThread}) carries its hooks in a field, set by its owner
 * before {@code start()} ({@link KThread#setSleepHooks}); any other thread installs hooks for
 * itself with {@link TaskSleep#setHooks}. A thread without hooks pays a type check and one
 * volatile read per blocking call ({@link TaskSleep#hooks}).
 */
public interface SleepHooks {
    /** {@code wq_worker_sleeping()}: {@code thread} is about to park. */
    void sleeping(Thread thread);

    /** {@code wq_worker_running()}: {@code thread} woke and is about to return to its caller. */
    void running(Thread thread);
}

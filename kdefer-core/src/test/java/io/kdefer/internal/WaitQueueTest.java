package io.kdefer.internal;

import io.kdefer.testkit.Waits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The hashed {@link WaitQueue} ({@code bit_waitqueue()}): a waker looks only at its key's bucket and
 * takes no lock while that bucket has no waiter; waiters on different keys never wake each other,
 * in different buckets or in the same one. Checked through the buckets' counters, not timing. No
 * spec §10 item: the queue is the machinery behind items 43-45 (tasklet kill/disable), 123 and 125
 * (timer_delete_sync) and the interrupt-line waits.
 */
class WaitQueueTest {
    private final List<Thread> threads = new ArrayList<>();

    @AfterEach
    void joinAll() throws InterruptedException {
        for (Thread t : threads) {
            Waits.join(t);
        }
    }

    /** A thread waiting on {@code key} in {@code q} until {@code flag} is set; parked when this returns. */
    private Thread waiter(WaitQueue q, Object key, AtomicBoolean flag, AtomicReference<Boolean> interruptedAtReturn) {
        Thread t = new Thread(() -> {
            q.await(key, flag::get);
            interruptedAtReturn.set(Thread.currentThread().isInterrupted());
        }, "waiter");
        t.setDaemon(true);
        threads.add(t);
        t.start();
        Waits.spinUntil(() -> t.getState() == Thread.State.WAITING && LockSupport.getBlocker(t) == q,
                "the waiter parked on the queue");
        return t;
    }

    private Thread waiter(WaitQueue q, Object key, AtomicBoolean flag) {
        return waiter(q, key, flag, new AtomicReference<>());
    }

    /** A key that hashes to bucket {@code index} of {@code q}, or not to it when {@code same} is false. */
    private static Object keyIn(WaitQueue q, int index, boolean same) {
        for (;;) {
            Object k = new Object();
            if ((q.bucketIndex(k) == index) == same) {
                return k;
            }
        }
    }

    /** Without any waiter, waking costs one volatile read: no bucket lock is taken. */
    @Test
    void wakeWithoutWaitersTakesNoLock() {
        WaitQueue q = new WaitQueue();
        for (int i = 0; i < 1000; i++) {
            q.wakeAll(new Object());
        }
        assertThat(q.lockedWakes()).isZero();
        assertThat(q.waiters()).isZero();
    }

    /**
     * A waiter in one bucket costs nothing to a waker whose key hashes elsewhere (no lock, nobody
     * unparked); a waker of another key of the same bucket takes that bucket's lock but unparks
     * nobody; only a wake of the waiter's own key unparks it.
     */
    @Test
    void wakerLooksOnlyAtItsKeysBucket() throws InterruptedException {
        WaitQueue q = new WaitQueue();
        Object key = new Object();
        int bucket = q.bucketIndex(key);
        AtomicBoolean flag = new AtomicBoolean();
        Thread t = waiter(q, key, flag);
        assertThat(q.bucketWaiters(key)).isEqualTo(1);
        assertThat(q.waiters()).isEqualTo(1);

        Object elsewhere = keyIn(q, bucket, false);
        assertThat(q.bucketWaiters(elsewhere)).isZero();
        q.wakeAll(elsewhere);
        assertThat(q.lockedWakes()).as("a wake of an empty bucket takes no lock").isZero();
        assertThat(q.unparks()).isZero();

        Object neighbour = keyIn(q, bucket, true);
        q.wakeAll(neighbour);
        assertThat(q.lockedWakes()).as("a wake of the same bucket looks").isEqualTo(1);
        assertThat(q.unparks()).as("but unparks only its own key's waiters").isZero();

        flag.set(true);
        q.wakeAll(key);
        assertThat(q.unparks()).isEqualTo(1);
        Waits.join(t);
        assertThat(q.waiters()).isZero();
        assertThat(q.bucketWaiters(key)).isZero();
    }

    /**
     * Waiters on different keys that share a bucket (one bucket for all) are told apart: a wake of
     * one key unparks only its waiter and the other keeps waiting.
     */
    @Test
    void waitersOnDifferentKeysInOneBucketDoNotWakeEachOther() throws InterruptedException {
        WaitQueue q = new WaitQueue(1);
        Object a = new Object();
        Object b = new Object();
        AtomicBoolean aDone = new AtomicBoolean();
        AtomicBoolean bDone = new AtomicBoolean();
        Thread ta = waiter(q, a, aDone);
        Thread tb = waiter(q, b, bDone);
        assertThat(q.bucketWaiters(a)).isEqualTo(2);

        aDone.set(true);
        q.wakeAll(a);
        Waits.join(ta);
        assertThat(q.unparks()).as("only a's waiter").isEqualTo(1);
        assertThat(tb.isAlive()).isTrue();
        assertThat(q.waiters()).isEqualTo(1);

        bDone.set(true);
        q.wakeAll(b);
        Waits.join(tb);
        assertThat(q.unparks()).isEqualTo(2);
        assertThat(q.waiters()).isZero();
    }

    /** Waiters on different keys in different buckets: each wake reaches its own waiter only. */
    @Test
    void waitersInDifferentBucketsAreWokenSeparately() throws InterruptedException {
        WaitQueue q = new WaitQueue();
        Object a = new Object();
        Object b = keyIn(q, q.bucketIndex(a), false);
        AtomicBoolean aDone = new AtomicBoolean();
        AtomicBoolean bDone = new AtomicBoolean();
        Thread ta = waiter(q, a, aDone);
        Thread tb = waiter(q, b, bDone);
        assertThat(q.bucketWaiters(a)).isEqualTo(1);
        assertThat(q.bucketWaiters(b)).isEqualTo(1);

        bDone.set(true);
        q.wakeAll(b);
        Waits.join(tb);
        assertThat(q.lockedWakes()).isEqualTo(1);
        assertThat(q.unparks()).isEqualTo(1);
        assertThat(ta.isAlive()).isTrue();

        aDone.set(true);
        q.wakeAll(a);
        Waits.join(ta);
        assertThat(q.unparks()).isEqualTo(2);
    }

    /** A condition already true returns at once, without registering. */
    @Test
    void trueConditionDoesNotRegister() {
        WaitQueue q = new WaitQueue();
        q.await(this, () -> true);
        assertThat(q.waiters()).isZero();
    }

    /** Waits are uninterruptible: the interrupt is swallowed while waiting and re-asserted on return. */
    @Test
    void interruptIsReassertedOnReturn() throws InterruptedException {
        WaitQueue q = new WaitQueue();
        Object key = new Object();
        AtomicBoolean flag = new AtomicBoolean();
        AtomicReference<Boolean> interrupted = new AtomicReference<>();
        Thread t = waiter(q, key, flag, interrupted);
        t.interrupt();
        Waits.spinUntil(() -> t.getState() == Thread.State.WAITING && !t.isInterrupted(),
                "the waiter swallowed the interrupt and parked again");
        assertThat(q.waiters()).isEqualTo(1);
        flag.set(true);
        q.wakeAll(key);
        Waits.join(t);
        assertThat(interrupted.get()).isTrue();
    }

    /** The bucket count is a power of two. */
    @Test
    void bucketCountMustBeAPowerOfTwo() {
        assertThatThrownBy(() -> new WaitQueue(3)).isInstanceOf(IllegalArgumentException.class);
        assertThat(WaitQueue.BUCKETS & (WaitQueue.BUCKETS - 1)).isZero();
        WaitQueue q = new WaitQueue();
        for (int i = 0; i < 100; i++) {
            assertThat(q.bucketIndex(new Object())).isBetween(0, WaitQueue.BUCKETS - 1);
        }
    }
}

package io.kdefer.workqueue;

/**
 * An intrusive doubly-linked list of work items ({@code struct list_head}): a pool's worklist, a
 * pwq's inactive list, a worker's scheduled list. Linking and unlinking allocate nothing and take
 * O(1); an item is on at most one list, which it names in {@link Work#list}.
 *
 * <p>Guarded by the lock of the pool the list belongs to ({@code L}): every method runs with it held.
 */
final class WorkList {
    final String name;   // F: for diagnostics ("cpu 0 worklist", ...)
    Work head;           // L
    Work tail;           // L
    int size;            // L

    WorkList(String name) {
        this.name = name;
    }

    boolean isEmpty() {
        return head == null;
    }

    Work first() {
        return head;
    }

    /** {@code list_add_tail}. */
    void addLast(Work w) {
        insertBefore(w, null);
    }

    /** {@code list_add}: at the head. */
    void addFirst(Work w) {
        insertBefore(w, head);
    }

    /** Inserts {@code w} before {@code at} (null: at the tail). {@code at} must be on this list. */
    void insertBefore(Work w, Work at) {
        if (w.list != null) {
            throw new IllegalStateException(w + " is already on " + w.list.name);
        }
        w.list = this;
        if (at == null) {
            w.prev = tail;
            w.next = null;
            if (tail == null) {
                head = w;
            } else {
                tail.next = w;
            }
            tail = w;
        } else {
            w.next = at;
            w.prev = at.prev;
            if (at.prev == null) {
                head = w;
            } else {
                at.prev.next = w;
            }
            at.prev = w;
        }
        size++;
    }

    /** {@code list_del_init}. {@code w} must be on this list. */
    void remove(Work w) {
        if (w.prev == null) {
            head = w.next;
        } else {
            w.prev.next = w.next;
        }
        if (w.next == null) {
            tail = w.prev;
        } else {
            w.next.prev = w.prev;
        }
        w.next = null;
        w.prev = null;
        w.list = null;
        size--;
    }

    /**
     * {@code move_linked_works}: moves {@code w} to the tail of {@code to}, and with it every item
     * that follows it while the item before is LINKED (the flush barriers attached to it). Returns
     * the item after the moved run (on this list), or null.
     */
    Work moveLinked(Work w, WorkList to) {
        for (;;) {
            Work next = w.next;
            boolean linked = w.linked();
            remove(w);
            to.addLast(w);
            if (!linked || next == null) {
                return next;
            }
            w = next;
        }
    }
}

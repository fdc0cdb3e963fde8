package io.kdefer.workqueue;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.TimeUnit;

/** Placeholder: the ExecutorService view of a workqueue (being written). */
class WorkqueueExecutorService extends AbstractExecutorService {
    final Workqueue wq;

    WorkqueueExecutorService(Workqueue wq) {
        this.wq = wq;
    }

    @Override
    public void shutdown() {
        throw new UnsupportedOperationException("not yet");
    }

    @Override
    public List<Runnable> shutdownNow() {
        throw new UnsupportedOperationException("not yet");
    }

    @Override
    public boolean isShutdown() {
        throw new UnsupportedOperationException("not yet");
    }

    @Override
    public boolean isTerminated() {
        throw new UnsupportedOperationException("not yet");
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        throw new UnsupportedOperationException("not yet");
    }

    @Override
    public void execute(Runnable command) {
        wq.execute(command);
    }
}

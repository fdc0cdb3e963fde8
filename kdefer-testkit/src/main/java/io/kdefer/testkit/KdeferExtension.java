package io.kdefer.testkit;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.lang.reflect.AnnotatedElement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * JUnit 5 extension: a fresh kernel per test, and the kernel's invariant check after each test.
 *
 * <p><b>Parameters.</b> A test (or {@code @BeforeEach}) method may take a {@link Kernel}, its
 * {@link ManualClock} and its {@link CollectingErrors}; all three belong to one kernel per test,
 * built on first use of the kernel or the clock by {@link TestKernels#start} with the CPUs and HZ
 * of the nearest {@link KdeferTest} annotation (method, then class; 2 CPUs and HZ 1000 without
 * one). A test that builds its kernels itself may take the collector alone, and give it to them:
 * its untaken errors fail the test just the same.
 *
 * <p><b>After each test</b> (after the class's {@code @AfterEach} methods), for the test's kernel:
 * the invariant check once the kernel is quiet ({@link KernelInvariants#whenQuiet}), then
 * {@code close()}, then the check again on the closed kernel; the test fails on a broken rule, or
 * if a callback reported an error that the test did not {@link CollectingErrors#take() take} (a
 * test that expects errors takes the collector as a parameter and takes them). Every other kernel
 * recorded by {@link TestKernels#start} or {@link TestKernels#track} since the previous check is
 * checked too, closed or not; those are the test's to close.
 *
 * <p><b>Registration.</b> {@code @KdeferTest}, or {@code @ExtendWith(KdeferExtension.class)}.
 * kdefer-core's own tests get it for every test class through JUnit's extension auto-detection
 * ({@code junit.jupiter.extensions.autodetection.enabled=true} in its
 * {@code junit-platform.properties}, and this class in its
 * {@code META-INF/services/org.junit.jupiter.api.extension.Extension}).
 *
 * <p><b>Caveats.</b> The record of tracked kernels is global: run tests that use this extension
 * one at a time per JVM (JUnit's default), not in parallel.
 */
public final class KdeferExtension implements ParameterResolver, AfterEachCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(KdeferExtension.class);

    /** The error collector of one test and its kernel, built on first use. */
    private static final class Fixture {
        final CollectingErrors errors = new CollectingErrors();
        private final int cpus;
        private final int hz;
        private Kernel kernel;

        Fixture(int cpus, int hz) {
            this.cpus = cpus;
            this.hz = hz;
        }

        Kernel kernel() {
            if (kernel == null) {
                kernel = TestKernels.start(TestKernels.manual(cpus, errors).hz(hz));
            }
            return kernel;
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return context.getTestMethod().isPresent()
                && (type == Kernel.class || type == ManualClock.class || type == CollectingErrors.class);
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Fixture f = fixture(context);
        Class<?> type = parameter.getParameter().getType();
        if (type == Kernel.class) {
            return f.kernel();
        }
        if (type == ManualClock.class) {
            return TestKernels.clock(f.kernel());
        }
        return f.errors;
    }

    private static Fixture fixture(ExtensionContext context) {
        Optional<KdeferTest> config = find(context.getTestMethod().map(m -> (AnnotatedElement) m))
                .or(() -> find(context.getTestClass().map(c -> (AnnotatedElement) c)));
        int cpus = config.map(KdeferTest::cpus).orElse(2);
        int hz = config.map(KdeferTest::hz).orElse(1000);
        return context.getStore(NS).getOrComputeIfAbsent(Fixture.class, k -> new Fixture(cpus, hz), Fixture.class);
    }

    private static Optional<KdeferTest> find(Optional<AnnotatedElement> element) {
        return element.map(e -> e.getAnnotation(KdeferTest.class));
    }

    @Override
    public void afterEach(ExtensionContext context) {
        Fixture f = context.getStore(NS).remove(Fixture.class, Fixture.class);
        List<String> problems = new ArrayList<>();
        List<Throwable> causes = new ArrayList<>();
        for (Kernel k : TestKernels.takeTracked()) {
            if (f == null || k != f.kernel) {
                check(k, problems);
            }
        }
        if (f != null && f.kernel != null) {
            check(f.kernel, problems);
            try {
                f.kernel.close();
            } catch (RuntimeException | Error e) {
                problems.add("close() of the test's kernel failed: " + e);
                causes.add(e);
            }
            check(f.kernel, problems);
        }
        if (f != null) {
            try {
                f.errors.assertNone();
            } catch (AssertionError e) {
                problems.add(e.getMessage());
                causes.addAll(List.of(e.getSuppressed()));
            }
        }
        if (!problems.isEmpty()) {
            AssertionError e = new AssertionError(String.join("\n", problems));
            causes.forEach(e::addSuppressed);
            throw e;
        }
    }

    private static void check(Kernel k, List<String> problems) {
        List<String> v = KernelInvariants.whenQuiet(k);
        if (!v.isEmpty()) {
            problems.add(KernelInvariants.message(k, v));
        }
    }
}

package io.kdefer.testkit;

import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs a test class (or one test method) with {@link KdeferExtension}: each test that takes a
 * {@code Kernel}, {@code ManualClock} or {@link CollectingErrors} parameter gets a fresh kernel
 * on a manual clock, closed after the test. On a method it overrides the class's settings.
 *
 * <pre>{@code
 * @KdeferTest(cpus = 2)
 * class MyHandlerTest {
 *     @Test
 *     void runsOnce(Kernel kernel, ManualClock clock) { ... }
 * }
 * }</pre>
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@ExtendWith(KdeferExtension.class)
public @interface KdeferTest {
    /** Number of CPUs of the test's kernel. */
    int cpus() default 2;

    /** The kernel's HZ. */
    int hz() default 1000;
}

package io.kdefer;

import io.kdefer.internal.KernelRuntime;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Architecture checks on the compiled {@code kdefer-core}: the module exports its API packages
 * and not {@code io.kdefer.internal}, nothing uses {@code sun.misc.Unsafe}, and no exported type shows an
 * {@code io.kdefer.internal} type in its public or protected signatures. STYLE §3.1 "architecture
 * test"; no spec §10 item.
 */
class ModuleBoundaryTest {
    /** API packages that exist from the start; mechanisms added later export their own package too. */
    private static final Set<String> API_BASELINE = Set.of("io.kdefer", "io.kdefer.softirq", "io.kdefer.tasklet");
    private static final String INTERNAL = "io.kdefer.internal";

    private static FileSystem jarFileSystem;   // kept open for the test run when classes come from a jar

    /** The root of kdefer-core's compiled classes: the directory or jar {@link Kernel} was loaded from. */
    private static synchronized Path classesRoot() throws IOException, URISyntaxException {
        Path location = Path.of(Kernel.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        if (Files.isDirectory(location)) {
            return location;
        }
        if (jarFileSystem == null) {
            jarFileSystem = FileSystems.newFileSystem(location, (ClassLoader) null);
        }
        return jarFileSystem.getPath("/");
    }

    /** Every class file of kdefer-core under {@code io/kdefer}. */
    private static List<Path> classFiles() throws Exception {
        Path root = classesRoot();
        try (Stream<Path> s = Files.walk(root.resolve("io").resolve("kdefer"))) {
            return s.filter(p -> p.getFileName().toString().endsWith(".class")).sorted().collect(Collectors.toList());
        }
    }

    private static String className(Path root, Path classFile) {
        String rel = root.relativize(classFile).toString().replace(root.getFileSystem().getSeparator(), ".");
        return rel.substring(0, rel.length() - ".class".length());
    }

    private static String packageOf(String className) {
        return className.substring(0, className.lastIndexOf('.'));
    }

    // ------------------------------------------------------------------ module descriptor

    private static boolean isInternal(String pkg) {
        return pkg.equals(INTERNAL) || pkg.startsWith(INTERNAL + ".");
    }

    /** The packages that hold kdefer-core classes. */
    private static Set<String> packages() throws Exception {
        Path root = classesRoot();
        Set<String> packages = new TreeSet<>();
        for (Path f : classFiles()) {
            packages.add(packageOf(className(root, f)));
        }
        return packages;
    }

    /** The compiled {@code module-info}, with the package list taken from the class files. */
    private static ModuleDescriptor descriptor() throws Exception {
        Set<String> packages = packages();
        try (InputStream in = Files.newInputStream(classesRoot().resolve("module-info.class"))) {
            return ModuleDescriptor.read(in, () -> packages);
        }
    }

    private static Set<String> exportedPackages() throws Exception {
        return descriptor().exports().stream().map(ModuleDescriptor.Exports::source).collect(Collectors.toSet());
    }

    /**
     * {@code module-info} exports the API packages ({@code io.kdefer}, {@code io.kdefer.softirq},
     * {@code io.kdefer.tasklet}, and each later mechanism's package) to everyone, and nothing else:
     * {@code io.kdefer.internal} stays inside, nothing is opened, and the module depends on JDK
     * modules only (no CLI, bench or third-party module).
     */
    @Test
    void moduleExportsOnlyTheApiPackages() throws Exception {
        ModuleDescriptor md = descriptor();
        Set<String> packages = packages();
        Set<String> api = packages.stream().filter(p -> !isInternal(p)).collect(Collectors.toCollection(TreeSet::new));

        assertThat(md.name()).isEqualTo("io.kdefer.core");
        assertThat(packages).contains(INTERNAL);
        assertThat(api).containsAll(API_BASELINE);
        assertThat(exportedPackages()).containsExactlyInAnyOrderElementsOf(api);
        assertThat(md.exports()).allSatisfy(e -> assertThat(e.isQualified()).as(e.source()).isFalse());
        assertThat(md.isOpen()).isFalse();
        assertThat(md.opens()).isEmpty();
        assertThat(md.requires()).extracting(ModuleDescriptor.Requires::name)
                .allSatisfy(name -> assertThat(name).matches("(java|jdk)\\..+"));
    }

    // ------------------------------------------------------------------ Unsafe

    /**
     * No class of kdefer-core names {@code sun.misc.Unsafe} or {@code jdk.internal.misc.Unsafe}:
     * neither as a type in its constant pool ({@code sun/misc/Unsafe}) nor as a string for
     * reflection ({@code sun.misc.Unsafe}). The search is checked on a name that is known to be
     * there ({@code java/lang/invoke/VarHandle} in {@code Cpu}).
     */
    @Test
    void noClassReferencesUnsafe() throws Exception {
        Path root = classesRoot();
        List<Path> files = classFiles();
        assertThat(files).hasSizeGreaterThan(10);
        List<String> offenders = new ArrayList<>();
        for (Path f : files) {
            byte[] bytes = Files.readAllBytes(f);
            for (String needle : new String[] {"sun/misc/Unsafe", "sun.misc.Unsafe",
                    "jdk/internal/misc/Unsafe", "jdk.internal.misc.Unsafe"}) {
                if (contains(bytes, needle)) {
                    offenders.add(className(root, f) + " mentions " + needle);
                }
            }
        }
        assertThat(offenders).isEmpty();

        byte[] cpu = Files.readAllBytes(root.resolve("io/kdefer/internal/Cpu.class"));
        assertThat(contains(cpu, "java/lang/invoke/VarHandle")).as("the search finds a known reference").isTrue();
    }

    private static boolean contains(byte[] haystack, String needle) {
        byte[] n = needle.getBytes(StandardCharsets.US_ASCII);
        outer:
        for (int i = 0; i + n.length <= haystack.length; i++) {
            for (int j = 0; j < n.length; j++) {
                if (haystack[i + j] != n[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    // ------------------------------------------------------------------ exported signatures

    /**
     * No public or protected member of a type that other modules can see (public classes of the
     * exported packages, and their public or protected nested types) mentions an
     * {@code io.kdefer.internal} type: supertypes, type-parameter bounds, fields, constructor and
     * method parameters, return types and declared exceptions, generics included. The walker is
     * checked on an internal signature that does mention one.
     */
    @Test
    void exportedSignaturesDoNotMentionInternalTypes() throws Exception {
        Path root = classesRoot();
        Set<String> exported = exportedPackages();
        ClassLoader loader = Kernel.class.getClassLoader();
        List<String> leaks = new ArrayList<>();
        Set<String> checked = new TreeSet<>();
        for (Path f : classFiles()) {
            String name = className(root, f);
            if (!exported.contains(packageOf(name))) {
                continue;
            }
            Class<?> c = Class.forName(name, false, loader);
            if (!visibleOutside(c)) {
                continue;
            }
            checked.add(c.getName());
            leaks.addAll(leaksOf(c));
        }
        assertThat(checked).contains(Kernel.class.getName(), ManualClock.class.getName(),
                KernelStats.Counter.class.getName(), "io.kdefer.softirq.Softirqs", "io.kdefer.tasklet.Tasklet");
        assertThat(leaks).isEmpty();

        Method context = KernelRuntime.class.getMethod("context");
        assertThat(internalTypesIn(context.getGenericReturnType())).as("walker sanity check")
                .containsExactly("io.kdefer.internal.CpuContext");
    }

    /** Public, or protected, at every level of nesting. */
    private static boolean visibleOutside(Class<?> c) {
        if (c.isAnonymousClass() || c.isLocalClass() || c.isSynthetic()) {
            return false;
        }
        int m = c.getModifiers();
        if (!Modifier.isPublic(m) && !Modifier.isProtected(m)) {
            return false;
        }
        return c.getDeclaringClass() == null || visibleOutside(c.getDeclaringClass());
    }

    private static boolean visible(Member m) {
        return !m.isSynthetic() && (Modifier.isPublic(m.getModifiers()) || Modifier.isProtected(m.getModifiers()));
    }

    private static List<String> leaksOf(Class<?> c) {
        List<String> out = new ArrayList<>();
        String owner = c.getName();
        report(out, owner + " extends", c.getGenericSuperclass());
        for (Type t : c.getGenericInterfaces()) {
            report(out, owner + " implements", t);
        }
        for (TypeVariable<?> v : c.getTypeParameters()) {
            report(out, owner + "<" + v.getName() + ">", v);
        }
        for (Field f : c.getDeclaredFields()) {
            if (visible(f)) {
                report(out, owner + "." + f.getName(), f.getGenericType());
            }
        }
        for (Constructor<?> k : c.getDeclaredConstructors()) {
            if (visible(k)) {
                reportExecutable(out, owner + ".<init>", k);
            }
        }
        for (Method m : c.getDeclaredMethods()) {
            if (visible(m) && !m.isBridge()) {
                report(out, owner + "." + m.getName() + " returns", m.getGenericReturnType());
                reportExecutable(out, owner + "." + m.getName(), m);
            }
        }
        return out;
    }

    private static void reportExecutable(List<String> out, String where, Executable e) {
        for (Type t : e.getGenericParameterTypes()) {
            report(out, where + " parameter", t);
        }
        for (Type t : e.getGenericExceptionTypes()) {
            report(out, where + " throws", t);
        }
        for (TypeVariable<?> v : e.getTypeParameters()) {
            report(out, where + "<" + v.getName() + ">", v);
        }
    }

    private static void report(List<String> out, String where, Type t) {
        if (t == null) {
            return;
        }
        for (String internal : internalTypesIn(t)) {
            out.add(where + " mentions " + internal);
        }
    }

    /** The {@code io.kdefer.internal} classes named anywhere in {@code t}. */
    private static Set<String> internalTypesIn(Type t) {
        Set<String> found = new TreeSet<>();
        collect(t, found, new HashSet<>());
        return found;
    }

    private static void collect(Type t, Set<String> found, Set<Type> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        if (t instanceof Class) {
            Class<?> c = (Class<?>) t;
            while (c.isArray()) {
                c = c.getComponentType();
            }
            if (!c.isPrimitive() && isInternal(c.getPackageName())) {
                found.add(c.getName());
            }
        } else if (t instanceof ParameterizedType) {
            ParameterizedType p = (ParameterizedType) t;
            collect(p.getRawType(), found, seen);
            collect(p.getOwnerType(), found, seen);
            for (Type a : p.getActualTypeArguments()) {
                collect(a, found, seen);
            }
        } else if (t instanceof GenericArrayType) {
            collect(((GenericArrayType) t).getGenericComponentType(), found, seen);
        } else if (t instanceof WildcardType) {
            WildcardType w = (WildcardType) t;
            for (Type b : w.getUpperBounds()) {
                collect(b, found, seen);
            }
            for (Type b : w.getLowerBounds()) {
                collect(b, found, seen);
            }
        } else if (t instanceof TypeVariable) {
            for (Type b : ((TypeVariable<?>) t).getBounds()) {
                collect(b, found, seen);
            }
        }
    }
}

package example;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's "Testing your own handler" example is {@link NicHandlerTest}, line for line. */
class ReadmeExampleTest {

    private static String classBody(String text) {
        int start = text.indexOf("@KdeferTest(cpus = 2)\nclass NicHandlerTest {");
        assertThat(start).as("the example class").isNotNegative();
        int end = text.indexOf("\n}\n", start);
        return text.substring(start, end + 2);
    }

    @Test
    void theReadmeShowsTheCompiledExample() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        String source = Files.readString(Path.of("src", "test", "java", "example", "NicHandlerTest.java"));
        assertThat(classBody(readme)).isEqualTo(classBody(source));
    }
}

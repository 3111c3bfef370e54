// Runs several pulsar-admin commands in one JVM (a JVM start costs seconds), printing each command's stdout
// followed by a line holding only the marker and the exit code. Launched as a single-file source program:
//   java -cp <pulsar-admin classpath> Batch.java <commands file>
// where each line of the commands file is one command's arguments separated by tabs.
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

public class Batch {
  public static void main(String[] args) throws Exception {
    Class<?> tool = Class.forName("org.apache.pulsar.admin.cli.PulsarAdminTool");
    Field allowExit = tool.getDeclaredField("allowSystemExit");
    allowExit.setAccessible(true);
    allowExit.setBoolean(null, false);
    Field lastExitCode = tool.getDeclaredField("lastExitCode");
    lastExitCode.setAccessible(true);
    Method execute = tool.getMethod("execute", String[].class);
    PrintStream out = System.out;
    for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
      if (line.isEmpty()) continue;
      ByteArrayOutputStream captured = new ByteArrayOutputStream();
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      try {
        execute.invoke(null, (Object) line.split("\t"));
      } catch (Exception e) {
        e.printStackTrace();
      } finally {
        System.out.flush();
        System.setOut(out);
      }
      String text = captured.toString(StandardCharsets.UTF_8);
      // Without System.exit, the tool reports its exit code on stdout: not part of what a user sees.
      text = text.replaceAll("(?m)^Exit code is .*\\R?\\z", "");
      out.print(text);
      out.println("\u0001END " + lastExitCode.getInt(null));
      out.flush();
    }
    System.exit(0);
  }
}

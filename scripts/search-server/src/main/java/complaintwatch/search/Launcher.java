package complaintwatch.search;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.ComplaintwatchNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Starts one Elasticsearch 8 node on the loopback interface.
 *
 * <pre>java -cp classes:lib/* complaintwatch.search.Launcher HOME HTTP_PORT</pre>
 */
public final class Launcher {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Launcher HOME HTTP_PORT");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        for (String d : List.of("config", "data", "logs", "plugins", "modules")) {
            Files.createDirectories(home.resolve(d));
        }
        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "complaintwatch-local")
            .put("node.name", "complaintwatch-1")
            .put("network.host", "127.0.0.1")
            .put("http.port", args[1])
            .put("transport.port", "9300-9399")
            .put("discovery.type", "single-node")
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            // a test box with a nearly full disk must not turn indices read-only
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();
        LogConfigurator.configureESLogging();
        LogConfigurator.configureWithoutConfig(settings);
        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Collections.emptyMap(), null, () -> "complaintwatch-1");
        Node node = new ComplaintwatchNode(env, List.of(Netty4Plugin.class, LanguageAnalysisPlugin.class));
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                done.countDown();
            }
        }, "complaintwatch-shutdown"));
        node.start();
        System.out.println("complaintwatch search node started on http://127.0.0.1:" + args[1]);
        done.await();
    }
}

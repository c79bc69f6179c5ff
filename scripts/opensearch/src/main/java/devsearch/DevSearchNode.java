package devsearch;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * Starts ONE embedded OpenSearch node for development and tests.
 *
 * <p>Why not OpenSearchRunner.main()? It cannot pass node settings (we need
 * single-node discovery, a loopback bind and the disk threshold off), it names
 * the HTTP port baseHttpPort + 1 and silently moves to the next free port when
 * that one is busy, and on any startup error it calls System.exit(1) without
 * printing anything. This launcher keeps the runner (which wires the modules
 * in as classpath plugins) but fixes those three things.
 *
 * <p>Configured with system properties (set by scripts/search-engine.sh):
 * <ul>
 *   <li>devsearch.home: base dir; config/, data/, logs/ go below it (required)</li>
 *   <li>devsearch.http.port: HTTP port (default 9200), bound exactly or fail</li>
 *   <li>devsearch.host: bind address (default 127.0.0.1)</li>
 *   <li>devsearch.cluster.name: cluster name (default "dev-search")</li>
 *   <li>devsearch.node.name: node name (default "dev-node")</li>
 *   <li>devsearch.transport.port: transport port (default: the first free
 *       one from 9300)</li>
 *   <li>devsearch.seed.hosts: comma-separated host:transport-port of the
 *       cluster's nodes; unset = single-node discovery (the default), set =
 *       the node joins or forms a cluster with them</li>
 *   <li>devsearch.initial.managers: comma-separated node names that may be
 *       elected cluster manager when the cluster first forms (with seed hosts)</li>
 * </ul>
 */
public final class DevSearchNode {

    private DevSearchNode() {
    }

    public static void main(final String[] args) {
        final String home = System.getProperty("devsearch.home");
        if (home == null || home.isEmpty()) {
            System.err.println("devsearch.home system property is required");
            System.exit(2);
        }
        final Path base = Paths.get(home).toAbsolutePath();
        final int httpPort = Integer.getInteger("devsearch.http.port", 9200);
        final String host = System.getProperty("devsearch.host", "127.0.0.1");
        final String clusterName = System.getProperty("devsearch.cluster.name", "dev-search");
        final String nodeName = System.getProperty("devsearch.node.name", "dev-node");
        final String transportPort = System.getProperty("devsearch.transport.port", "");
        final String seedHosts = System.getProperty("devsearch.seed.hosts", "");
        final String initialManagers = System.getProperty("devsearch.initial.managers", "");

        final OpenSearchRunner runner = new OpenSearchRunner();
        // -1 = don't probe for a "free" port; we set http.port ourselves and
        // want a bind error rather than a node silently listening elsewhere.
        runner.setMaxHttpPort(-1);
        runner.onBuild((index, settings) -> {
            settings.put("http.port", String.valueOf(httpPort));
            // Loopback only: this is a dev/test node without security plugin.
            settings.put("network.host", host);
            if (seedHosts.isEmpty()) {
                // One node, no cluster formation/bootstrap wait (and no
                // production bootstrap checks, which the embedded node skips anyway).
                settings.put("discovery.type", "single-node");
            } else {
                // A cluster on loopback: the nodes find each other at their
                // transport ports; the first election needs a majority of
                // the initial cluster-manager-eligible nodes.
                settings.putList("discovery.seed_hosts", seedHosts.split(","));
                if (!initialManagers.isEmpty()) {
                    settings.putList("cluster.initial_cluster_manager_nodes", initialManagers.split(","));
                }
            }
            if (!transportPort.isEmpty()) {
                settings.put("transport.port", transportPort);
            }
            // A nearly-full dev disk must not flip indices read-only or block
            // shard allocation (would make index creation hang at red).
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
            settings.put("node.name", nodeName);
            // (cluster.default_number_of_replicas is read from the cluster
            // state, not node settings: search-engine.sh sets it via the API.)
            // With a 1g heap the "real memory" parent breaker (95% of heap,
            // GC-lag sensitive) can reject bulk requests in test bursts;
            // account only for tracked allocations instead.
            settings.put("indices.breaker.total.use_real_memory", "false");
        });

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (final IOException | RuntimeException e) {
                System.err.println("error while closing node: " + e);
            }
        }, "devsearch-shutdown"));

        try {
            // -confPath/-dataPath/-logsPath put config/, data/, logs/ directly
            // under base (otherwise they'd be base/node_1/...; node_1/ still
            // holds the empty modules/ and plugins/ dirs the Node expects).
            runner.build(
                    "-basePath", base.toString(),
                    "-confPath", base.resolve("config").toString(),
                    "-dataPath", base.resolve("data").toString(),
                    "-logsPath", base.resolve("logs").toString(),
                    "-numOfNode", "1",
                    // Only affects the runner's banner ("HTTP Port: N+1");
                    // the real port is the http.port setting above.
                    "-baseHttpPort", String.valueOf(httpPort - 1),
                    "-clusterName", clusterName);
        } catch (final Throwable t) {
            // The runner's own main() swallows this; we want it in the log,
            // and the cause chain as the LAST lines so `tail` shows it.
            t.printStackTrace();
            System.err.println("OpenSearch node failed to start:");
            for (Throwable c = t; c != null; c = c.getCause()) {
                System.err.println("  caused by " + c);
            }
            System.exit(1);
        }

        // Keep the JVM alive while the node runs (node threads are daemons
        // in some code paths). Stop = SIGTERM -> shutdown hook closes node.
        try {
            while (!runner.isClosed()) {
                Thread.sleep(2000);
            }
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package org.elasticsearch.node;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.MockPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

import java.util.Collection;

/**
 * A {@link Node} whose plugins are classes on the classpath instead of the
 * distribution's modules/ and plugins/ folders (which are not on Maven Central).
 * Lives in this package because the plugin-service hook is package-private.
 */
public class ComplaintwatchNode extends Node {
    public ComplaintwatchNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(env, null, new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment environment, PluginsLoader loader) {
                return new MockPluginsService(environment.settings(), environment, plugins);
            }
        }, false));
    }
}

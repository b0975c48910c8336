package complaintwatch.search;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.ru.RussianAnalyzer;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

import java.util.Map;
import java.util.function.Supplier;

/**
 * The "russian" and "english" analyzers that a full distribution gets from its
 * analysis-common module (not published on Maven Central): the same Lucene
 * analyzers, so index templates written for a real cluster work here unchanged.
 */
public class LanguageAnalysisPlugin extends Plugin implements AnalysisPlugin {
    private static AnalysisProvider<AnalyzerProvider<? extends Analyzer>> provider(Supplier<Analyzer> make) {
        return (indexSettings, env, name, settings) -> new AbstractIndexAnalyzerProvider<Analyzer>(name, settings) {
            private final Analyzer analyzer = make.get();

            @Override
            public Analyzer get() {
                return analyzer;
            }
        };
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of("russian", provider(RussianAnalyzer::new), "english", provider(EnglishAnalyzer::new));
    }
}

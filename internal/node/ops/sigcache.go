package ops

import (
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	sigCacheHitsDesc = prometheus.NewDesc("chorus_signature_cache_hits_total",
		"Signature verifications answered from the node's cache of signatures already verified.", nil, nil)
	sigCacheMissesDesc = prometheus.NewDesc("chorus_signature_cache_misses_total",
		"Signature verifications the node computed (ECDSA or Ed25519 arithmetic).", nil, nil)
	sigCacheEvictionsDesc = prometheus.NewDesc("chorus_signature_cache_evictions_total",
		"Verified signatures forgotten to keep the cache within its capacity.", nil, nil)
	sigCacheEntriesDesc = prometheus.NewDesc("chorus_signature_cache_entries",
		"Verified signatures the cache holds now.", nil, nil)
	sigKeyTablesDesc = prometheus.NewDesc("chorus_signature_key_tables",
		"Public keys whose precomputed multiples the node holds to verify their signatures faster.", nil, nil)
	sigKeyTablesBuiltDesc = prometheus.NewDesc("chorus_signature_key_tables_built_total",
		"Tables of a public key's multiples the node computed, including those evicted since.", nil, nil)
)

// SignatureCacheCollector exports a node's signature cache counters,
// read at each scrape. Register it once per cache.
func SignatureCacheCollector(c *identity.SignatureCache) prometheus.Collector {
	return sigCacheCollector{c}
}

type sigCacheCollector struct{ cache *identity.SignatureCache }

func (s sigCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sigCacheHitsDesc
	ch <- sigCacheMissesDesc
	ch <- sigCacheEvictionsDesc
	ch <- sigCacheEntriesDesc
	ch <- sigKeyTablesDesc
	ch <- sigKeyTablesBuiltDesc
}

func (s sigCacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := s.cache.Stats()
	ch <- prometheus.MustNewConstMetric(sigCacheHitsDesc, prometheus.CounterValue, float64(st.Hits))
	ch <- prometheus.MustNewConstMetric(sigCacheMissesDesc, prometheus.CounterValue, float64(st.Misses))
	ch <- prometheus.MustNewConstMetric(sigCacheEvictionsDesc, prometheus.CounterValue, float64(st.Evictions))
	ch <- prometheus.MustNewConstMetric(sigCacheEntriesDesc, prometheus.GaugeValue, float64(st.Len))
	ch <- prometheus.MustNewConstMetric(sigKeyTablesDesc, prometheus.GaugeValue, float64(st.KeyTables))
	ch <- prometheus.MustNewConstMetric(sigKeyTablesBuiltDesc, prometheus.CounterValue, float64(st.KeyTablesBuilt))
}

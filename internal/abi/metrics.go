package abi

// NamespaceMetrics: guest counters, gauges and histograms, served by
// hostapi/metrics when the embedder registers it.
const NamespaceMetrics = "ward_metrics"

// PermMetrics: creating metric instruments and label sets (ward_metrics),
// granted by the ward_metrics configuration of the environment.
const PermMetrics Permission = "metrics"

// MaxMetricNameLen bounds the name of a guest's metric instrument.
const MaxMetricNameLen = 128

// MaxMetricLabelsSize bounds the encoded labels of one label set
// (ward_metrics.labels).
const MaxMetricLabelsSize = 1024

// MaxMetricLabels bounds the labels (key=value pairs) of one label set.
const MaxMetricLabels = 16

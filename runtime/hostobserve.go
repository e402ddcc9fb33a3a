package runtime

import "time"

// WithHostCallObserver has observe called after each call of a host
// module's function (package hostapi: third parties' modules and ward's
// own hosted ones, such as ward_metrics), with the function's
// "namespace.name" and how long its handler took, on the calling
// process's goroutine; observe must not block. Without it the calls pay
// one nil check. ward's built-in namespaces (ward_process, ward_message,
// ward_registry, ward_module, ward_environment) and WASI are not
// observed, though the last three are served on the host modules' path:
// their hot paths run in C in about 11 ns, which two clock reads would
// double, and all of them are timed alike or none. Package hostapi/metrics
// exports these durations as a histogram (metrics.HostCallDuration).
func WithHostCallObserver(observe func(function string, d time.Duration)) Option {
	return func(o *options) { o.hostCallObserver = observe }
}

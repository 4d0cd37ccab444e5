// Package ops is a node's operations endpoint: the HTTP listener that
// monitoring and operators talk to, and the certificate expiry watch whose
// metrics it serves.
//
// # Endpoints
//
//	GET /metrics   Prometheus metrics of the node's registry
//	GET /healthz   liveness: 200 unless a health check fails, else 503
//	GET /readyz    readiness: 200 only when every readiness check passes, else 503
//	GET /version   the build, as JSON
//	GET /logspec   the log level, as {"level":"info"}
//	PUT /logspec   change the log level: {"level":"debug"}
//
// /healthz and /readyz answer JSON naming every check and its state:
//
//	{"status":"not ready","checks":{"channel mychannel":"catching up: height 12 of 40","raft":"ok"}}
//
// Checks run concurrently on each request, each bounded by
// Options.CheckTimeout; a check that panics or overruns fails. Liveness is
// for "restart me" (a wedged disk, a dead goroutine); readiness is for "send
// me traffic" (joined channels caught up, a Raft leader known). /readyz does
// not run the health checks: a probe of each is configured separately.
//
// PUT /logspec changes what the whole process logs. It is accepted from a
// loopback address (including through kubectl port-forward) or from a
// client that presented a certificate the TLS configuration verified;
// anyone else gets 403. The other endpoints only read.
//
// The listener serves plain HTTP unless Options.TLS is set; plain HTTP on an
// address other than loopback is logged as a warning at start.
//
// # Certificates
//
// WatchCertificates exports, for each certificate file a node uses,
//
//	chorus_certificate_expiry_timestamp_seconds{name="tls"}  NotAfter as a Unix time
//	chorus_certificate_expiry_seconds_remaining{name="tls"}  seconds until NotAfter, at scrape time
//
// and logs a warning once a day while a certificate is within the warning
// period of its expiry, and an error once a day after it expired. It reads
// the files again every interval, so a renewal is noticed (and logged)
// without a restart.
//
// # Concurrency
//
// Operations serves each request on the http.Server's goroutines; Serve
// blocks the caller until Shutdown. Checks may be added and removed at any
// time from any goroutine. WatchCertificates starts one goroutine that
// ends when its context is done. The package has no global mutable state:
// the registry, the logger and the level are injected.
package ops

// Package mediatest holds media helpers for tests and benchmarks: the
// sample objects the events in events/ name, and a streaming multipart sink.
// Only tests import it (it is internal, and no production package does).
package mediatest

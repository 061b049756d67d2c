// Package mediatest is the one place sample media are made: synthetic
// files of any size that media.Detect reads as a format (Sample,
// SampleReader), small real pictures (JPEG, PNG), the objects the events
// in events/ name (Objects), and a streaming multipart sink for
// benchmarks' stand-ins for WeChat.
//
// Tests, benchmarks and the local runner (cmd/local) import it; the
// functions never link it (internal/layout checks that).
package mediatest

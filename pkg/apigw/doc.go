// Package apigw turns API Gateway HTTP API events (payload format 2.0) into
// *http.Request values and http.Handler responses back into events, so that
// one http.Handler serves both Lambda and a local HTTP server.
//
// The adapter mirrors what net/http's server does where the two could
// differ: headers are snapshotted when the status is written, a missing
// Content-Type is sniffed from the body, bodies are not allowed on 204 and
// 304, and the request carries an exact ContentLength and no Host header.
package apigw

// Package localaws serves the two AWS services wxmedia uses, in memory, for
// local runs and tests without AWS or Docker:
//
//   - S3 (gofakes3 with its in-memory backend, path-style addressing, any
//     credentials) that, like S3 event notifications, calls a function with
//     the same events.S3Event S3 would send to Lambda when an object is
//     created under a configured prefix;
//   - a Secrets Manager endpoint for GetSecretValue (the JSON protocol the
//     AWS SDKs and CLI speak), holding the secrets put into it.
//
// Both are http.Handlers: serve them with net/http or httptest and point
// the SDK at them with AWS_ENDPOINT_URL_S3 and
// AWS_ENDPOINT_URL_SECRETS_MANAGER, as the functions read them when
// deployed. EventJSON builds the S3 notification JSON on its own, for
// events fed to a function by other means (a Lambda emulator).
package localaws

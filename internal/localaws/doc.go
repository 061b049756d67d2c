// Package localaws serves the AWS services make local embeds, in memory,
// for local runs and tests without AWS or Docker:
//
//   - S3 (gofakes3 with its in-memory backend, path-style addressing, any
//     credentials), answering conditional requests as S3 does and taking
//     browser-based POST uploads (presigned forms) checked against their
//     policy, that, like S3 event notifications, calls a function with the
//     same events.S3Event S3 would send to Lambda when an object is
//     created under a configured prefix;
//   - a Secrets Manager endpoint for GetSecretValue (the JSON protocol the
//     AWS SDKs and CLI speak), holding the secrets put into it;
//   - an EventBridge endpoint for PutEvents that keeps the events published
//     as a rule's target would receive them;
//   - a DynamoDB endpoint (GetItem, PutItem, DeleteItem, DescribeTable)
//     over internal/memdynamo: the stack's table (the ledger's claims, the
//     media_id index, the platform's tokens);
//   - Lambda's asynchronous invocation of an S3-triggered function (Async):
//     two retries, then the failed-events queue, and its redrive.
//
// Each is an http.Handler: serve it with net/http or httptest and point
// the SDK at it with AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_SECRETS_MANAGER,
// AWS_ENDPOINT_URL_EVENTBRIDGE or AWS_ENDPOINT_URL_DYNAMODB, as the
// functions read them when deployed. EventJSON builds the S3 notification JSON on its own, for
// events fed to a function by other means (a Lambda emulator); the state
// file (WriteState, ReadState) tells make invoke where a running make
// local serves them.
package localaws

// Package rie runs a Lambda function's bootstrap under the AWS Lambda
// Runtime Interface Emulator (aws-lambda-rie, the emulator inside SAM's
// images and Lambda's base images), as cmd/invoke and cmd/benchreport do.
//
// Start launches the emulator around a bootstrap built for this machine,
// on two free 127.0.0.1 ports: the invoke API the caller posts to, and the
// runtime API the bootstrap polls. The latter matters: the emulator's
// default, 127.0.0.1:9001, is the port of make local's Secrets Manager.
// Start returns once the emulator listens. The bootstrap itself is started
// by the emulator at the first invocation, as Lambda does on a cold start.
//
// Invoke posts one event to /2015-03-31/functions/function/invocations and
// answers what the emulator said, with the durations it logged for that
// invocation: INIT REPORT(durationMs) when the invocation started the
// runtime (the REPORT line's "Init Duration" times only the start of an
// asynchronous init), and INVOKE RTDONE's duration. A function that failed
// answers a *FunctionError besides its Result: the emulator reports a
// returned error or a panic as HTTP 200 with {"errorType","errorMessage"},
// a timeout as 200 with "Task timed out after …", and a crashed runtime as
// a 5xx.
//
// Close stops the emulator and the bootstrap it started (on Unix, its
// whole process group).
//
//	em, err := rie.Start(ctx, rie.Options{Bootstrap: "/tmp/fn/bootstrap", Env: env})
//	if err != nil {
//		return err
//	}
//	defer em.Close()
//	res, err := em.Invoke(ctx, event)
//	var fe *rie.FunctionError
//	switch {
//	case errors.As(err, &fe): // the function failed; res.Body is Lambda's error document
//	case err != nil: // no answer
//	}
package rie

package rie_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/wxmedia/wxmedia/internal/rie"
)

// A function's bootstrap under the emulator, invoked once.
func ExampleStart() {
	ctx := context.Background()
	em, err := rie.Start(ctx, rie.Options{
		Binary:    ".bin/aws-lambda-rie",
		Bootstrap: "/tmp/upload/bootstrap", // go build -tags lambda.norpc ./functions/upload
		Env:       append(os.Environ(), "AWS_LAMBDA_FUNCTION_TIMEOUT=60"),
		Log:       os.Stderr, // START, END, REPORT and the function's logs
	})
	if err != nil {
		log.Fatal(err)
	}
	defer em.Close()

	res, err := em.Invoke(ctx, []byte(`{"Records":[]}`))
	var fe *rie.FunctionError
	switch {
	case errors.As(err, &fe):
		fmt.Printf("the function failed: %s\n", fe.Type)
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Printf("%s (init %v, invoke %v)\n", res.Body, res.Init, res.Duration)
	}
}

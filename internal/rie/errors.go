package rie

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// FunctionError is a failed invocation, as Lambda reports it: the
// function's error or panic, Sandbox.Timedout, Runtime.ExitError for a
// runtime that crashed, or Emulator.HTTP<status> for another answer that
// is not the function's.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// functionError tells a failed invocation from an answer. The emulator
// answers a function's error with HTTP 200 and {"errorType","errorMessage"}
// (what Lambda's Invoke API returns with X-Amz-Function-Error), a timeout
// with 200 and "Task timed out…", and a crash with a 5xx.
func functionError(status int, body []byte) *FunctionError {
	trimmed := bytes.TrimSpace(body)
	if bytes.HasPrefix(trimmed, []byte("Task timed out")) {
		return &FunctionError{Type: "Sandbox.Timedout", Message: string(trimmed)}
	}
	var e FunctionError
	if json.Unmarshal(trimmed, &e) == nil && (e.Type != "" || e.Message != "") {
		if e.Type == "" {
			e.Type = "Unhandled"
		}
		return &e
	}
	if status != http.StatusOK {
		msg := string(trimmed)
		if msg == "" {
			msg = http.StatusText(status)
		}
		return &FunctionError{Type: fmt.Sprintf("Emulator.HTTP%d", status), Message: msg}
	}
	return nil
}

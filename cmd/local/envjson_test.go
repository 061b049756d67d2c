package main

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/tracing"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// events/env.json (sam local invoke --env-vars) points the functions, in
// SAM's container, at what `LOCAL_HOST=0.0.0.0 make local` runs on the
// machine: its ports by default, its bucket and secret, through
// host.docker.internal. The functions take it as they stand.
func TestEnvJSONPointsAtMakeLocal(t *testing.T) {
	b, err := os.ReadFile("../../events/env.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Parameters map[string]string }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("events/env.json: %v", err)
	}
	st, err := resolve(lookupIn(map[string]string{EnvHost: "0.0.0.0"}))
	if err != nil {
		t.Fatal(err)
	}
	at := func(port int) string { return fmt.Sprintf("http://%s:%d", wechat.ContainerHost, port) }
	want := map[string]string{
		bootstrap.EnvBucket:     st.bucket,
		bootstrap.EnvSecretID:   st.secretID,
		bootstrap.EnvWeChatBase: at(st.wechatPort),
		EnvS3Endpoint:           at(st.s3Port),
		EnvSMEndpoint:           at(st.smPort),
		EnvEBEndpoint:           at(st.apiPort) + EventBridgePath, // the completion events, on the API's port
		tracing.EnvTracing:      "PassThrough",                    // no X-Ray daemon beside sam local
		bootstrap.EnvTokenTable: "",                               // in sam local's containers the platform's tokens stay in process
	}
	for k, v := range want {
		if got := f.Parameters[k]; got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	for k := range f.Parameters {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: not one make local serves", k)
		}
	}
	if _, err := bootstrap.FromEnv(func(k string) string { return f.Parameters[k] }); err != nil {
		t.Errorf("the functions refuse events/env.json: %v", err)
	}
}

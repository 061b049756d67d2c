package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

// claimState checks that no other make local still running holds st's
// state file: one per API port, so only a shared WXMEDIA_LOCAL_STATE can
// clash, and then the second refuses to start rather than take the
// first's file.
func claimState(st settings) error {
	path := localaws.StatePath(os.Getenv, st.apiPort)
	s, err := localaws.ReadState(path)
	if err != nil || s.PID == os.Getpid() || !localaws.ProcessAlive(s.PID) {
		return nil // none, not one, or its make local is gone: ours to take
	}
	if s.API == st.apiURL() {
		return fmt.Errorf("a make local (pid %d) already serves %s: stop it, or start this one on other ports, e.g. %s=%d make local (it moves every port by as much)",
			s.PID, s.API, EnvPort, suggestPort(st.host, st.apiPort))
	}
	return fmt.Errorf("the state file %s (%s) belongs to the make local running as pid %d (API %s): stop it, or give this one a file of its own, e.g. %s=%s",
		path, localaws.EnvState, s.PID, s.API, localaws.EnvState, strings.TrimSuffix(path, ".json")+"-2.json")
}

// announce writes the state file for st, and returns what removes it on a
// clean stop, if it is still this process's. A file that cannot be
// written is a warning: make invoke then does not find this make local
// (and says so, rather than guess its ports).
func announce(st settings, stderr io.Writer) (remove func()) {
	path := localaws.StatePath(os.Getenv, st.apiPort)
	endpoint := func(u string) string {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			return u
		}
		return "" // AWS's own, e.g. "AWS Secrets Manager"
	}
	s := localaws.State{PID: os.Getpid(), API: st.apiURL(), S3: endpoint(st.s3URL),
		SecretsManager: endpoint(st.smURL), EventBridge: endpoint(st.ebURL), WeChat: endpoint(st.wxURL), Bucket: st.bucket, SecretID: st.secretID,
		DynamoDB: endpoint(st.ddbURL), TokenTable: st.tokenTable}
	if err := localaws.WriteState(path, s); err != nil {
		fmt.Fprintf(stderr, "local: warning: %v (make invoke will not find this make local by itself)\n", err)
		return func() {}
	}
	return func() {
		if now, err := localaws.ReadState(path); err == nil && now.PID == os.Getpid() {
			os.Remove(path)
		}
	}
}

package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

// announce writes the state file for st, and returns what removes it on a
// clean stop, if it is still this process's (another `make local` may
// have written its own since). A file that cannot be written is a warning:
// make invoke then falls back to the default ports.
func announce(st settings, stderr io.Writer) (remove func()) {
	path := localaws.StatePath(os.Getenv)
	endpoint := func(u string) string {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			return u
		}
		return "" // AWS's own, e.g. "AWS Secrets Manager"
	}
	s := localaws.State{PID: os.Getpid(), API: st.apiURL(), S3: endpoint(st.s3URL),
		SecretsManager: endpoint(st.smURL), EventBridge: endpoint(st.ebURL), WeChat: endpoint(st.wxURL), Bucket: st.bucket, SecretID: st.secretID}
	if err := localaws.WriteState(path, s); err != nil {
		fmt.Fprintf(stderr, "local: warning: %v (make invoke will not find these ports by itself)\n", err)
		return func() {}
	}
	return func() {
		if now, err := localaws.ReadState(path); err == nil && now.PID == os.Getpid() {
			os.Remove(path)
		}
	}
}

// Package reliability holds the tests of the whole service's promises
// under faults: the fault matrix (WeChat, Secrets Manager, S3, the
// deadline), nothing lost (every object ends with exactly one result, and a
// duplicate delivery uploads nothing), nothing leaked (no access token or
// AppSecret in any log, error or answer), and concurrency (one token fetch
// for a cold container under load). It has no runtime code.
package reliability

import (
	"testing"

	"github.com/wxmedia/wxmedia/internal/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

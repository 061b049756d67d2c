package reliability

import (
	"os"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/awstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awstest.Stop()
	os.Exit(code)
}

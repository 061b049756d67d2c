package transfer_test

import (
	"testing"

	"github.com/wxmedia/wxmedia/internal/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

package config_test

import (
	"testing"

	"github.com/wxmedia/wxmedia/pkg/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

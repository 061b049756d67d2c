package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// An operator registers an authorizer's refresh token from standard input
// into the token table of moto_server's DynamoDB; the token never shows
// in what the command prints.
func TestRegister(t *testing.T) {
	m := awstest.Start(t)
	t.Setenv("AWS_ENDPOINT_URL", m.Endpoint)
	t.Setenv("AWS_REGION", awstest.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	table := m.Table(t)
	secret := m.Secret(t, `{"component":{"appid":"wx-op-component","appsecret":"s","token":"t","encoding_aes_key":"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}}`)
	const refresh = "refreshtoken@@@CANARY"
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-appid", "wx-authorizer-1", "-table", table, "-secret", secret}, strings.NewReader(refresh+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	r, ok, err := tokentable.NewDynamo(m.DynamoDB(), table).Get(context.Background(), "refresh#wx-op-component#wx-authorizer-1")
	if err != nil || !ok || r.Value() != refresh {
		t.Fatalf("stored: %v %v %v, want the refresh token", r, ok, err)
	}
	if strings.Contains(out.String(), "CANARY") {
		t.Errorf("the refresh token is in the output: %q", out.String())
	}
	if err := run(context.Background(), []string{"-appid", "wx-authorizer-1", "-table", table, "-secret", secret}, strings.NewReader(""), &out); err == nil {
		t.Error("no refresh token on stdin: want an error")
	}
}

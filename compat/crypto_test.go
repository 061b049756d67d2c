package compat_test

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

// The platform's message crypto (pkg/wxcrypt) against an independent
// implementation, silenceper/wechat's own (util.EncryptMsg, DecryptMsg,
// Signature): what one seals the other opens, byte for byte, both ways,
// for messages of every length across the 32-byte padding.
func TestCryptoAgainstTheSDK(t *testing.T) {
	const (
		key   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
		appID = "wx-local-component"
		token = "local-component-token"
	)
	c, err := wxcrypt.New(token, key, appID)
	if err != nil {
		t.Fatal(err)
	}
	random := []byte("0123456789abcdef")
	for n := range 100 {
		msg := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		ours, err := c.WithRandom(bytes.NewReader(random)).Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := util.EncryptMsg(random, msg, appID, key)
		if err != nil {
			t.Fatal(err)
		}
		if ours != string(theirs) {
			t.Fatalf("%d bytes: ours %s, the SDK's %s", n, ours, theirs)
		}
		_, back, err := util.DecryptMsg(appID, ours, key)
		if err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("%d bytes: the SDK opened ours as %q, %v", n, back, err)
		}
		got, err := c.Decrypt(base64.StdEncoding.EncodeToString(mustDecode(t, string(theirs))))
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: we opened the SDK's as %q, %v", n, got, err)
		}
	}
	enc, _ := c.Encrypt([]byte("<xml/>"))
	if ours, theirs := c.Signature("1700000000", "nonce", enc), util.Signature(token, "1700000000", "nonce", enc); ours != theirs {
		t.Errorf("msg_signature: ours %s, the SDK's %s", ours, theirs)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
